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

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy.dialects.sqlite.base import SQLiteDialect

from lobkit.data.errors import ConfigError, InputFormatError, SchemaError

TS_FORMATS = ("auto", "text", "epoch_s", "epoch_ms")
_quote = SQLiteDialect().identifier_preparer.quote_identifier  # proper SQL identifier quoting, never format
_FETCH_ROWS = 65_536
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
                raise ConfigError(f"SqliteSchema.{f.name} must be a non-empty string, got {v!r}")
        if self.ts_format not in TS_FORMATS:
            raise ConfigError(f"SqliteSchema.ts_format must be one of {TS_FORMATS}, got {self.ts_format!r}")
        if self.bids == self.asks:
            raise ConfigError(f"SqliteSchema.bids and .asks must differ, both are {self.bids!r}")


@dataclass(frozen=True)
class Levels:
    """Level rows of one side, sorted by (item_id, row id). ``price``/``qty`` are NaN where not a number."""

    row_id: np.ndarray
    item_id: np.ndarray
    price: np.ndarray
    qty: np.ndarray

    @classmethod
    def from_array(cls, a: np.ndarray) -> Levels:
        a = a.reshape(-1, 4)
        return cls(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].copy(), a[:, 3].copy())

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


def parse_timestamps(values: list, ts_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised conversion of raw timestamp values to (epoch microseconds int64, parsed-ok mask)."""
    n = len(values)
    if ts_format in ("epoch_s", "epoch_ms"):
        s = pl.Series(values, dtype=pl.Float64, strict=False)
        v = s.to_numpy().astype(np.float64, copy=False)
        ok = np.isfinite(v)
        scale = 1e6 if ts_format == "epoch_s" else 1e3
        us = np.zeros(n, np.int64)
        us[ok] = np.round(v[ok] * scale).astype(np.int64)
        return us, ok
    s = pl.Series(values, dtype=pl.String, strict=False).str.strip_chars()
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


class _LevelCursor:
    """One forward-only cursor over a level table ordered by item id, handed out up to an item id at a time."""

    def __init__(self, conn: sqlite3.Connection, sql: str):
        self._cur = conn.execute(sql)
        self._buf = np.empty((0, 4))
        self._done = False

    def take_upto(self, hi: int | None) -> Levels:
        while not self._done and (hi is None or len(self._buf) == 0 or self._buf[-1, 1] <= hi):
            rows = self._cur.fetchmany(_FETCH_ROWS)
            if not rows:
                self._done = True
                break
            self._buf = np.concatenate([self._buf, np.asarray(rows, dtype=np.float64)])
        k = len(self._buf) if hi is None else int(np.searchsorted(self._buf[:, 1], hi, side="right"))
        out, self._buf = self._buf[:k], self._buf[k:]
        return Levels.from_array(out)


class SqliteReader:
    """A snapshot file opened read-only, its schema checked. Use as a context manager.

    >>> with SqliteReader("lob-btc.db") as r:          # doctest: +SKIP
    ...     for batch in r.batches(batch_size=10_000):
    ...         ...
    """

    def __init__(self, path: str | Path, schema: SqliteSchema | None = None):
        self.path = Path(path)
        self.schema = schema or SqliteSchema()
        if not self.path.is_file():
            raise InputFormatError(self.path, None, "no such SQLite file")
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputFormatError(self.path, None, f"not a readable SQLite database ({exc})") from None
        self._check_schema()
        self.ts_format = self._detect_ts_format()

    # -- context manager -------------------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------------------
    def _columns(self, table: str) -> set[str]:
        rows = self._conn.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
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
        rows = self._conn.execute(
            f"SELECT typeof({_quote(s.timestamp)}), {_quote(s.timestamp)} FROM {_quote(s.items)} "
            f"WHERE {_quote(s.timestamp)} IS NOT NULL ORDER BY {_quote(s.item_id)} LIMIT 1000"
        ).fetchall()
        numeric = [v for t, v in rows if t in ("integer", "real")]
        if not rows or len(numeric) * 2 < len(rows):
            return "text"
        return "epoch_ms" if float(np.median(np.abs(numeric))) > 1e11 else "epoch_s"

    # -- reading -----------------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of snapshot rows in the items table."""
        return int(self._conn.execute(f"SELECT count(*) FROM {_quote(self.schema.items)}").fetchone()[0])

    def duplicate_timestamp_ids(self) -> np.ndarray:
        """Ids of snapshots whose raw timestamp equals that of a snapshot with a smaller id (SQLite does the work)."""
        s = self.schema
        i, t, items = _quote(s.item_id), _quote(s.timestamp), _quote(s.items)
        rows = self._conn.execute(
            f"SELECT a.{i} FROM {items} a JOIN (SELECT {t} AS t, min({i}) AS first FROM {items} GROUP BY {t} "
            f"HAVING count(*) > 1) d ON a.{t} = d.t AND a.{i} > d.first"
        ).fetchall()
        return np.sort(np.asarray([r[0] for r in rows], dtype=np.int64))

    def _level_sql(self, table: str) -> str:
        s = self.schema
        num = "CASE WHEN typeof({c}) IN ('integer','real') THEN {c} ELSE NULL END"
        item = f"CASE WHEN typeof({_quote(s.level_item)}) = 'integer' THEN {_quote(s.level_item)} ELSE -1 END"
        return (
            f"SELECT {_quote(s.level_id)}, {item}, IFNULL({num.format(c=_quote(s.price))}, -9e999), "
            f"IFNULL({num.format(c=_quote(s.quantity))}, -9e999) FROM {_quote(table)} ORDER BY 2, 1"
        )

    def batches(self, batch_size: int = 20_000) -> Iterator[RawBatch]:
        """Yield :class:`RawBatch` es of up to ``batch_size`` snapshots in id order (bounded memory).

        Prices or quantities that are NULL or not numbers come back as NaN (``-inf`` marks them on the way).
        """
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        s = self.schema
        keep = "('integer','real')" if self.ts_format.startswith("epoch") else "('text')"
        t = _quote(s.timestamp)
        item_sql = (
            f"SELECT {_quote(s.item_id)}, CASE WHEN typeof({t}) IN {keep} THEN {t} END FROM {_quote(s.items)} "
            f"WHERE {_quote(s.item_id)} > ? ORDER BY {_quote(s.item_id)} LIMIT ?"
        )
        cursors = {side: _LevelCursor(self._conn, self._level_sql(table)) for side, table in
                   (("bids", s.bids), ("asks", s.asks))}
        last = -(2**63)
        while True:
            rows = self._conn.execute(item_sql, (last, int(batch_size))).fetchall()
            final = len(rows) < batch_size
            if not rows:
                ids = np.empty(0, np.int64)
                ts_us, ok = np.empty(0, np.int64), np.empty(0, bool)
            else:
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                ts_us, ok = parse_timestamps([r[1] for r in rows], self.ts_format)
                last = int(ids[-1])
            hi = None if final else last
            sides = {}
            for side, cur in cursors.items():
                lv = cur.take_upto(hi)
                for arr in (lv.price, lv.qty):
                    arr[np.isneginf(arr)] = np.nan
                known = np.isin(lv.item_id, ids)
                sides[side] = (lv.take(known), lv.take(~known))
            if len(ids) or len(sides["bids"][1]) or len(sides["asks"][1]):
                yield RawBatch(ids, ts_us, ok, sides["bids"][0], sides["asks"][0], sides["bids"][1],
                               sides["asks"][1])
            if final:
                return
