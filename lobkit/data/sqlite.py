"""Read order-book snapshots from a SQLite file in batches, never the whole file into memory.

The expected layout (the one of ``lob-btc.db``) is three tables::

    items(id INTEGER PRIMARY KEY, timestamp DATETIME)          -- one row per snapshot
    bids(id INTEGER PRIMARY KEY, item_id, price, quantity)      -- one row per level
    asks(id INTEGER PRIMARY KEY, item_id, price, quantity)

Table and column names can be mapped with :class:`SqliteSchema`. Timestamps may be text (ISO 8601 or SQLite
``DATETIME`` text, UTC unless an offset is given), epoch seconds or epoch milliseconds; ``ts_format="auto"``
decides once per file from its first rows.

:class:`SqliteReader` walks ``items`` by keyset pagination on its id and merges each side's levels from one
forward-only cursor ordered by ``item_id`` (SQLite sorts on disk when there is no index), so memory is bounded
by the batch size whatever the file size. Every level row lands in exactly one batch; level rows whose
``item_id`` names no snapshot come back as *orphans* so that the caller can report them.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc_sqlite
import numpy as np
import polars as pl
import pyarrow as pa
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from lobkit.data.errors import ConfigError, InputFormatError, SchemaError, check_int
from lobkit.data.sources import SnapshotSource, SnapshotStream

TS_FORMATS = ("auto", "text", "epoch_s", "epoch_ms")
_quote = SQLiteDialect().identifier_preparer.quote_identifier  # proper SQL identifier quoting, never format
_LEVEL_BATCH_ROWS = 65_536  # rows per Arrow batch of a level stream
# text timestamp layouts tried in order (the first that parses a value wins); offsets are converted to UTC
_TEXT_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
)


@dataclass(frozen=True)
class SqliteSchema:
    """Names of the tables and columns of a snapshot file, and how its timestamps are stored.

    Every field is a name in the file, except ``ts_format``: ``"auto"`` (detect), ``"text"``,
    ``"epoch_s"`` or ``"epoch_ms"``.
    """

    items: str = "items"
    item_id: str = "id"
    timestamp: str = "timestamp"
    bids: str = "bids"
    asks: str = "asks"
    level_id: str = "id"
    level_item: str = "item_id"
    price: str = "price"
    quantity: str = "quantity"
    ts_format: str = "auto"

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, str) or not v.strip():
                shown = f"'{v}'" if isinstance(v, str) else f"{v} (a {type(v).__name__})"
                raise ConfigError(f"SqliteSchema.{f.name} must be a non-empty string, got {shown}")
        if self.ts_format not in TS_FORMATS:
            raise ConfigError(f"SqliteSchema.ts_format must be one of {', '.join(TS_FORMATS)}, got {self.ts_format}")
        if self.bids == self.asks:
            raise ConfigError(f"SqliteSchema.bids and .asks must differ, both are '{self.bids}'")


@dataclass(frozen=True)
class Levels:
    """Level rows of one side, sorted by (item_id, row id). ``price``/``qty`` are NaN where not a number."""

    row_id: np.ndarray
    item_id: np.ndarray
    price: np.ndarray
    qty: np.ndarray

    def __len__(self) -> int:
        return len(self.row_id)

    def take(self, mask: np.ndarray) -> Levels:
        return Levels(self.row_id[mask], self.item_id[mask], self.price[mask], self.qty[mask])


@dataclass(frozen=True)
class RawBatch:
    """One batch as read: snapshots (by id), their levels, and level rows whose snapshot does not exist."""

    item_id: np.ndarray  # int64, ascending
    ts_us: np.ndarray  # int64 epoch microseconds UTC (undefined where not ts_ok)
    ts_ok: np.ndarray  # bool: the timestamp parsed
    bids: Levels
    asks: Levels
    orphan_bids: Levels
    orphan_asks: Levels


def parse_timestamps(values: list | pl.Series, ts_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised conversion of raw timestamp values to (epoch microseconds int64, parsed-ok mask)."""
    n = len(values)
    if ts_format in ("epoch_s", "epoch_ms"):
        s = values.cast(pl.Float64, strict=False) if isinstance(values, pl.Series) else \
            pl.Series(values, dtype=pl.Float64, strict=False)
        v = s.to_numpy().astype(np.float64, copy=False)
        ok = np.isfinite(v)
        scale = 1e6 if ts_format == "epoch_s" else 1e3
        us = np.zeros(n, np.int64)
        us[ok] = np.round(v[ok] * scale).astype(np.int64)
        return us, ok
    s = values.cast(pl.String, strict=False) if isinstance(values, pl.Series) else \
        pl.Series(values, dtype=pl.String, strict=False)
    s = s.str.strip_chars()
    out = pl.Series([None] * n, dtype=pl.Int64)
    for fmt in _TEXT_FORMATS:
        if out.null_count() == 0:
            break
        parsed = s.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC" if "z" in fmt else None)
        if "z" not in fmt:
            parsed = parsed.dt.replace_time_zone("UTC")
        out = out.fill_null(parsed.dt.epoch("us"))
    ok = out.is_not_null().to_numpy()
    return out.fill_null(0).to_numpy().astype(np.int64), ok


