"""Bad input in the data layer, each kind at every entry point: damaged SQLite files, out-of-bound and
malformed snapshots, sample-data arguments and kills, db init intervals, time zones, damaged zips, LOBSTER
rules (one validation for replay, import and the source), exit codes, DSN masking, value formatting."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lobkit.data.books import clean
from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.lobster import import_lobster, read_lobster
from lobkit.data.sample import write_sample_db
from lobkit.data.sources import first_book, open_source
from lobkit.data.sqlite import SqliteReader
from lobkit.data.stream import stream_sqlite, to_arrays
from lobkit.data.timescale import DbConfig, mask, safe_url

from .conftest import require_data

DEAD_DSN = "postgresql://postgres:pw@127.0.0.1:1/market_sim_lob"  # nothing listens on port 1
NAMES = {"items": "items", "bids": "bids", "asks": "asks", "timestamp": "timestamp", "price": "price",
         "quantity": "quantity", "item_id": "item_id"}
ROOT = Path(__file__).resolve().parents[2]


def cli(args, env=None):
    from click.testing import CliRunner

    from lobkit.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_line(res, code: int = 2) -> str:
    """The single error line of a CLI run that failed with ``code`` (no traceback, values as written)."""
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, res.output
    assert "np." not in err and "datetime." not in err, err
    return err


# ---------------------------------------------------------------------------------------------- damaged SQLite
def _damage(path: Path, part: str) -> Path:
    """Overwrite pages of a valid file with garbage (the header stays valid): ``schema`` (sqlite_master),
    ``TABLE:root`` or ``TABLE:leaf`` (a leaf in the middle of the table)."""
    con = sqlite3.connect(path)
    size = con.execute("PRAGMA page_size").fetchone()[0]
    if part == "schema":
        page, offset = 1, 100
    else:
        table, where = part.split(":")
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        page, offset = root, 0
        if where == "leaf":
            try:
                leaves = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
                                                    "ORDER BY pageno", (table,))]
                page = leaves[len(leaves) // 2]
            except sqlite3.OperationalError:  # no dbstat in this SQLite build: the root page then
                pass
    con.close()
    with path.open("r+b") as f:
        f.seek((page - 1) * size + offset)
        f.write(b"\xab" * (size - offset))
    return path


DAMAGE = ["schema", "items:root", "items:leaf", "bids:root", "bids:leaf", "asks:leaf"]


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory) -> Path:
    return write_sample_db(tmp_path_factory.mktemp("src") / "ok.db", 3000, seed=5)


def _damaged(tmp_path, clean_db, part) -> Path:
    p = tmp_path / f"corrupt-{part.replace(':', '-')}.db"
    shutil.copy(clean_db, p)
    return _damage(p, part)


def _read_all(p):
    with SqliteReader(p) as r:
        r.count()
        r.duplicate_timestamp_ids()
        for _ in r.batches(500):
            pass


@pytest.mark.parametrize("part", DAMAGE)
@pytest.mark.parametrize("entry", ["reader", "stream", "first_book", "source"])
def test_damaged_sqlite_is_one_line_naming_the_file(tmp_path, clean_db, part, entry):
    p = _damaged(tmp_path, clean_db, part)
    run = {"reader": lambda: _read_all(p),
           "stream": lambda: [f.height for f in stream_sqlite(p, chunk_size=500)],
           "first_book": lambda: first_book(p, 0.01, 1e-8),
           "source": lambda: list(open_source(f"sqlite:{p}").snapshots(chunk_size=500))}[entry]
    with pytest.raises(InputFormatError) as e:
        run()
    msg = str(e.value)
    assert msg.startswith(f"{p}: ") and "\n" not in msg
    assert "damaged" in msg or "not a readable SQLite database" in msg, msg


# ---------------------------------------------------------------------------------------------- bounds in clean()
def _file_with(tmp_path, sql: str) -> Path:
    p = write_sample_db(tmp_path / "s.db", 30, seed=2)
    con = sqlite3.connect(p)
    con.executescript(sql)
    con.commit()
    con.close()
    return p


BAD_SNAPSHOTS = [  # (SQL, rejected snapshot, (table, row, field), reason)
    ("UPDATE bids SET price = 1e300 WHERE id = 21", 2, ("bids", 21, "price"), "1e+300 is above the bound"),
    ("UPDATE asks SET quantity = 1e25 WHERE id = 41", 3, ("asks", 41, "quantity"), "1e+25 is above the bound"),
    ("UPDATE bids SET price = 1.5e12 WHERE id = 61", 4, ("bids", 61, "price"), "1500000000000.0 is above"),
    ("UPDATE asks SET price = 9e999 WHERE id = 81", 5, ("asks", 81, "price"), "finite positive number, got inf"),
    ("UPDATE bids SET price = (SELECT price FROM bids WHERE id = 101) WHERE id = 102", 6, ("bids", 102, "price"),
     "duplicate price level"),
    ("DELETE FROM bids WHERE item_id = 7; DELETE FROM asks WHERE item_id = 7", 7, ("items", 7, "bids/asks"),
     "no levels on either side"),
]


@pytest.mark.parametrize("sql,sid,where,reason", BAD_SNAPSHOTS)
def test_bad_snapshots_are_rejected_by_clean_stream_and_source(tmp_path, sql, sid, where, reason):
    p = _file_with(tmp_path, sql)
    with SqliteReader(p) as r:
        batches = [clean(raw, NAMES, r.duplicate_timestamp_ids()) for raw in r.batches(7)]
    rej = [x for b in batches for x in b.rejections]
    assert [(x.table, x.row_id, x.field) for x in rej] == [where] and reason in rej[0].reason
    assert "np." not in rej[0].reason
    assert [int(i) for b in batches for i in b.rejected_snapshots] == [sid]
    stream = stream_sqlite(p, chunk_size=8)
    with pytest.warns(UserWarning, match="skipped 1 invalid snapshot"):
        frames = list(stream)
    assert stream.rejected_snapshots == 1 and stream.rejections[0].row_id == where[1]
    ids = pl.concat(frames)["source_id"].to_list()
    assert sid not in ids and len(ids) == 29
    arr = to_arrays(pl.concat(frames))  # what streams yields converts cleanly
    assert np.isfinite(arr.mid).all() and (np.abs(arr.bid_ticks) < 10**6).all()


def test_one_sided_snapshots_are_kept_with_a_nan_mid(tmp_path):
    p = _file_with(tmp_path, "DELETE FROM asks WHERE item_id = 4")
    frames = pl.concat(list(stream_sqlite(p)))
    assert frames.height == 30
    assert np.isnan(to_arrays(frames).mid[3])


@pytest.mark.parametrize("value,match", [
    (1e300, r"row 1 \(1970-01-01 00:00:00.000001 UTC\), bid price level 2: 1e\+300 is not in \(0, 1000000000000.0\]"),
    (float("nan"), r"bid price level 2: nan is not in"),
    (-1.0, r"bid price level 2: -1.0 is not in"),
    (None, r"bid price level 2: nan is not in"),  # a null inside a list is not silently dropped
])
def test_to_arrays_refuses_values_it_cannot_convert(value, match):
    frame = pl.DataFrame({"ts": pl.Series([0, 1], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                          "bid_px": [[100.0, 99.0], [100.0, value]], "bid_qty": [[1.0, 1.0], [1.0, 1.0]],
                          "ask_px": [[101.0], [101.0]], "ask_qty": [[1.0], [1.0]]})
    with pytest.raises(InputFormatError, match=match):
        to_arrays(frame)


def test_to_arrays_needs_one_quantity_per_price():
    frame = pl.DataFrame({"ts": pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                          "bid_px": [[100.0, 99.0]], "bid_qty": [[1.0]], "ask_px": [[101.0]], "ask_qty": [[1.0]]})
    with pytest.raises(InputFormatError, match="row 0 .*: bid_px and bid_qty differ in length"):
        to_arrays(frame)


@pytest.mark.parametrize("kw,match", [
    ({"tick": float("nan")}, "tick must be a finite number > 0, got nan"),
    ({"tick": float("inf")}, "tick must be a finite number > 0, got inf"),
    ({"tick": 0}, "tick must be a finite number > 0, got 0"),
    ({"levels": 0}, "levels must be an integer from 1 to 10,000, got 0"),
    ({"levels": 2.5}, "levels must be an integer"),
    ({"levels": 10**9}, "levels must be an integer from 1 to 10,000"),
])
def test_to_arrays_checks_its_arguments(kw, match):
    frame = pl.DataFrame({"ts": pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
                          "bid_px": [[100.0]], "bid_qty": [[1.0]], "ask_px": [[101.0]], "ask_qty": [[1.0]]})
    with pytest.raises(ConfigError, match=match):
        to_arrays(frame, **kw)
    with pytest.raises(InputFormatError, match="beyond 2\\*\\*60 ticks"):
        to_arrays(frame, tick=1e-300)


# ---------------------------------------------------------------------------------------------- sample-data
@pytest.mark.parametrize("args,match", [
    (["--out", "/nonexistent/x.db"], "cannot write: directory /nonexistent does not exist"),
    (["--seed", "-1"], "--seed: expected a non-negative integer, got '-1'"),
    (["--seed", "1.5"], "--seed: expected a non-negative integer"),
    (["--snapshots", "99999999999999"], "snapshots must be an integer from 1 to 10,000,000, got 99999999999999"),
    (["--snapshots", "0"], "snapshots must be an integer from 1"),
    (["--levels", "0"], "levels must be an integer from 1 to 1,000, got 0"),
])
def test_sample_data_arguments(tmp_path, args, match):
    if "--out" not in args:
        args = ["--out", tmp_path / "x.db", *args]
    err = one_line(cli(["sample-data", *args]))
    assert match in err
    assert not any(tmp_path.iterdir())


def test_sample_data_refuses_to_clobber_and_replaces_whole(tmp_path):
    out = tmp_path / "x.db"
    assert cli(["sample-data", "--out", out, "--snapshots", "20"]).exit_code == 0
    before = out.read_bytes()
    assert "exists already" in one_line(cli(["sample-data", "--out", out, "--snapshots", "30"]))
    assert out.read_bytes() == before
    assert cli(["sample-data", "--out", out, "--snapshots", "30", "--force"]).exit_code == 0
    assert SqliteReader(out).count() == 30 and sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL])
def test_sample_data_killed_leaves_no_temp_file(tmp_path, sig):
    out = tmp_path / "big.db"
    code = "import sys; from lobkit.cli import main; sys.argv[0] = 'lobkit'; main()"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code, "sample-data", "--out", str(out), "--snapshots",
                             "3000000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t_end = time.monotonic() + 120
    while time.monotonic() < t_end and proc.poll() is None:
        tmp = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        if tmp and tmp[0].stat().st_size > 1_000_000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    left = sorted(p.name for p in tmp_path.iterdir())
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: the next run does
        assert left == [f".big.db.{proc.pid}.tmp"]
        res = cli(["sample-data", "--out", out, "--snapshots", "10"])
        assert res.exit_code == 0, res.output
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == ["big.db"]
    else:
        assert left == []


# ---------------------------------------------------------------------------------------------- db init, tz
@pytest.mark.parametrize("hours", ["nan", "inf", "-inf", "-1", "0", "1e9", "0.001"])
def test_db_init_chunk_interval_is_checked_before_connecting(hours):
    err = one_line(cli(["db", "init", "--dsn", DEAD_DSN, "--chunk-interval-hours", hours]))
    assert "--chunk-interval-hours must be a number of hours from 1/60 (one minute) to 87,600" in err


@pytest.mark.parametrize("interval,shown", [(timedelta(days=-1), "-1 day"), (timedelta(0), "0 s"),
                                            (timedelta(hours=-3), "-3 h"), (timedelta(days=4000), "4000 days")])
def test_db_config_interval_errors_read_as_written(interval, shown):
    with pytest.raises(ConfigError, match=f"chunk_interval must be between 1 min and 3650 days, got {shown}$"):
        DbConfig(DEAD_DSN, chunk_interval=interval)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd"])
def test_unknown_time_zone_is_one_line(tz):
    z = require_data("lobster/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    err = one_line(cli(["lobster", "import", z, "--dsn", DEAD_DSN, "--tz", tz]))
    assert f"tz: unknown time zone {tz} (use an IANA name" in err
    with pytest.raises(ConfigError, match="unknown time zone"):
        import_lobster(z, DbConfig(DEAD_DSN), tz=tz)


# ---------------------------------------------------------------------------------------------- damaged zips
def _lobster_zip(path: Path, stored: bool) -> Path:
    stem = "TEST_2012-06-21_34200000_57600000"
    msgs = "".join(f"{34200 + k}.5,1,{k + 1},10,{1000000 + 100 * k},-1\n" for k in range(200))
    rows = "".join(f"{1000000},{10},-9999999999,0\n" for _ in range(200))
    comp = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=comp) as zf:
        zf.writestr(f"{stem}_message_1.csv", msgs)
        zf.writestr(f"{stem}_orderbook_1.csv", rows)
    return path


def _bad_zip(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / f"{kind}.zip"
    if kind == "not_a_zip":
        p.write_text("time,type\n")
        return p
    if kind == "empty":
        p.write_bytes(b"")
        return p
    _lobster_zip(p, stored=kind == "bad_crc")
    data = bytearray(p.read_bytes())
    if kind == "truncated":
        p.write_bytes(bytes(data[: len(data) // 2]))
    else:  # bad_crc (stored: the bytes read back differ) or bad_deflate (the stream does not inflate)
        at = data.index(b"_message_1.csv") + 40
        data[at: at + 16] = b"\x00\xff" * 8
        p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("kind,match", [
    ("truncated", "not a readable zip archive"),
    ("bad_crc", r"TEST_2012-06-21_34200000_57600000_message_1\.csv: damaged zip member \(Bad CRC-32"),
    ("bad_deflate", "damaged zip member"),
    ("not_a_zip", "not a readable zip archive"),
    ("empty", "not a readable zip archive"),
])
def test_damaged_zip_gets_one_message_from_every_reader(tmp_path, kind, match):
    z = _bad_zip(tmp_path, kind)
    with pytest.raises(InputFormatError, match=match) as e:
        read_lobster(z)
    want = f"error: {e.value}"
    assert str(e.value).startswith(str(z)) and "\n" not in want
    assert one_line(cli(["lobster", "replay", z, "--check"])) == want
    assert one_line(cli(["lobster", "import", z, "--dsn", DEAD_DSN])) == want
    for run in (lambda: list(open_source(z).snapshots()), lambda: first_book(z, 0.01, 1),
                lambda: open_source(f"lobster:{z}").messages()):
        with pytest.raises(InputFormatError) as e2:
            run()
        assert f"error: {e2.value}" == want


# ---------------------------------------------------------------------------------------------- LOBSTER rules
def _pair(tmp_path: Path, messages: list[str], rows: list[str]) -> Path:
    stem = "TEST_2012-06-21_34200000_57600000"
    mp = tmp_path / f"{stem}_message_1.csv"
    mp.write_text("".join(m + "\n" for m in messages))
    (tmp_path / f"{stem}_orderbook_1.csv").write_text("".join(r + "\n" for r in rows))
    return mp


OK_MSGS = ["34200.5,1,1,10,1000000,-1", "34200.6,1,2,5,990000,1", "34200.7,3,2,5,990000,1"]
OK_ROWS = ["1000000,10,-9999999999,0", "1000000,10,990000,5", "1000000,10,-9999999999,0"]
LOBSTER_CASES = [  # (line index, message or None, orderbook row or None, line, expected text)
    (2, "34200.55,3,2,5,990000,1", None, 3, "time 34200.55 is earlier than the line before (34200.6)"),
    (1, f"34200.6,1,2,{2**63 - 1},990000,1", None, 2, f"size {2**63 - 1} on a type 1 event (must be 1 to 2**40"),
    (1, f"34200.6,1,2,{2**40 + 1},990000,1", None, 2, "size 1099511627777 on a type 1 event"),
    (1, f"34200.6,1,2,5,{2**61},1", None, 2, f"price {2**61} on a type 1 event (must be 1 to 2**60"),
    (1, "34200.6,1,2x,5,990000,1", None, 2, "field 3 is not an integer: '2x'"),
    (1, f"34200.6,1,{2**64},5,990000,1", None, 2, "field 3 is not an integer"),
    (1, "34200.6,7,0,0,5,-1", None, 2, "halt message (type 7) with price 5"),
    (2, "86400.5,3,2,5,990000,1", None, 3, "time 86400.5 is not within a day"),
    (2, "99999999999999999999.5,3,2,5,990000,1", None, 3, "time '99999999999999999999.5' is not a decimal"),
    (1, "34200.6,4,2,-5,990000,1", None, 2, "size -5 on a type 4 event"),
    (1, "34200.6,5,0,1,990000,0", None, 2, "direction 0 on a type 5 event"),
    (1, None, f"1000000,{2**41},990000,5", 2, "bad level 1: ask 1000000 x 2199023255552"),
]
L2_ROWS = ["1000000,10,-9999999999,0,1000100,5,-9999999999,0"] * 3
L2_CASES = [  # orderbook rows of a 2-level file: (row, expected text)
    ("1000000,10,990000,5,999900,5,990100,5", "ask level 2 (999900) is not above level 1 (1000000)"),
    ("1000000,10,990000,5,1000100,5,990000,5", "bid level 2 (990000) is not below level 1 (990000)"),
    ("9999999999,0,990000,5,1000100,5,-9999999999,0", "ask level 2 (1000100) follows an empty level 1"),
]


@pytest.mark.parametrize("k,message,orow,line,text", LOBSTER_CASES)
def test_lobster_rules_are_one_validation_for_replay_import_and_source(tmp_path, k, message, orow, line, text):
    from lobkit.engine.lobster import replay

    msgs, rows = list(OK_MSGS), list(OK_ROWS)
    if message is not None:
        msgs[k] = message
    if orow is not None:
        rows[k] = orow
    mp = _pair(tmp_path, msgs, rows)
    with pytest.raises(InputFormatError) as e:
        replay(mp)
    assert e.value.line == line and text in str(e.value), str(e.value)
    want = f"error: {e.value}"
    assert one_line(cli(["lobster", "replay", mp])) == want
    assert one_line(cli(["lobster", "import", mp, "--dsn", DEAD_DSN])) == want
    with pytest.raises(InputFormatError) as e2:
        open_source(mp).messages()
    assert f"error: {e2.value}" == want


@pytest.mark.parametrize("orow,text", L2_CASES)
def test_lobster_orderbook_levels_best_first(tmp_path, orow, text):
    stem = "TEST_2012-06-21_34200000_57600000"
    mp = tmp_path / f"{stem}_message_2.csv"
    mp.write_text("".join(m + "\n" for m in OK_MSGS))
    rows = list(L2_ROWS)
    rows[1] = orow
    (tmp_path / f"{stem}_orderbook_2.csv").write_text("".join(r + "\n" for r in rows))
    with pytest.raises(InputFormatError, match=r"_orderbook_2\.csv:2: ") as e:
        read_lobster(mp)
    assert text in str(e.value)
    assert one_line(cli(["lobster", "import", mp, "--dsn", DEAD_DSN])) == f"error: {e.value}"


def test_lobster_file_without_a_date_replays_but_cannot_be_placed_in_utc(tmp_path):
    from lobkit.engine.lobster import replay

    mp = tmp_path / "X_message_1.csv"
    mp.write_text("".join(m + "\n" for m in OK_MSGS))
    (tmp_path / "X_orderbook_1.csv").write_text("".join(r + "\n" for r in OK_ROWS))
    assert replay(mp, check=True).rows_matched == 3
    err = one_line(cli(["lobster", "import", mp, "--dsn", DEAD_DSN]))
    assert err == f"error: {mp}: the file name carries no date (TICKER_YYYY-MM-DD_...), so its times cannot be " \
                  "placed in UTC"


def test_sample_data_parent_is_a_file(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    assert "f.txt is not a directory" in one_line(cli(["sample-data", "--out", tmp_path / "f.txt" / "x.db"]))


def test_lobster_window_beyond_the_engine_is_refused(tmp_path):
    from lobkit.engine.lobster import replay

    mp = _pair(tmp_path, ["34200.5,1,1,10,100,-1", "34200.6,1,2,5,10000000000,-1"],
               ["100,10,-9999999999,0", "100,10,-9999999999,0"])
    with pytest.raises(InputFormatError, match="more than the engine's price window"):
        replay(mp)


# ---------------------------------------------------------------------------------------------- DSN masking
@pytest.mark.parametrize("dsn,visible", [
    ("postgresql://postgres:5633@127.0.0.1:5633/market_sim_lob", "postgres:***@127.0.0.1:5633/market_sim_lob"),
    ("postgresql://postgres:postgres@127.0.0.1:5432/postgres", "postgres:***@127.0.0.1:5432/postgres"),
    ("postgresql://u:127@127.0.0.1:5432/d127", "u:***@127.0.0.1:5432/d127"),
    ("postgresql://u:p%40ss%2Fw@h:1/db", "u:***@h:1/db"),
    ("postgresql://market_sim_lob:market_sim_lob@db.example:5432/market_sim_lob",
     "market_sim_lob:***@db.example:5432/market_sim_lob"),
])
def test_only_the_password_field_is_masked(dsn, visible):
    pw = dsn.split("://")[1].split("@")[0].split(":")[1]
    for text in (safe_url(dsn), mask(f"failed on {dsn}: no"), mask(f"connect to '{dsn}'"), DbConfig(dsn).safe_dsn):
        assert visible in text and f":{pw}@" not in text, text
    assert mask("host=h port=5633 password=5633 user=u") == "host=h port=5633 password=*** user=u"
    assert mask("password='a b' x") == "password=*** x"


def test_malformed_dsn_never_shows_its_password():
    with pytest.raises(ConfigError) as e:
        DbConfig("postgresql://u:hunter2@h:notaport/db")
    assert "hunter2" not in str(e.value)
    with pytest.raises(ConfigError) as e:
        DbConfig("postgresql://u:hunter2@h:99999/db")
    assert "hunter2" not in str(e.value) and "99999" in str(e.value)
