"""Import LOBSTER orderbook files as snapshots, so that NASDAQ books flow like the Bitstamp ones.

A LOBSTER sample zip holds ``TICKER_DATE_34200000_57600000_orderbook_L.csv`` (row i: the book after message
i: askP1, askS1, bidP1, bidS1, askP2, ...; prices in dollars x 10000; empty levels ask 9999999999 / bid
-9999999999 with size 0) and ``..._message_L.csv`` whose first column is the time in seconds after midnight
(exchange local time, America/New_York, of the date in the file name). Each orderbook row becomes a snapshot
with ``source_id`` = its 1-based row number and ``ts`` converted to UTC.

``ts`` is the table's key with microsecond resolution, and many LOBSTER rows share a timestamp: of the rows
that fall on the same microsecond only the last is kept (the book once all those messages are applied); the
number of rows collapsed this way is reported. Use one table per ticker (``--table``) since the key is the
time alone.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lobkit.data.books import clean
from lobkit.data.errors import InputFormatError
from lobkit.data.migrate import MigrationSummary, ingest
from lobkit.data.sqlite import Levels, RawBatch
from lobkit.data.timescale import DbConfig

EMPTY_ASK, EMPTY_BID = 9999999999, -9999999999
_NAME = re.compile(r"(?P<ticker>[A-Za-z.]+)_(?P<date>\d{4}-\d{2}-\d{2})_\d+_\d+_orderbook_(?P<levels>\d+)\.csv$")


@dataclass(frozen=True)
class LobsterBook:
    """An orderbook file read whole (sample files are a few MB): raw rows, times and identification."""

    ticker: str
    date: str
    levels: int
    book: np.ndarray  # (n, 4 * levels) int64
    ts_us: np.ndarray  # (n,) epoch microseconds UTC
    row: np.ndarray  # (n,) 1-based row number in the orderbook file
    collapsed: int  # rows dropped because a later row has the same microsecond


def read_lobster_zip(path: str | Path, tz: str = "America/New_York") -> LobsterBook:
    """Read the orderbook and message times of a LOBSTER zip; errors name the file and the member."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(path, None, "no such file")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputFormatError(path, None, "not a zip file") from None
    with zf:
        books = [(m, _NAME.search(m)) for m in zf.namelist()]
        books = [(m, g) for m, g in books if g]
        if len(books) != 1:
            raise InputFormatError(path, None, "expected exactly one *_orderbook_L.csv member, found "
                                   f"{len(books)}")
        member, g = books[0]
        msg_member = member.replace("_orderbook_", "_message_")
        if msg_member not in zf.namelist():
            raise InputFormatError(path, None, f"missing {msg_member} (the times of the orderbook rows)")
        levels = int(g["levels"])
        try:
            book = pl.read_csv(zf.read(member), has_header=False,
                               schema={f"c{i}": pl.Int64 for i in range(4 * levels)}).to_numpy()
            times = pl.read_csv(zf.read(msg_member), has_header=False, columns=[0],
                                schema_overrides={"column_1": pl.Float64})[:, 0]
        except (pl.exceptions.ComputeError, pl.exceptions.PolarsError) as exc:
            raise InputFormatError(f"{path}:{member}", None, f"malformed LOBSTER CSV ({exc})") from None
    if len(times) != len(book):
        raise InputFormatError(f"{path}:{member}", None,
                               f"{len(book)} orderbook rows but {len(times)} messages")
    midnight = pl.Series([g["date"]]).str.to_datetime("%Y-%m-%d", time_unit="us")
    local = midnight.dt.replace_time_zone(tz)[0]
    base_us = int(pl.Series([local]).dt.epoch("us")[0])
    ts_us = base_us + np.round(times.to_numpy() * 1e6).astype(np.int64)
    keep = np.append(ts_us[1:] != ts_us[:-1], True)
    return LobsterBook(g["ticker"], g["date"], levels, book[keep], ts_us[keep], np.flatnonzero(keep) + 1,
                       int((~keep).sum()))


def _raw(lb: LobsterBook, lo: int, hi: int) -> RawBatch:
    n, L = hi - lo, lb.levels
    rows = lb.book[lo:hi].reshape(n, L, 4)
    ids = lb.row[lo:hi].astype(np.int64)

    def side(p_col: int, empty: int) -> Levels:
        price, size = rows[:, :, p_col], rows[:, :, p_col + 1]
        real = ~((price == empty) & (size == 0))
        item = np.broadcast_to(ids[:, None], (n, L))[real]
        return Levels(item.copy(), item.copy(), price[real] / 10000.0, size[real].astype(np.float64))

    empty = Levels(*(np.empty(0, t) for t in (np.int64, np.int64, np.float64, np.float64)))
    return RawBatch(ids, lb.ts_us[lo:hi], np.ones(n, bool), side(2, EMPTY_BID), side(0, EMPTY_ASK), empty, empty)


def import_lobster(path: str | Path, cfg: DbConfig, *, batch_size: int = 50_000, strict: bool = False,
                   progress: bool = True, tz: str = "America/New_York") -> tuple[MigrationSummary, LobsterBook]:
    """Store the orderbook rows of a LOBSTER zip as snapshots in ``cfg.table`` (idempotent, like migrate)."""
    lb = read_lobster_zip(path, tz)
    names = {"items": "orderbook", "bids": "orderbook(bid)", "asks": "orderbook(ask)", "timestamp": "time",
             "price": "price", "quantity": "size", "item_id": "row"}
    batches = (clean(_raw(lb, lo, min(lo + batch_size, len(lb.book))), names)
               for lo in range(0, len(lb.book), batch_size))
    summary = ingest(batches, cfg, source=str(path), total=len(lb.book), strict=strict, progress=progress)
    return summary, lb