def _typed(col: str, kind: str) -> str:
    """A SQL expression giving ``col`` with one storage type on every row, so that Arrow's per-column type
    inference (from the first rows) holds for the whole stream: ``"real"`` (numbers as REAL, anything else
    ``-9e999``, i.e. -inf, turned into NaN later), ``"int"`` (integers, else -1) or ``"text"`` (else '')."""
    c = _quote(col)
    if kind == "real":
        return f"CASE typeof({c}) WHEN 'real' THEN {c} WHEN 'integer' THEN {c} * 1.0 ELSE -9e999 END"
    if kind == "int":
        return f"CASE typeof({c}) WHEN 'integer' THEN {c} ELSE -1 END"
    return f"CASE typeof({c}) WHEN 'text' THEN {c} ELSE '' END"


def unreadable(path, exc: BaseException) -> InputFormatError:
    """One line for a SQLite file the driver cannot read (damaged pages, not a database, locked, ...)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in ("IO: Failed to step query: ", "IO: ", "INTERNAL: "):
        msg = msg.removeprefix(prefix)
    low = msg.lower()
    if "not a database" in low:
        msg = f"not a readable SQLite database ({msg})"
    elif "malformed" in low or "corrupt" in low:
        msg = f"the SQLite file is damaged ({msg})"
    else:
        msg = f"cannot read the SQLite file ({msg})"
    return InputFormatError(path, None, msg)


class _ArrowStream:
    """Record batches of one SQLite query, read through the ADBC SQLite driver (C, Arrow, no Python objects
    per row) by a background thread a couple of batches ahead. The driver releases the GIL while it steps the
    query, so several streams (items, bids, asks) are read in parallel."""

    _DONE = object()

    def __init__(self, uri: str, query: str, batch_rows: int, depth: int = 2, path: Path | None = None):
        self._path = path
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, args=(uri, query, int(batch_rows)), daemon=True,
                                    name="lobkit-sqlite-stream")
        self._th.start()

    def _run(self, uri: str, query: str, batch_rows: int) -> None:
        try:
            with adbc_sqlite.connect(uri) as conn, conn.cursor() as cur:
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
                cur.execute(query)
                for rb in cur.fetch_record_batch():
                    if not self._put(rb):
                        return
            self._put(self._DONE)
        except adbc_driver_manager.Error as exc:  # a damaged file: one line naming it
            self._put(unreadable(self._path or uri, exc))
        except BaseException as exc:  # handed to the consumer
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                item = self._q.get()
                if item is self._DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._th.join(timeout=10)


class _Buffered:
    """A record-batch stream handed out a prefix at a time (slices of Arrow batches: no copies but one
    concatenation when a prefix spans batches)."""

    def __init__(self, stream: _ArrowStream):
        self._it = iter(stream)
        self._batches: list[pa.RecordBatch] = []
        self._n = 0  # rows buffered
        self.done = False

    def _pull(self) -> None:
        rb = next(self._it, None)
        if rb is None:
            self.done = True
        elif rb.num_rows:
            self._batches.append(rb)
            self._n += rb.num_rows

    def _joined(self) -> pa.RecordBatch:
        if len(self._batches) > 1:
            self._batches = [pa.concat_batches(self._batches)]
        return self._batches[0]

    def take(self, k: int | None) -> pa.RecordBatch | None:
        """The first ``k`` rows (all that remain if ``k`` is None or more than remain); None if none remain."""
        while not self.done and (k is None or self._n < k):
            self._pull()
        if not self._batches:
            return None
        rb = self._joined()
        k = self._n if k is None else min(k, self._n)
        head, rest = rb.slice(0, k), rb.slice(k)
        self._batches, self._n = ([rest] if rest.num_rows else []), self._n - k
        return head

    def take_upto(self, key: int, hi: int | None) -> pa.RecordBatch | None:
        """Rows while column ``key`` (non-decreasing int64) is <= ``hi`` (all remaining rows if None)."""
        if hi is None:
            return self.take(None)
        while not self.done and (self._n == 0 or self._batches[-1].column(key)[-1].as_py() <= hi):
            self._pull()
        if not self._batches:
            return None
        keys = self._joined().column(key).to_numpy()
        return self.take(int(np.searchsorted(keys, hi, side="right")))


_NO_LEVELS = Levels(*(np.empty(0, t) for t in (np.int64, np.int64, np.float64, np.float64)))


def _levels(rb: pa.RecordBatch | None) -> Levels:
    if rb is None or rb.num_rows == 0:
        return _NO_LEVELS
    row_id, item, price, qty = (rb.column(i).to_numpy(zero_copy_only=False) for i in range(4))
    price, qty = price.astype(np.float64, copy=True), qty.astype(np.float64, copy=True)
    price[np.isneginf(price)] = np.nan  # not a number in the file (see _typed)
    qty[np.isneginf(qty)] = np.nan
    return Levels(row_id.astype(np.int64, copy=False), item.astype(np.int64, copy=False), price, qty)


class SqliteReader:
    """A snapshot file opened read-only, its schema checked. Use as a context manager.

    >>> with SqliteReader("lob-btc.db") as r:          # doctest: +SKIP
    ...     for batch in r.batches(batch_size=10_000):
    ...         ...
    """

    def __init__(self, path: str | Path, schema: SqliteSchema | None = None):
        self.path = Path(path)
        self.schema = schema or SqliteSchema()
        if not self.path.exists():
            raise InputFormatError(self.path, None, "no such SQLite file")
        if not self.path.is_file():
            raise InputFormatError(self.path, None, "is not a file (a SQLite snapshot file was expected)")
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise unreadable(self.path, exc) from None
        try:
            self._fetch("SELECT count(*) FROM sqlite_master")
            self._check_schema()
            self.ts_format = self._detect_ts_format()
        except BaseException:
            self._conn.close()
            raise

    # -- context manager -------------------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fetch(self, query: str, params: tuple = (), one: bool = False):
        """Run a query on the file; a damaged file (or any SQLite error) is one :class:`InputFormatError`."""
        try:
            cur = self._conn.execute(query, params)
            return cur.fetchone() if one else cur.fetchall()
        except sqlite3.Error as exc:
            raise unreadable(self.path, exc) from None

    # -- schema ------------------------------------------------------------------------------------------
    def _columns(self, table: str) -> set[str]:
        rows = self._fetch("SELECT name FROM pragma_table_info(?)", (table,))
        return {r[0] for r in rows}

    def _check_schema(self) -> None:
        s = self.schema
        want = {
            s.items: (s.item_id, s.timestamp),
            s.bids: (s.level_id, s.level_item, s.price, s.quantity),
            s.asks: (s.level_id, s.level_item, s.price, s.quantity),
        }
        problems = []
        for table, cols in want.items():
            have = self._columns(table)
            if not have:
                problems.append(f"missing table {table!r}")
                continue
            missing = [c for c in cols if c not in have]
            if missing:
                problems.append(f"table {table!r} lacks column(s) {', '.join(map(repr, missing))}")
        if problems:
            raise SchemaError(self.path, None, "; ".join(problems) + " (map names with SqliteSchema / --map)")

    def _detect_ts_format(self) -> str:
        if self.schema.ts_format != "auto":
            return self.schema.ts_format
        s = self.schema
        rows = self._fetch(
            f"SELECT typeof({_quote(s.timestamp)}), {_quote(s.timestamp)} FROM {_quote(s.items)} "
            f"WHERE {_quote(s.timestamp)} IS NOT NULL ORDER BY {_quote(s.item_id)} LIMIT 1000"
        )
        numeric = [v for t, v in rows if t in ("integer", "real")]
        if not rows or len(numeric) * 2 < len(rows):
            return "text"
        return "epoch_ms" if float(np.median(np.abs(numeric))) > 1e11 else "epoch_s"

    # -- reading -----------------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of snapshot rows in the items table."""
        return int(self._fetch(f"SELECT count(*) FROM {_quote(self.schema.items)}", one=True)[0])

    def duplicate_timestamp_ids(self) -> np.ndarray:
        """Ids of snapshots whose raw timestamp equals that of a snapshot with a smaller id (SQLite does the work)."""
        s = self.schema
        i, t, items = _quote(s.item_id), _quote(s.timestamp), _quote(s.items)
        rows = self._fetch(
            f"SELECT a.{i} FROM {items} a JOIN (SELECT {t} AS t, min({i}) AS first FROM {items} GROUP BY {t} "
            f"HAVING count(*) > 1) d ON a.{t} = d.t AND a.{i} > d.first"
        )
        return np.sort(np.asarray([r[0] for r in rows], dtype=np.int64))

    def _uri(self) -> str:
        return f"{self.path.resolve().as_uri()}?mode=ro"

    def _sorts(self, query: str) -> bool:
        """Whether SQLite needs a temporary B-tree (a sort of the whole table) to run ``query``."""
        plan = self._fetch("EXPLAIN QUERY PLAN " + query)
        return any("TEMP B-TREE" in str(r[-1]) for r in plan)

    def _level_sql(self, table: str, order: str) -> str:
        s = self.schema
        return (f"SELECT CAST({_quote(s.level_id)} AS INTEGER), {_typed(s.level_item, 'int')}, "
                f"{_typed(s.price, 'real')}, {_typed(s.quantity, 'real')} FROM {_quote(table)} ORDER BY {order}")

    def _level_order(self, table: str) -> str:
        """The cheapest ORDER BY that yields the level rows of ``table`` sorted by snapshot id.

        ``item_id, id`` when an index gives that order. Otherwise, when the rows in id order (the table's own
        order for an ``INTEGER PRIMARY KEY``, as collected files are written) already have non-decreasing
        snapshot ids -- checked over the whole table by one pass over that single column -- ``id``: no sort.
        Otherwise ``item_id, id`` and SQLite sorts (on disk, bounded memory).
        """
        s = self.schema
        by_item = f"{_quote(s.level_item)}, {_quote(s.level_id)}"
        by_id = _quote(s.level_id)
        probe = f"SELECT {_quote(s.level_id)}, {_quote(s.level_item)} FROM {_quote(table)} ORDER BY "
        if not self._sorts(probe + by_item) or self._sorts(probe + by_id):
            return by_item
        check = f"SELECT {_typed(s.level_item, 'int')} FROM {_quote(table)} ORDER BY {by_id}"
        last = -(2**63)
        stream = _ArrowStream(self._uri(), check, 1 << 20, path=self.path)
        try:
            for rb in stream:
                item = rb.column(0).to_numpy(zero_copy_only=False)
                if len(item) and (item[0] < last or np.any(item[1:] < item[:-1])):
                    return by_item
                if len(item):
                    last = int(item[-1])
        finally:
            stream.close()
        return by_id

    def batches(self, batch_size: int = 20_000) -> Iterator[RawBatch]:
        """Yield :class:`RawBatch` es of up to ``batch_size`` snapshots in id order (bounded memory).

        Prices or quantities that are NULL or not numbers come back as NaN (``-inf`` marks them on the way).
        The three tables are read as Arrow batches by the ADBC SQLite driver, each in its own thread.
        """
        batch_size = check_int("batch_size", batch_size, 1, 10_000_000)
        s = self.schema
        epoch = self.ts_format.startswith("epoch")
        item_sql = (f"SELECT CAST({_quote(s.item_id)} AS INTEGER), {_typed(s.timestamp, 'real' if epoch else 'text')} "
                    f"FROM {_quote(s.items)} ORDER BY {_quote(s.item_id)}")
        uri = self._uri()
        orders = {table: self._level_order(table) for table in (s.bids, s.asks)}
        streams = [_ArrowStream(uri, item_sql, batch_size, path=self.path)]
        streams += [_ArrowStream(uri, self._level_sql(table, orders[table]), _LEVEL_BATCH_ROWS, path=self.path)
                    for table in (s.bids, s.asks)]
        try:
            items = _Buffered(streams[0])
            levels = {"bids": _Buffered(streams[1]), "asks": _Buffered(streams[2])}
            while True:
                got = items.take(batch_size)
                final = got is None or got.num_rows < batch_size
                if got is not None:
                    ids = got.column(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
                    raw_ts = pl.from_arrow(got.column(1))
                    raw_ts = raw_ts.replace(float("-inf") if epoch else "", None)  # not of the format's type
                    ts_us, ok = parse_timestamps(raw_ts, self.ts_format)
                else:
                    ids, ts_us, ok = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)
                hi = None if final else int(ids[-1])
                sides = {}
                for side, buf in levels.items():
                    lv = _levels(buf.take_upto(1, hi))
                    known = member_sorted(lv.item_id, ids)
                    sides[side] = (lv, _NO_LEVELS) if known.all() else (lv.take(known), lv.take(~known))
                if len(ids) or len(sides["bids"][1]) or len(sides["asks"][1]):
                    yield RawBatch(ids, ts_us, ok, sides["bids"][0], sides["asks"][0], sides["bids"][1],
                                   sides["asks"][1])
                if final:
                    return
        finally:
            for st in streams:
                st.close()


