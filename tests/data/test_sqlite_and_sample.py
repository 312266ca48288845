"""SQLite reading (schema checks, mapping, timestamp formats, identifier quoting) and the sample writer."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobkit.data.books import clean
from lobkit.data.errors import ConfigError, InputFormatError, SchemaError
from lobkit.data.sample import write_sample_db
from lobkit.data.sqlite import SqliteReader, SqliteSchema, parse_timestamps
from lobkit.data.stream import stream_sqlite, to_arrays

NAMES = {"items": "items", "bids": "bids", "asks": "asks", "timestamp": "timestamp", "price": "price",
         "quantity": "quantity", "item_id": "item_id"}


def _all(path, schema=None, batch=7):
    with SqliteReader(path, schema) as r:
        return [clean(raw, NAMES, r.duplicate_timestamp_ids()) for raw in r.batches(batch)]


def test_sample_has_the_real_schema_and_is_deterministic(tmp_path, lob_btc):
    a = write_sample_db(tmp_path / "a.db", 300, seed=7)
    b = write_sample_db(tmp_path / "b.db", 300, seed=7)
    c = write_sample_db(tmp_path / "c.db", 300, seed=8)
    q = "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    real = sqlite3.connect(lob_btc).execute(q).fetchall()
    assert sqlite3.connect(a).execute(q).fetchall() == real
    dump = [list(sqlite3.connect(p).iterdump()) for p in (a, b, c)]
    assert dump[0] == dump[1] and dump[0] != dump[2]
    with pytest.raises(InputFormatError, match="exists already"):
        write_sample_db(a, 10, seed=1)


def test_sample_books_are_plausible(tmp_path):
    p = write_sample_db(tmp_path / "s.db", 2000, seed=3, levels=20)
    batches = _all(p, batch=500)
    assert sum(len(b.source_id) for b in batches) == 2000
    assert not any(b.rejections for b in batches)
    con = sqlite3.connect(p)
    prices = np.array([r[0] for r in con.execute("SELECT price FROM bids UNION ALL SELECT price FROM asks")])
    assert np.allclose(np.round(prices / 0.01), prices / 0.01, atol=1e-6)
    counts = con.execute("SELECT min(c), max(c) FROM (SELECT count(*) c FROM asks GROUP BY item_id)").fetchone()
    assert counts == (20, 20)
    frame = next(stream_sqlite(p, chunk_size=2000))
    arr = to_arrays(frame)
    spread = (arr.ask_ticks[:, 0] - arr.bid_ticks[:, 0])
    assert (spread >= 2).all() and np.median(np.abs(np.diff(arr.mid))) <= 0.02
    assert (np.diff(arr.bid_ticks, axis=1) < 0).all() and (np.diff(arr.ask_ticks, axis=1) > 0).all()


def test_missing_tables_and_columns_are_named(tmp_path):
    p = tmp_path / "bad.db"
    con = sqlite3.connect(p)
    con.executescript("CREATE TABLE items (id INTEGER PRIMARY KEY, timestamp TEXT);"
                      "CREATE TABLE bids (id INTEGER PRIMARY KEY, item_id INT, price REAL);")
    con.close()
    with pytest.raises(SchemaError) as e:
        SqliteReader(p)
    assert "missing table 'asks'" in str(e.value) and "'quantity'" in str(e.value) and str(p) in str(e.value)
    with pytest.raises(InputFormatError, match="no such SQLite file"):
        SqliteReader(tmp_path / "nope.db")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputFormatError, match="not a readable SQLite"):
        SqliteReader(tmp_path / "junk.db")


def test_schema_config_is_validated():
    with pytest.raises(ConfigError, match="ts_format"):
        SqliteSchema(ts_format="nanos")
    with pytest.raises(ConfigError, match="items"):
        SqliteSchema(items="")
    with pytest.raises(ConfigError, match="differ"):
        SqliteSchema(bids="x", asks="x")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rename(src, dst, t):
    """Copy the sample into ``dst`` with tables/columns renamed per ``t`` (quoted identifiers)."""
    con = sqlite3.connect(dst)
    con.execute("ATTACH ? AS s", (str(src),))
    con.execute(f"CREATE TABLE {_q(t['items'])} ({_q(t['item_id'])} INTEGER PRIMARY KEY, {_q(t['timestamp'])} TEXT)")
    con.execute(f"INSERT INTO {_q(t['items'])} SELECT id, timestamp FROM s.items")
    for side in ("bids", "asks"):
        con.execute(f"CREATE TABLE {_q(t[side])} ({_q(t['level_id'])} INTEGER PRIMARY KEY, {_q(t['level_item'])} INT, "
                    f"{_q(t['price'])} REAL, {_q(t['quantity'])} REAL)")
        con.execute(f"INSERT INTO {_q(t[side])} SELECT id, item_id, price, quantity FROM s.{side}")
    con.commit()
    con.close()


def test_column_mapping_and_hostile_names_are_quoted_not_formatted(tmp_path):
    src = write_sample_db(tmp_path / "s.db", 50, seed=1)
    new = {"items": 'snap"; DROP TABLE bids; --', "item_id": "sid", "timestamp": "at", "bids": "b i d s",
           "asks": "Asks'", "level_id": "lid", "level_item": "snap_id", "price": "px", "quantity": "qty"}
    _rename(src, tmp_path / "m.db", new)
    with pytest.raises(SchemaError, match="missing table 'items'"):
        SqliteReader(tmp_path / "m.db")
    mapped = _all(tmp_path / "m.db", SqliteSchema(**new))
    plain = _all(src)
    assert np.array_equal(np.concatenate([b.source_id for b in mapped]), np.concatenate([b.source_id for b in plain]))
    assert np.array_equal(np.concatenate([b.bids.price for b in mapped]),
                          np.concatenate([b.bids.price for b in plain]))
    con = sqlite3.connect(tmp_path / "m.db")  # nothing was dropped
    assert con.execute('SELECT count(*) FROM "b i d s"').fetchone()[0] == 50 * 20
    with pytest.raises(SchemaError, match="DROP"):  # a hostile name that is not a table is just missing
        SqliteReader(src, SqliteSchema(bids="bids; DROP TABLE asks"))
    assert sqlite3.connect(src).execute("SELECT count(*) FROM asks").fetchone()[0] == 1000


@pytest.mark.parametrize("fmt,conv", [
    ("text", lambda us: datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")),
    ("iso_z", lambda us: datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    ("offset", lambda us: datetime.fromtimestamp(us / 1e6, UTC).astimezone(
        timezone(__import__("datetime").timedelta(hours=2))).isoformat()),
    ("epoch_s", lambda us: us / 1e6),
    ("epoch_ms", lambda us: us // 1000),
])
def test_timestamp_formats_are_detected(tmp_path, fmt, conv):
    src = write_sample_db(tmp_path / "s.db", 40, seed=2)
    want = np.concatenate([b.ts_us for b in _all(src)])
    if fmt == "epoch_ms":
        want = want // 1000 * 1000
    con = sqlite3.connect(src)
    for i, us in zip(range(1, 41), want.tolist(), strict=True):
        con.execute("UPDATE items SET timestamp = ? WHERE id = ?", (conv(us), i))
    con.commit()
    con.close()
    with SqliteReader(src) as r:
        assert r.ts_format == {"iso_z": "text", "offset": "text"}.get(fmt, fmt)
    got = np.concatenate([b.ts_us for b in _all(src)])
    tol = 1 if fmt == "epoch_s" else 0  # float seconds carry ~0.2 us of rounding
    assert np.abs(got - want).max() <= tol


def test_unparseable_timestamp_is_rejected_by_id(tmp_path):
    src = write_sample_db(tmp_path / "s.db", 30, seed=2)
    con = sqlite3.connect(src)
    con.execute("UPDATE items SET timestamp = 'yesterday-ish' WHERE id = 12")
    con.commit()
    con.close()
    rej = [r for b in _all(src) for r in b.rejections]
    assert [(r.table, r.row_id, r.field) for r in rej] == [("items", 12, "timestamp")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800_000_000), min_size=1, max_size=50))
def test_text_timestamps_round_trip(us):
    text = [datetime.fromtimestamp(u // 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            + f".{u % 1_000_000:06d}" for u in us]
    got, ok = parse_timestamps(text, "text")
    assert ok.all() and got.tolist() == us
