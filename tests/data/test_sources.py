"""The source registry (open_source, register_source), the common chunk layout of every source, LOBSTER
messages, and first_book: exact, checked, from any snapshot source."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lobkit.data import sources
from lobkit.data.books import Side, to_frame
from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.lobster import LobsterSource, read_lobster
from lobkit.data.sample import write_sample_db
from lobkit.data.sources import (
    InitialBook,
    SnapshotSource,
    SnapshotStream,
    first_book,
    open_source,
    register_source,
    registered_sources,
)
from lobkit.data.sqlite import SqliteSource
from lobkit.data.timescale import TimescaleSource

from .conftest import require_data

AMZN5 = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
LAYOUT = {"ts": pl.Datetime("us", "UTC"), "bid_px": pl.List(pl.Float64), "bid_qty": pl.List(pl.Float64),
          "ask_px": pl.List(pl.Float64), "ask_qty": pl.List(pl.Float64), "source_id": pl.Int64}


@pytest.fixture
def sample(tmp_path) -> Path:
    return write_sample_db(tmp_path / "s.db", 200, seed=3)


# ---------------------------------------------------------------------------------------------- open_source
def test_specs_pick_their_source(tmp_path, sample):
    bare = tmp_path / "snapshots_without_suffix"
    bare.write_bytes(sample.read_bytes())  # recognised by its SQLite header
    z = require_data(AMZN5)
    cases = [
        (str(sample), SqliteSource, str(sample)),
        (sample, SqliteSource, str(sample)),
        (f"sqlite:{sample}", SqliteSource, str(sample)),
        (str(bare), SqliteSource, str(bare)),
        (str(z), LobsterSource, str(z)),
        (f"lobster:{z}", LobsterSource, str(z)),
        (str(tmp_path / "X_2012-06-21_0_1_message_1.csv"), LobsterSource, None),
    ]
    for spec, cls, location in cases:
        src = open_source(spec)
        assert type(src) is cls, spec
        if location is not None:
            assert src.location == location
    pg = open_source("postgresql://u:s3cret@127.0.0.1:5432/market_sim_lob")
    assert isinstance(pg, TimescaleSource) and pg.cfg.table == "lob_snapshots"
    assert "s3cret" not in pg.description and "***" in pg.description
    pg = open_source("postgresql://u:s3cret@127.0.0.1:5432/market_sim_lob?table=amzn_5")
    assert pg.cfg.table == "amzn_5" and "table" not in pg.cfg.dsn
    assert open_source("timescale:postgresql://u@h/db", table="x").cfg.table == "x"
    with pytest.raises(ConfigError, match="given twice"):
        open_source("postgresql://u@h/db?table=a", table="b")


@pytest.mark.parametrize("spec,error,match", [
    ("ftp://example/x.db", ConfigError, "no registered source reads ftp://"),
    ("notes.txt", InputFormatError, "no such file"),
    ("", ConfigError, "empty"),
])
def test_specs_nothing_takes_are_refused(tmp_path, spec, error, match):
    with pytest.raises(error, match=match):
        open_source(spec)


def test_an_existing_file_of_unknown_kind_and_bad_options(tmp_path, sample):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(ConfigError, match="cannot tell what kind of source"):
        open_source(f)
    with pytest.raises(ConfigError, match="table"):
        open_source(sample, table="x")  # a SQLite source has no table option
    with pytest.raises(ConfigError, match="unknown time zone Mars/Olympus"):
        open_source(require_data(AMZN5), tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="snapshots only"):
        open_source(sample).messages()


# ---------------------------------------------------------------------------------------------- plug-in
class ConstantSource(SnapshotSource):
    """A source from outside the package: N copies of one book, one second apart (``const:N``)."""

    def snapshots(self, chunk_size=50_000, start=None, end=None) -> SnapshotStream:
        n = int(self.location)

        def frames(stream):
            for lo in range(0, n, chunk_size):
                k = min(chunk_size, n - lo)
                off = np.arange(k + 1, dtype=np.int64) * 2
                bids = Side(off, np.tile([100.01, 100.0], k), np.full(2 * k, 1.5))
                asks = Side(off, np.tile([100.03, 100.04], k), np.full(2 * k, 2.0))
                yield to_frame((lo + np.arange(k)) * 1_000_000, bids, asks, lo + np.arange(k) + 1)

        return SnapshotStream(frames, f"const:{n}")


def test_a_new_source_is_one_class_and_one_register_call():
    register_source("const-test", ConstantSource)
    try:
        assert registered_sources()["const-test"] is ConstantSource
        frames = list(open_source("const-test:5").snapshots(chunk_size=2))
        assert [f.height for f in frames] == [2, 2, 1]
        assert all(dict(f.schema) == LAYOUT for f in frames)
        book = first_book("const-test:3", tick_size=0.01, lot_size=0.5)
        assert book.price.tolist() == [10001, 10000, 10003, 10004] and book.size.tolist() == [3, 3, 4, 4]
        assert book.side.tolist() == [1, 1, -1, -1] and book.rounded == 0 and book.ts == 0
        with pytest.raises(ConfigError, match="registered already"):
            register_source("const-test", SqliteSource)
        register_source("const-test", ConstantSource)  # the same class again is fine
    finally:
        sources._REGISTRY.pop("const-test", None)
    with pytest.raises(ConfigError, match="not a subclass"):
        register_source("nope", dict)
    with pytest.raises(ConfigError, match="source name"):
        register_source("X", ConstantSource)


# ---------------------------------------------------------------------------------------------- layout
def test_every_file_source_yields_the_common_layout(sample):
    for spec in (sample, require_data(AMZN5)):
        stream = open_source(spec).snapshots(chunk_size=70)
        first = next(stream)
        stream.close()
        assert dict(first.schema) == LAYOUT, spec
        assert first.height == 70 and first["ts"].is_sorted()


def test_lobster_source_snapshots_and_messages():
    from lobkit.engine.messages import FLAG_POST_ONLY, MESSAGE_DTYPE, OP_CANCEL, OP_EXECUTE, OP_LIMIT, OP_REDUCE

    z = require_data(AMZN5)
    src = open_source(z)
    lf = read_lobster(z)
    m = src.messages()
    assert m.rows.dtype == MESSAGE_DTYPE and m.tick == 100
    assert len(m.rows) == int(np.count_nonzero(lf.typ <= 4))
    ops = {1: OP_LIMIT, 2: OP_REDUCE, 3: OP_CANCEL, 4: OP_EXECUTE}
    k = m.line - 1
    assert [ops[t] for t in lf.typ[k][:2000]] == m.rows["op"][:2000].tolist()
    assert (m.rows["flags"][m.rows["op"] == OP_LIMIT] == FLAG_POST_ONLY).all()
    assert (m.rows["price"] * m.tick == lf.price[k]).all() and (m.rows["oid"] == lf.oid[k]).all()
    assert (np.diff(m.rows["ts"]) >= 0).all()
    # 09:30:00.017459617 New York on 2012-06-21 (EDT, UTC-4) is 13:30:00.017459617 UTC
    first_add = m.rows["ts"][0]
    assert first_add == 1340285400 * 10**9 + lf.time_ns[k[0]] - 34200 * 10**9
    frames = list(src.snapshots(chunk_size=50_000))
    n = sum(f.height for f in frames)
    s = src.snapshots()
    assert sum(f.height for f in s) == n and s.rejected_snapshots == 0
    # times in UTC, one snapshot per microsecond
    ts = pl.concat(frames)["ts"]
    assert ts.is_sorted() and ts.n_unique() == n


# ---------------------------------------------------------------------------------------------- first_book
def test_first_book_of_the_real_file_is_exact(lob_btc):
    book = first_book(lob_btc, tick_size=0.01, lot_size=1e-8)
    con = sqlite3.connect(lob_btc)
    bids = con.execute("SELECT price, quantity FROM bids WHERE item_id = 1 ORDER BY price DESC").fetchall()
    asks = con.execute("SELECT price, quantity FROM asks WHERE item_id = 1 ORDER BY price").fetchall()
    assert isinstance(book, InitialBook) and book.snapshot_id == 1 and book.skipped == 0
    assert book.price.dtype == book.size.dtype == book.side.dtype == np.int64
    assert book.price.tolist() == [round(p * 100) for p, _ in bids + asks]
    assert book.size.tolist() == [round(q * 1e8) for _, q in bids + asks]
    assert book.rounded == 0 and book.ts == 1430438405885000000
    assert "lob-btc.db" in book.source and "snapshot 1" in book.source
    # coarser lots: quantities are rounded to the nearest lot (at least 1) and counted
    coarse = first_book(lob_btc, tick_size=0.01, lot_size=1.0)
    assert coarse.rounded == sum(q != int(q) for _, q in bids + asks) > 30 and coarse.size.min() >= 1
    assert coarse.size.tolist() == [max(1, int(np.floor(q + 0.5))) for _, q in bids + asks]


def test_first_book_of_lobster_and_of_the_database_agree_with_the_rows(tmp_path):
    z = require_data(AMZN5)
    book = first_book(z, tick_size=0.01, lot_size=1)
    row0 = read_lobster(z).book[0]
    assert book.price[book.side == 1].tolist() == (row0[2::4] // 100).tolist()
    assert book.price[book.side == -1].tolist() == (row0[0::4] // 100).tolist()
    assert book.size.tolist() == row0[3::4].tolist() + row0[1::4].tolist()


def _one_snapshot(path: Path, bids, asks, extra=()):
    """A file whose snapshot 1 has the given levels (then the ``extra`` snapshots), in the real schema."""
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE items (id INTEGER PRIMARY KEY, timestamp DATETIME NOT NULL);"
                      "CREATE TABLE bids (id INTEGER PRIMARY KEY, item_id INTEGER, price REAL, quantity REAL);"
                      "CREATE TABLE asks (id INTEGER PRIMARY KEY, item_id INTEGER, price REAL, quantity REAL);")
    for i, (b, a) in enumerate([(bids, asks), *extra], start=1):
        con.execute("INSERT INTO items VALUES (?, ?)", (i, f"2015-05-01 00:00:0{i}.000000"))
        con.executemany("INSERT INTO bids (item_id, price, quantity) VALUES (?, ?, ?)", [(i, p, q) for p, q in b])
        con.executemany("INSERT INTO asks (item_id, price, quantity) VALUES (?, ?, ?)", [(i, p, q) for p, q in a])
    con.commit()
    con.close()
    return path


GOOD_BIDS, GOOD_ASKS = [(236.51, 1.0), (236.50, 2.0)], [(236.53, 1.5), (236.60, 0.5)]


@pytest.mark.parametrize("bids,asks,tick,lot,match", [
    ([(236.515, 1.0)], GOOD_ASKS, 0.01, 1e-8, r"bid level 1: price 236\.515 is not on the tick grid of 0\.01 "
                                              r"\(236\.515 / 0\.01 = 23651\.5 ticks\)"),
    (GOOD_BIDS, [(236.53, 1.0), (236.555, 1.0)], 0.01, 1e-8, r"ask level 2: price 236\.555 is not on the tick"),
    ([(1e11, 1.0)], [(1.1e11, 1.0)], 1e-9, 1e-8, r"bid level 1: price 100000000000\.0 is 100000000000000000000 "
                                                 r"ticks of 1e-09, outside 1 to 2\*\*60"),
    (GOOD_BIDS, [(236.53, 1e4), (236.6, 1.0)], 0.01, 1e-9, r"ask level 1: quantity 10000\.0 is 10000000000000 lots"
                                                           r" of 1e-09, more than 2\*\*40"),
    ([(236.51, 1.0), (236.5100000001, 1.0)], GOOD_ASKS, 0.01, 1e-8, r"bid levels 1 and 2: both at 236\.51 "
                                                                     r"\(23651 ticks of 0\.01\): a duplicate"),
    ([(236.51, 1.0)], [(236.5100000001, 1.0)], 0.01, 1e-8, r"crossed or locked book in ticks of 0\.01: best bid "
                                                           r"23651 >= best ask 23651"),
    ([], GOOD_ASKS, 0.01, 1e-8, r"the bid side is empty"),
    (GOOD_BIDS, [], 0.01, 1e-8, r"the ask side is empty"),
])
def test_first_book_refuses_what_is_not_exact(tmp_path, bids, asks, tick, lot, match):
    p = _one_snapshot(tmp_path / "one.db", bids, asks)
    with pytest.raises(InputFormatError, match=match) as e:
        first_book(p, tick_size=tick, lot_size=lot)
    msg = str(e.value)
    assert msg.startswith(f"{p}: snapshot 1 (2015-05-01 00:00:01.000000 UTC)") and "\n" not in msg
    assert "np." not in msg and "Decimal" not in msg


def test_first_book_rounds_quantities_by_the_documented_rule(tmp_path):
    p = _one_snapshot(tmp_path / "q.db", [(236.51, 2.5e-8), (236.5, 0.4e-8)], [(236.53, 1e-8), (236.6, 3.49e-8)])
    book = first_book(p, tick_size=0.01, lot_size=1e-8)
    assert book.size.tolist() == [3, 1, 1, 3] and book.rounded == 3  # halves up, at least 1; 1e-8 is exact


def test_first_book_skips_invalid_snapshots_and_says_so(tmp_path):
    p = _one_snapshot(tmp_path / "huge.db", [(1e300, 1.0)], GOOD_ASKS, extra=[(GOOD_BIDS, [(236.53, 1e25)]),
                                                                             (GOOD_BIDS, GOOD_ASKS)])
    book = first_book(p, tick_size=0.01, lot_size=1e-8)
    assert book.snapshot_id == 3 and book.skipped == 2 and book.price[0] == 23651
    only_bad = _one_snapshot(tmp_path / "bad.db", [(1e300, 1.0)], GOOD_ASKS)
    with pytest.raises(InputFormatError, match=r"no valid snapshot; 1 snapshot\(s\) were rejected, the first: bids "
                                               r"row 1, field price: 1e\+300 is above the bound 1000000000000\.0"):
        first_book(only_bad, tick_size=0.01, lot_size=1e-8)


@pytest.mark.parametrize("tick,lot,match", [
    (float("nan"), 1.0, "tick_size must be a finite positive number, got nan"),
    (0.0, 1.0, "tick_size must be a finite positive number, got 0"),
    (-0.01, 1.0, "tick_size must be a finite positive number, got -0.01"),
    (0.01, float("inf"), "lot_size must be a finite positive number, got inf"),
    ("a", 1.0, "tick_size must be a positive number, got a"),
])
def test_first_book_checks_its_arguments(lob_btc, tick, lot, match):
    with pytest.raises(ConfigError, match=match):
        first_book(lob_btc, tick_size=tick, lot_size=lot)


def test_bounds_agree_with_the_engine():
    from lobkit.data import lobster, stream
    from lobkit.engine.book import MAX_SIZE, PRICE_LIMIT

    assert lobster.PRICE_LIMIT == stream._PRICE_LIMIT == PRICE_LIMIT and lobster.MAX_SIZE == MAX_SIZE
    from lobkit.data.books import MAX_PRICE, MAX_QUANTITY

    assert MAX_PRICE / 1e-6 < PRICE_LIMIT and MAX_QUANTITY < MAX_SIZE  # see lobkit.data.books