def member_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_keys)`` for ascending ``sorted_keys``, without sorting ``values``.

    Non-decreasing ``values`` (level rows grouped by snapshot) are marked by the ranges each key covers (two
    binary searches per key, not per value); contiguous keys are a range test; anything else binary-searches
    each value.
    """
    if len(sorted_keys) == 0 or len(values) == 0:
        return np.zeros(len(values), bool)
    lo, hi = sorted_keys[0], sorted_keys[-1]
    if hi - lo + 1 == len(sorted_keys):  # contiguous ids: a range test
        return (values >= lo) & (values <= hi)
    if len(values) > 1 and bool(np.all(values[1:] >= values[:-1])):
        starts = np.searchsorted(values, sorted_keys, side="left")
        ends = np.searchsorted(values, sorted_keys, side="right")
        cover = np.bincount(starts, minlength=len(values) + 1) - np.bincount(ends, minlength=len(values) + 1)
        return np.cumsum(cover[:-1]) > 0
    pos = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[pos] == values


_SQLITE_MAGIC = b"SQLite format 3\x00"


class SqliteSource(SnapshotSource):
    """A SQLite snapshot file (the layout of ``lob-btc.db``) as a data source.

    Options: ``schema`` (a :class:`SqliteSchema`, for other table/column names or timestamp formats)."""

    suffixes = (".db", ".sqlite", ".sqlite3")

    def __init__(self, location: str, *, schema: SqliteSchema | None = None):
        super().__init__(location)
        if schema is not None and not isinstance(schema, SqliteSchema):
            raise ConfigError(f"sqlite source: schema must be a SqliteSchema, got a {type(schema).__name__}")
        self.schema = schema

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.suffix.lower() in cls.suffixes:
            return True
        try:
            with path.open("rb") as f:
                return f.read(16) == _SQLITE_MAGIC
        except OSError:
            return False

    def snapshots(self, chunk_size: int = 50_000, start=None, end=None) -> SnapshotStream:
        from lobkit.data.stream import stream_sqlite

        return stream_sqlite(self.location, self.schema, chunk_size=chunk_size, start=start, end=end)
