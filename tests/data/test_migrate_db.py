"""Migration into a real TimescaleDB / PostgreSQL: real data, bad rows, resume after SIGKILL, errors, injection."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import polars as pl
import psycopg2
import pytest
from psycopg2 import sql

from lobkit.data.errors import BadRowError, ConfigError, DatabaseError, InputFormatError
from lobkit.data.migrate import migrate
from lobkit.data.sample import write_sample_db
from lobkit.data.stream import stream_db, to_arrays
from lobkit.data.timescale import DbConfig, init_db, stats

pytestmark = pytest.mark.tsdb


def lobkit_main():
    """The ``lobkit`` group; skips (fails under CI) while another package's CLI module is still missing."""
    try:
        from lobkit.cli import main
    except ImportError as exc:
        from tests.data.conftest import IN_CI

        if IN_CI:
            raise
        pytest.skip(f"lobkit.cli does not import yet (another package's module): {exc}")
    return main


def _count(cfg: DbConfig) -> int:
    conn = cfg.connect()
    cur = conn.cursor()
    cur.execute(sql.SQL("SELECT count(*), count(DISTINCT source_id) FROM {}").format(sql.Identifier(cfg.table)))
    n, distinct = cur.fetchone()
    conn.close()
    assert n == distinct, "a snapshot was stored twice"
    return n


def test_init_on_timescaledb_and_plain_postgres(tsdb_dsn, plain_dsn):
    rep = init_db(DbConfig(tsdb_dsn))
    assert rep.created_database and rep.hypertable and rep.timescaledb and rep.license == "apache"
    assert not rep.compression and any("compression" in n for n in rep.notes)
    again = init_db(DbConfig(tsdb_dsn))  # idempotent
    assert not again.created_database and again.hypertable
    rep = init_db(DbConfig(plain_dsn))
    assert rep.created_database and not rep.hypertable and rep.timescaledb is None
    assert any("plain PostgreSQL" in n for n in rep.notes)
    # the server really lacks TimescaleDB: creating the extension fails there
    conn = psycopg2.connect(plain_dsn)
    with pytest.raises(psycopg2.Error, match="preloaded|closed the connection"):  # a FATAL there
        conn.cursor().execute("CREATE EXTENSION timescaledb")
    conn.close()


def test_real_lob_btc_value_for_value(tsdb_cfg, lob_btc):
    s = migrate(lob_btc, tsdb_cfg, batch_size=1500, progress=False)
    assert (s.read, s.inserted, s.already_present, s.rejected) == (5011, 5011, 0, 0)
    st = stats(tsdb_cfg)
    assert st.count == 5011 and st.hypertable and st.chunks >= 1 and st.size_bytes > 0
    assert st.first.isoformat() == "2015-05-01T00:00:05.885000+00:00"
    got = {}
    for df in stream_db(tsdb_cfg, chunk_size=1000):
        for row in df.iter_rows(named=True):
            got[row["source_id"]] = row
    assert len(got) == 5011
    con = sqlite3.connect(lob_btc)
    ts = dict(con.execute("SELECT id, timestamp FROM items"))
    for side, desc in (("bids", True), ("asks", False)):
        rows = con.execute(f"SELECT item_id, price, quantity FROM {side} ORDER BY item_id, id").fetchall()
        by = {}
        for i, p, q in rows:
            by.setdefault(i, []).append((p, q))
        for i, levels in by.items():
            levels.sort(key=lambda pq: -pq[0] if desc else pq[0])
            r = got[i]
            assert r[f"{side[:3]}_px"] == [p for p, _ in levels]  # exact float equality
            assert r[f"{side[:3]}_qty"] == [q for _, q in levels]
    for i, t in ts.items():
        assert got[i]["ts"].strftime("%Y-%m-%d %H:%M:%S.%f") == t
    again = migrate(lob_btc, tsdb_cfg, progress=False)
    assert (again.inserted, again.already_present) == (0, 5011) and _count(tsdb_cfg) == 5011


