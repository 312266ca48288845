"""The packed level column and binary COPY: formats round-trip, the packed column equals the JSONB value for
value on a real server, the JSON-only fallback, and the SQLite reader's order detection."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import polars as pl
import psycopg2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg2 import sql

from lobkit.data import sqlite as sqlite_mod
from lobkit.data.books import Side, clean, parse_side_json
from lobkit.data.migrate import migrate
from lobkit.data.pgcopy import (
    PG_EPOCH_US,
    CopyFormatError,
    encode_batch,
    fixed_column,
    frame_copy_binary,
    gather,
    pack_levels,
    text_column,
    unpack_levels,
)
from lobkit.data.sample import write_sample_db
from lobkit.data.sqlite import SqliteReader
from lobkit.data.stream import stream_db, stream_sqlite
from lobkit.data.timescale import DbConfig, has_packed, init_db

NAMES = {"items": "items", "bids": "bids", "asks": "asks", "timestamp": "timestamp", "price": "price",
         "quantity": "quantity", "item_id": "item_id"}
_floats = st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False)


def _side(counts, values) -> Side:
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    v = np.asarray(values[: 2 * int(offsets[-1])] + [1.0] * max(0, 2 * int(offsets[-1]) - len(values)), float)
    return Side(offsets, v[0::2].copy(), v[1::2].copy())


def _equal(a: Side, b: Side) -> bool:
    return (np.array_equal(a.offsets, b.offsets) and np.array_equal(a.price, b.price)
            and np.array_equal(a.qty, b.qty))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30),
       st.lists(_floats, min_size=0, max_size=400), st.integers(0, 2**40))
def test_copy_stream_and_packed_round_trip(shape, values, ts0):
    nb, na = np.array([s[0] for s in shape]), np.array([s[1] for s in shape])
    bids, asks = _side(nb, values), _side(na, values[::-1])
    n = len(shape)
    ts = ts0 + np.arange(n, dtype=np.int64) * 1000
    sid = np.arange(n, dtype=np.int64) + 7
    for packed in (True, False):
        data = encode_batch(ts, bids, asks, sid, packed)
        nf = 5 if packed else 4
        fs, fl = frame_copy_binary(data, nf, n)
        assert fs.shape == (n, nf)
        got_ts, _ = fixed_column(data, fs[:, 0], fl[:, 0], ">i8")
        assert np.array_equal(got_ts + PG_EPOCH_US, ts)
        assert np.array_equal(fixed_column(data, fs[:, nf - 1], fl[:, nf - 1], ">i8")[0], sid)
        for col, side in ((1, bids), (2, asks)):  # the JSON text parses back to the very same floats
            text = pl.from_arrow(text_column(data, fs[:, col], fl[:, col], skip=1))
            assert " " not in "".join(text.to_list())
            assert _equal(parse_side_json(text), side)
            assert [json.loads(t) for t in text.to_list()] == [
                [[float(p), float(q)] for p, q in zip(side.price[a:b], side.qty[a:b], strict=True)]
                for a, b in zip(side.offsets[:-1], side.offsets[1:], strict=True)]
        if packed:  # the compiled writer lays out exactly what the reference encoder does
            ref = pack_levels(bids, asks)
            buf, offs = gather(data, fs[:, 3], fl[:, 3])
            assert bytes(buf) == ref.buffers()[2].to_pybytes()[: int(offs[-1])]
            got_b, got_a = unpack_levels(buf, offs[:-1], np.diff(offs))
            assert _equal(got_b, bids) and _equal(got_a, asks)


def test_malformed_streams_and_values_are_named():
    s = Side(np.array([0, 1]), np.array([1.5]), np.array([2.0]))
    data = encode_batch(np.array([10**15]), s, s, np.array([1]), True)
    with pytest.raises(CopyFormatError, match="truncated"):
        frame_copy_binary(data[:-20], 5, 10)
    with pytest.raises(CopyFormatError, match="signature"):
        frame_copy_binary(np.frombuffer(b"PGCOPY\nxx" + bytes(30), np.uint8), 5, 10)
    with pytest.raises(CopyFormatError, match="expected 4 fields"):
        frame_copy_binary(data, 4, 10)
    fs, fl = frame_copy_binary(data, 5, 1)
    buf, offs = gather(data, fs[:, 3], fl[:, 3])
    with pytest.raises(CopyFormatError, match="table 't'.*value 0 has 24 bytes but its header says 1 bid"):
        unpack_levels(buf[:24], np.array([0]), np.array([24]), "table 't'")


def _check_packed_equals_jsonb(cfg: DbConfig) -> int:
    """Every row's packed levels equal its JSONB, float for float (JSON parsed by Python's json)."""
    conn = cfg.connect()
    cur = conn.cursor()
    cur.execute(sql.SQL("SELECT bids::text, asks::text, packed FROM {} ORDER BY ts").format(
        sql.Identifier(cfg.table)))
    rows = cur.fetchall()
    conn.close()
    blob = b"".join(bytes(r[2]) for r in rows)
    lengths = np.array([len(r[2]) for r in rows])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data = np.frombuffer(blob, np.uint8).copy()
    bids, asks = unpack_levels(data, starts, lengths)
    for i, (bj, aj, _) in enumerate(rows):
        for side, text in ((bids, bj), (asks, aj)):
            a, b = side.offsets[i], side.offsets[i + 1]
            assert json.loads(text) == [[p, q] for p, q in zip(side.price[a:b].tolist(), side.qty[a:b].tolist(),
                                                                 strict=True)]
    return len(rows)


@pytest.mark.tsdb
def test_packed_column_equals_jsonb_value_for_value(tsdb_cfg, lob_btc):
    conn = tsdb_cfg.connect()
    assert has_packed(conn, tsdb_cfg.table)
    conn.close()
    s = migrate(lob_btc, tsdb_cfg, batch_size=700, progress=False)
    assert s.inserted == 5011
    assert _check_packed_equals_jsonb(tsdb_cfg) == 5011


def _old_table(cfg: DbConfig) -> None:
    """The table as an earlier ``db init`` (or another tool) made it: JSONB only."""
    init_db(cfg)
    conn = cfg.connect()
    conn.cursor().execute(sql.SQL("ALTER TABLE {} DROP COLUMN packed").format(sql.Identifier(cfg.table)))
    conn.commit()
    conn.close()


@pytest.mark.tsdb
def test_json_only_tables_and_rows_fall_back_to_the_jsonb(tsdb_dsn, tmp_path):
    src = write_sample_db(tmp_path / "s.db", 3000, seed=9)
    want = pl.concat(list(stream_sqlite(src, chunk_size=1000)))
    cfg = DbConfig(tsdb_dsn)
    _old_table(cfg)
    conn = cfg.connect()
    assert not has_packed(conn, cfg.table)
    conn.close()
    assert migrate(src, cfg, batch_size=1000, progress=False).inserted == 3000  # writes the JSONB only
    got = pl.concat(list(stream_db(cfg, chunk_size=700)))
    assert got.equals(want)
    # `db init` again adds the column (metadata only); old rows keep NULL and are read from the JSONB, rows
    # written from now on carry packed levels: one chunk mixes both
    init_db(cfg)
    conn = cfg.connect()
    cur = conn.cursor()
    assert has_packed(conn, cfg.table)
    cur.execute("SELECT reloptions FROM pg_class WHERE relname = %s", (cfg.table,))
    assert "toast_tuple_target=8160" in cur.fetchone()[0]
    cur.execute("DELETE FROM lob_snapshots WHERE source_id % 3 = 0")
    conn.commit()
    s = migrate(src, cfg, batch_size=1000, progress=False)
    assert (s.inserted, s.already_present) == (1000, 2000)
    cur.execute("SELECT count(*) FILTER (WHERE packed IS NULL), count(packed) FROM lob_snapshots")
    assert cur.fetchone() == (2000, 1000)
    conn.close()
    for chunk in (1, 999, 5000):
        got = pl.concat(list(stream_db(cfg, chunk_size=chunk)))
        assert got.equals(want), chunk


@pytest.mark.tsdb
def test_plain_postgres_packed_round_trip(plain_dsn, lob_btc):
    cfg = DbConfig(plain_dsn)
    init_db(cfg)
    migrate(lob_btc, cfg, progress=False, connections=1)
    assert _check_packed_equals_jsonb(cfg) == 5011
    a = pl.concat(list(stream_sqlite(lob_btc, chunk_size=2000)))
    assert pl.concat(list(stream_db(cfg, chunk_size=2000))).equals(a)


def _shuffled_copy(src, dst, seed: int) -> None:
    """``src`` with the level rows of both sides stored in a random order (ids follow the new order)."""
    con = sqlite3.connect(dst)
    con.execute("ATTACH ? AS s", (str(src),))
    con.executescript("CREATE TABLE items AS SELECT * FROM s.items;")
    rng = np.random.default_rng(seed)
    for side in ("bids", "asks"):
        con.execute(f"CREATE TABLE {side} (id INTEGER PRIMARY KEY, item_id INTEGER, price REAL, quantity REAL)")
        rows = con.execute(f"SELECT item_id, price, quantity FROM s.{side} ORDER BY id").fetchall()
        order = rng.permutation(len(rows))
        con.executemany(f"INSERT INTO {side} (item_id, price, quantity) VALUES (?, ?, ?)", [rows[i] for i in order])
    con.commit()
    con.close()


def test_level_order_is_detected_and_unordered_files_are_sorted(tmp_path, monkeypatch):
    src = write_sample_db(tmp_path / "s.db", 300, seed=4)
    _shuffled_copy(src, tmp_path / "x.db", 1)
    with SqliteReader(src) as r:
        assert r._level_order("bids") == '"id"'  # collected order: no sort
    with SqliteReader(tmp_path / "x.db") as r:
        assert r._level_order("bids") == '"item_id", "id"'  # SQLite sorts
    monkeypatch.setattr(sqlite_mod, "_LEVEL_BATCH_ROWS", 7)  # many Arrow batches per snapshot batch
    a = pl.concat(list(stream_sqlite(src, chunk_size=40)))
    b = pl.concat(list(stream_sqlite(tmp_path / "x.db", chunk_size=40)))
    assert a.drop("source_id").equals(b.drop("source_id")) and a.height == 300


def test_text_in_number_columns_after_the_first_arrow_batch(tmp_path, monkeypatch):
    """Arrow infers a column's type from its first batch: values of other types later must not break it."""
    src = write_sample_db(tmp_path / "s.db", 60, seed=4)
    con = sqlite3.connect(src)
    con.execute("UPDATE bids SET price = 'NaN' WHERE id <= 30")  # the whole first Arrow batch is text
    con.execute("UPDATE asks SET quantity = 'lots' WHERE id = 700")
    con.execute("UPDATE bids SET price = 236 WHERE id = 701")  # an INTEGER in a REAL column is fine
    con.commit()
    con.close()
    monkeypatch.setattr(sqlite_mod, "_LEVEL_BATCH_ROWS", 30)
    with SqliteReader(src) as r:
        batches = [clean(raw, NAMES, r.duplicate_timestamp_ids()) for raw in r.batches(25)]
    rej = {(x.table, x.row_id, x.field) for b in batches for x in b.rejections}
    assert rej == {("bids", i, "price") for i in range(1, 31)} | {("asks", 700, "quantity")}
    kept = np.concatenate([b.source_id for b in batches])
    assert set(range(1, 61)) - set(kept.tolist()) == {1, 2, 35}
    assert any(236.0 in b.bids.price for b in batches)


@pytest.mark.tsdb
def test_two_connections_commit_whole_batches(tsdb_cfg, tmp_path):
    src = write_sample_db(tmp_path / "s.db", 5000, seed=3)
    s = migrate(src, tsdb_cfg, batch_size=300, progress=False, connections=2)
    assert s.inserted == 5000
    conn = psycopg2.connect(tsdb_cfg.dsn)
    cur = conn.cursor()
    cur.execute("SELECT count(*), count(DISTINCT ts), min(source_id), max(source_id) FROM lob_snapshots")
    assert cur.fetchone() == (5000, 5000, 1, 5000)
    conn.close()
    again = migrate(src, tsdb_cfg, batch_size=300, progress=False, connections=3)
    assert (again.inserted, again.already_present) == (0, 5000)