def test_plain_postgres_migrates_too(plain_dsn, lob_btc):
    cfg = DbConfig(plain_dsn)
    init_db(cfg)
    s = migrate(lob_btc, cfg, progress=False)
    assert s.inserted == 5011 and stats(cfg).hypertable is False and stats(cfg).chunks is None


def _corrupt(path):
    con = sqlite3.connect(path)
    con.executescript("""
        UPDATE bids SET price = 'NaN' WHERE id = 5;             -- NaN as text (snapshot 1)
        UPDATE asks SET quantity = 0 WHERE id = 45;             -- zero quantity (snapshot 3)
        UPDATE bids SET price = -1.5 WHERE id = 101;            -- negative price (snapshot 6)
        UPDATE asks SET quantity = 'lots' WHERE id = 150;       -- not a number (snapshot 8)
        UPDATE bids SET price = 999.0 WHERE id = 201;           -- crossed book (snapshot 11)
        UPDATE items SET timestamp = (SELECT timestamp FROM items WHERE id = 14) WHERE id = 15;  -- duplicate
        UPDATE items SET timestamp = (SELECT timestamp FROM items WHERE id = 2) WHERE id = 390;  -- dup across batches
        INSERT INTO bids (item_id, price, quantity) VALUES (99999, 1.0, 1.0);                     -- orphan
        UPDATE bids SET price = 1e300 WHERE id = 401;           -- above the bound (snapshot 21)
        UPDATE asks SET quantity = 1e25 WHERE id = 441;         -- above the bound (snapshot 23)
        UPDATE bids SET price = (SELECT price FROM bids WHERE id = 501) WHERE id = 502;  -- duplicate level (26)
        DELETE FROM bids WHERE item_id = 30; DELETE FROM asks WHERE item_id = 30;        -- no levels (30)
    """)
    con.commit()
    con.close()


def test_bad_rows_are_reported_and_skipped(tsdb_cfg, tmp_path):
    src = write_sample_db(tmp_path / "s.db", 400, seed=11)
    _corrupt(src)
    s = migrate(src, tsdb_cfg, batch_size=100, progress=False)
    got = {(r.table, r.row_id, r.field) for r in s.rejections}
    assert got == {("bids", 5, "price"), ("asks", 45, "quantity"), ("bids", 101, "price"), ("asks", 150, "quantity"),
                   ("items", 11, "bids/asks"), ("items", 15, "timestamp"), ("items", 390, "timestamp"),
                   ("bids", 8001, "item_id"), ("bids", 401, "price"), ("asks", 441, "quantity"),
                   ("bids", 502, "price"), ("items", 30, "bids/asks")}
    assert set(s.rejected_ids) == {1, 3, 6, 8, 11, 15, 21, 23, 26, 30, 390}
    assert (s.read, s.rejected_snapshots, s.inserted) == (400, 11, 389)
    assert _count(tsdb_cfg) == 389
    crossed = next(r for r in s.rejections if r.row_id == 11 and r.table == "items")
    assert "crossed" in crossed.reason and "999.0" in crossed.reason and "np." not in crossed.reason
    reasons = {r.row_id: r.reason for r in s.rejections}
    assert reasons[401] == "1e+300 is above the bound 1000000000000.0"
    assert reasons[441] == "1e+25 is above the bound 1000000000000.0"
    assert reasons[502].startswith("duplicate price level") and reasons[30] == "no levels on either side"
    # what was stored streams back and converts: migrate, stream and to_arrays agree
    arr = to_arrays(pl.concat(list(stream_db(tsdb_cfg))))
    assert len(arr.mid) == 389 and np.isfinite(arr.mid).all()


def test_strict_stops_at_first_bad_row(tsdb_cfg, tmp_path):
    src = write_sample_db(tmp_path / "s.db", 300, seed=11)
    con = sqlite3.connect(src)
    con.execute("UPDATE asks SET price = 0 WHERE id = 2345")  # snapshot 118
    con.commit()
    con.close()
    with pytest.raises(BadRowError) as e:
        migrate(src, tsdb_cfg, batch_size=100, strict=True, progress=False)
    assert (e.value.table, e.value.row_id, e.value.field) == ("asks", 2345, "price")
    assert _count(tsdb_cfg) == 100  # the first batch is committed, the bad one and later are not


def test_resume_after_sigkill(tsdb_cfg, tmp_path):
    n, batch = 60_000, 2_000
    src = write_sample_db(tmp_path / "big.db", n, seed=5)
    # what `lobkit migrate SRC --batch-size 2000` runs, in its own process (the library call, so that this
    # test does not depend on the other packages' CLI modules; test_cli_end_to_end covers the command)
    code = ("import sys; from lobkit.data.migrate import migrate; from lobkit.data.timescale import DbConfig; "
            "migrate(sys.argv[1], DbConfig.from_env(), batch_size=int(sys.argv[2]), progress=False)")
    env = dict(os.environ, LOBKIT_DSN=tsdb_cfg.dsn)
    proc = subprocess.Popen([sys.executable, "-c", code, str(src), str(batch)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t_end = time.monotonic() + 120
    while _count(tsdb_cfg) < 3 * batch and time.monotonic() < t_end and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    partial = _count(tsdb_cfg)
    assert 0 < partial < n and partial % batch == 0  # whole batches only
    s = migrate(src, tsdb_cfg, batch_size=batch, progress=False)
    assert (s.inserted, s.already_present) == (n - partial, partial)
    assert _count(tsdb_cfg) == n


def test_unreachable_and_misconfigured_databases(tmp_path, tsdb_dsn, lob_btc):
    from lobkit.data.localdb import free_port

    dead = DbConfig(f"postgresql://postgres:s3cr3t-Pw@127.0.0.1:{free_port()}/x")
    with pytest.raises(DatabaseError) as e:
        migrate(lob_btc, dead, progress=False)
    assert "cannot connect" in str(e.value) and "s3cr3t-Pw" not in str(e.value) and "***" in str(e.value)
    with pytest.raises(ConfigError, match="SQLAlchemy URL"):
        DbConfig("not a url")
    with pytest.raises(ConfigError, match="postgresql"):
        DbConfig("mysql://u:p@h/db")
    with pytest.raises(ConfigError, match="LOBKIT_DSN"):
        DbConfig("")
    cfg = DbConfig(tsdb_dsn)  # server fine, but `db init` never ran: the database does not exist
    with pytest.raises(DatabaseError, match="does not exist"):
        migrate(lob_btc, cfg, progress=False)
    conn = psycopg2.connect(tsdb_dsn.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    conn.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.database)))
    conn.close()
    with pytest.raises(DatabaseError, match="db init"):  # database exists, table does not: nothing written
        migrate(lob_btc, cfg, progress=False)
    conn = cfg.connect()
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert cur.fetchone()[0] == 0
    conn.close()


def test_sql_injection_in_table_names_and_time_filters(tsdb_dsn, lob_btc):
    evil = 'x"; DROP TABLE lob_snapshots; --'
    good = DbConfig(tsdb_dsn)
    init_db(good)
    migrate(lob_btc, good, progress=False)
    bad = DbConfig(tsdb_dsn, table=evil)
    init_db(bad)
    s = migrate(lob_btc, bad, progress=False, batch_size=2000)
    assert s.inserted == 5011
    assert stats(good).count == 5011 and stats(bad).count == 5011 and stats(bad).hypertable
    with pytest.raises(ConfigError, match="ISO"):
        next(stream_db(good, start="2015-05-01'; DROP TABLE lob_snapshots; --"))
    frames = list(stream_db(bad, start="2015-05-01T01:00:00", end="2015-05-01T02:00:00+00:00", chunk_size=300))
    ts = np.concatenate([f["ts"].dt.epoch("us").to_numpy() for f in frames])
    con = sqlite3.connect(lob_btc)
    want = con.execute("SELECT count(*) FROM items WHERE timestamp >= '2015-05-01 01:00:00' "
                       "AND timestamp < '2015-05-01 02:00:00'").fetchone()[0]
    assert len(ts) == want and (np.diff(ts) > 0).all()
    assert stats(good).count == 5011


def test_cli_end_to_end(tsdb_dsn, lob_btc, tmp_path):
    from click.testing import CliRunner

    main = lobkit_main()

    r = CliRunner()
    res = r.invoke(main, ["db", "init", "--dsn", tsdb_dsn])
    assert res.exit_code == 0, res.output
    assert "hypertable" in res.output and "compression" in res.output
    res = r.invoke(main, ["migrate", str(lob_btc), "--dsn", tsdb_dsn, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["inserted"] == 5011 and out["rejected"] == 0 and out["snapshots_per_s"] > 0
    res = r.invoke(main, ["db", "stats", "--json"], env={"LOBKIT_DSN": tsdb_dsn})
    assert json.loads(res.output)["count"] == 5011
    dead = "postgresql://postgres:hunter2-secret@127.0.0.1:1/x"
    res = r.invoke(main, ["migrate", str(lob_btc), "--dsn", dead])
    assert res.exit_code == 2 and "hunter2-secret" not in res.output and "cannot connect" in res.output
    assert res.output.count("\n") == 1
    out = tmp_path / "s.db"
    res = r.invoke(main, ["sample-data", "--out", str(out), "--snapshots", "25", "--seed", "4"])
    assert res.exit_code == 0 and out.exists()
    for cmd in (["sample-data"], ["db", "init"], ["db", "stats"], ["migrate"], ["lobster", "import"]):
        res = r.invoke(main, [*cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


# ---------------------------------------------------------------------------------------------- issue 7
def _cli(args, env=None):
    from click.testing import CliRunner

    return CliRunner().invoke(lobkit_main(), [str(a) for a in args], env=env)


def _one_line(res, code=2) -> str:
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, res.output
    return err


@pytest.mark.parametrize("part", ["schema", "items:root", "items:leaf", "bids:leaf"])
def test_migrate_of_a_damaged_sqlite_file(tsdb_cfg, tmp_path, part):
    from tests.data.test_bad_input import _damage

    src = write_sample_db(tmp_path / "s.db", 3000, seed=5)
    _damage(src, part)
    with pytest.raises(InputFormatError) as e:
        migrate(src, tsdb_cfg, batch_size=500, progress=False)
    assert str(e.value).startswith(f"{src}: the SQLite file is damaged (database disk image is malformed)")
    assert _count(tsdb_cfg) % 500 == 0  # whole batches or nothing
    err = _one_line(_cli(["migrate", src, "--dsn", tsdb_cfg.dsn, "--batch-size", 500, "--no-progress"]))
    assert err == f"error: {e.value}"


def test_migrate_exit_codes(tsdb_cfg, tmp_path, lob_btc):
    base = write_sample_db(tmp_path / "base.db", 50, seed=1)
    dsn = ["--dsn", tsdb_cfg.dsn, "--no-progress"]
    # nothing stored: every snapshot rejected (text timestamps read as epoch seconds)
    res = _cli(["migrate", base, "--ts-format", "epoch_s", *dsn])
    err = _one_line(res, 1)
    assert err == (f"error: nothing stored: all 50 snapshot(s) of {base} were rejected (first: items row 1, field "
                   "timestamp: not a valid timestamp); the summary lists the reasons (--json: up to 1000)")
    assert "inserted 0" in res.stdout and _count(tsdb_cfg) == 0
    res = _cli(["migrate", base, "--ts-format", "epoch_s", "--json", *dsn])
    assert res.exit_code == 1 and json.loads(res.stdout)["rejected_snapshots"] == 50
    # nothing stored: an empty source
    empty = tmp_path / "empty.db"
    con = sqlite3.connect(empty)
    con.executescript("CREATE TABLE items (id INTEGER PRIMARY KEY, timestamp DATETIME);"
                      "CREATE TABLE bids (id INTEGER PRIMARY KEY, item_id INT, price REAL, quantity REAL);"
                      "CREATE TABLE asks (id INTEGER PRIMARY KEY, item_id INT, price REAL, quantity REAL);")
    con.close()
    assert _one_line(_cli(["migrate", empty, *dsn]), 1) == f"error: nothing stored: {empty} holds no snapshots"
    # partial: stored, with a warning line
    con = sqlite3.connect(base)
    con.execute("UPDATE bids SET price = 1e300 WHERE id = 1")
    con.commit()
    con.close()
    res = _cli(["migrate", base, *dsn])
    assert res.exit_code == 0 and res.stderr.strip() == ("warning: 1 row(s) rejected, 1 snapshot(s) not stored "
                                                         "(listed above; --json lists up to 1000)")
    res = _cli(["migrate", base, *dsn])  # a rerun: everything valid is already there
    assert res.exit_code == 0 and "already present 49" in res.stdout


def test_db_stats_masks_the_password_field_only(tsdb_server, lob_btc):
    port = str(tsdb_server.port)
    dsn = tsdb_server.dsn_for("lobkit_mask")
    conn = psycopg2.connect(tsdb_server.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP DATABASE IF EXISTS lobkit_mask WITH (FORCE)")
    cur.execute("CREATE DATABASE lobkit_mask")
    cur.execute("DROP ROLE IF EXISTS maskuser")
    cur.execute(sql.SQL("CREATE ROLE maskuser LOGIN SUPERUSER PASSWORD {}").format(sql.Literal(port)))
    conn.close()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute("CREATE TABLE t (x int)")
    conn.close()
    secret = f"postgresql://maskuser:{port}@127.0.0.1:{port}/lobkit_mask"
    for args in (["db", "stats", "--table", "t", "--dsn", secret],
                 ["migrate", lob_btc, "--table", "nope", "--dsn", secret],
                 ["db", "stats", "--table", "nope", "--dsn", secret],
                 ["db", "stats", "--dsn", f"postgresql://maskuser:{port}@127.0.0.1:1/lobkit_mask"]):
        err = _one_line(_cli(args))
        assert f":{port}@" not in err and "maskuser:***@127.0.0.1:" in err, err
    err = _one_line(_cli(["db", "stats", "--table", "t", "--dsn", secret]))
    assert err == (f"error: table t in database lobkit_mask at postgresql://maskuser:***@127.0.0.1:{port}/lobkit_mask "
                   "is not a snapshot table: it has no column ts, bids, asks (choose another --table)")
    assert "is not a snapshot table" in _one_line(_cli(["lobster", "import", require_lobster(1), "--table", "t",
                                                        "--dsn", secret]))


def require_lobster(levels: int):
    from tests.data.conftest import require_data

    return require_data(f"lobster/LOBSTER_SampleFile_AMZN_2012-06-21_{levels}.zip")


def test_the_readme_data_sequence(tsdb_dsn, lob_btc):
    """README: db init && migrate lob-btc.db && db stats, then lobster import ... --table amzn_5."""
    env = {"LOBKIT_DSN": tsdb_dsn}
    for args in (["db", "init"], ["migrate", lob_btc], ["db", "stats"]):
        res = _cli(args, env)
        assert res.exit_code == 0, res.output
    assert "snapshots  5,011" in res.stdout
    res = _cli(["lobster", "import", require_lobster(5), "--table", "amzn_5"], env)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("created table amzn_5\nAMZN 2012-06-21, 5 levels:")
    res = _cli(["db", "stats", "--table", "amzn_5", "--json"], env)
    st = json.loads(res.stdout)
    assert st["count"] > 100_000 and st["hypertable"] is True
    again = _cli(["lobster", "import", require_lobster(5), "--table", "amzn_5", "--json"], env)
    out = json.loads(again.stdout)
    assert again.exit_code == 0 and out["inserted"] == 0 and out["already_present"] == st["count"]
    assert out["created_table"] is False
    # the same table read back through the source registry gives the simulator's initial book
    from lobkit.data.sources import first_book

    book = first_book(f"{tsdb_dsn}?table=amzn_5", tick_size=0.01, lot_size=1)
    assert book.snapshot_id == 1 and book.ts == 1340285400017460000 and len(book.price) == 10


def test_lobster_import_needs_the_database(tsdb_dsn):
    res = _cli(["lobster", "import", require_lobster(1), "--table", "amzn_1", "--dsn", tsdb_dsn])
    err = _one_line(res)
    assert "does not exist" in err and "run `lobkit db init` first" in err
