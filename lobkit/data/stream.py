"""Stream snapshots back in time order, in chunks, as Polars DataFrames, and turn them into model arrays.

Both sources yield the same chunk layout (see :func:`lobkit.data.books.to_frame`): ``ts`` (UTC, µs),
``bid_px``/``bid_qty``/``ask_px``/``ask_qty`` (lists, best first) and ``source_id``.

* :func:`stream_db` pages through ``lob_snapshots`` by keyset on ``ts`` (``WHERE ts > last ORDER BY ts LIMIT
  n``), one binary ``COPY (SELECT ...) TO STDOUT`` per chunk, fetched one chunk ahead by a thread; levels are
  decoded from the ``packed`` column with numpy (the JSONB, parsed in bulk, only for rows without it).
  Memory is bounded by about two chunks.
* :func:`stream_sqlite` reads a SQLite file in batches (:class:`lobkit.data.sqlite.SqliteReader`), validated
  like a migration (bad snapshots are skipped and counted in a warning). The file's snapshots must be in time
  order by id (as collected files are); otherwise it says so and suggests migrating first.

Time filters: ``start`` inclusive, ``end`` exclusive, datetimes (naive means UTC) or ISO strings; they are
bound values, never formatted into SQL text.

:func:`to_arrays` converts a chunk to fixed-size numpy arrays without Python loops over rows.
"""

from __future__ import annotations

import io
import queue
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import psycopg2
from psycopg2 import sql

from lobkit.data.books import MAX_PRICE, MAX_QUANTITY, Side, clean, parse_side_json, to_frame
from lobkit.data.errors import ConfigError, InputFormatError, check_int, show_number
from lobkit.data.pgcopy import PG_EPOCH_US, fixed_column, frame_copy_binary, text_column, unpack_levels
from lobkit.data.sources import SnapshotStream
from lobkit.data.sqlite import SqliteReader, SqliteSchema
from lobkit.data.timescale import PACKED_COLUMN, DbConfig, connect_target, has_packed, require_table

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_utc(t: datetime | str | None, name: str) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, str):
        try:
            t = datetime.fromisoformat(t.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{name} is not an ISO 8601 time: '{t}'") from None
    if not isinstance(t, datetime):
        raise ConfigError(f"{name} must be a datetime or ISO string, got {type(t).__name__}")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


_READ_FIELDS = 5  # ts, source_id, packed, bids (only where packed is NULL), asks (idem)


def _chunk_query(cfg: DbConfig, packed: bool, last: datetime | None, start: datetime | None,
                 end: datetime | None, limit: int) -> sql.Composed:
    conds = []
    if last is not None:
        conds.append(sql.SQL("ts > {}").format(sql.Literal(last)))
    elif start is not None:
        conds.append(sql.SQL("ts >= {}").format(sql.Literal(start)))
    if end is not None:
        conds.append(sql.SQL("ts < {}").format(sql.Literal(end)))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds) if conds else sql.SQL("")
    if packed:
        p = sql.Identifier(PACKED_COLUMN)
        cols = sql.SQL("ts, source_id, {p}, CASE WHEN {p} IS NULL THEN bids END, "
                       "CASE WHEN {p} IS NULL THEN asks END").format(p=p)
    else:
        cols = sql.SQL("ts, source_id, NULL::bytea, bids, asks")
    return sql.SQL("COPY (SELECT {} FROM {}{} ORDER BY ts LIMIT {}) TO STDOUT (FORMAT binary)").format(
        cols, sql.Identifier(cfg.table), where, sql.Literal(int(limit)))


@dataclass(frozen=True)
class _Fetched:
    data: np.ndarray  # the raw COPY stream (uint8)
    start: np.ndarray  # (rows, 5) field offsets
    length: np.ndarray  # (rows, 5) field lengths, -1 for NULL


def _fetch_chunks(cfg: DbConfig, chunk_size: int, start, end) -> Iterator[_Fetched]:
    """Raw chunks, fetched by a background thread one chunk ahead (keyset on ``ts``: each query starts after
    the last ts of the chunk before, which the thread reads from its own framing)."""
    conn = connect_target(cfg)
    try:
        require_table(conn, cfg)
        packed = has_packed(conn, cfg.table)
    except BaseException:
        conn.close()
        raise
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    taken = threading.Semaphore(0)  # the consumer took the chunk handed over: fetch the next one

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        while not stop.is_set():  # at most one chunk fetched ahead of the one being decoded
            if taken.acquire(timeout=0.1):
                return True
        return False

    def work() -> None:
        try:
            cur = conn.cursor()
            last = None
            while not stop.is_set():
                buf = io.BytesIO()
                try:
                    cur.copy_expert(_chunk_query(cfg, packed, last, start, end, chunk_size), buf)
                except psycopg2.Error as exc:
                    raise cfg.error("reading snapshots", exc) from None
                data = np.frombuffer(buf.getbuffer(), np.uint8)
                fs, fl = frame_copy_binary(data, _READ_FIELDS, chunk_size, f"reading table {cfg.table!r}")
                if len(fs) and not put(_Fetched(data, fs, fl)):
                    return
                if len(fs) < chunk_size:
                    break
                last_us = int(fixed_column(data, fs[-1:, 0], fl[-1:, 0], ">i8")[0][0]) + PG_EPOCH_US
                last = _EPOCH + timedelta(microseconds=last_us)
            put(done)
        except BaseException as exc:  # re-raised in the consumer
            put(exc)
        finally:
            conn.close()

    th = threading.Thread(target=work, name="lobkit-stream-fetch", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            taken.release()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            del item
    finally:
        stop.set()
        th.join(timeout=30)


def _merge(has: np.ndarray, a: Side, b: Side) -> Side:
    """One side for all rows from ``a`` (the rows where ``has``) and ``b`` (the others), in row order."""
    counts = np.zeros(len(has), np.int64)
    counts[has], counts[~has] = a.counts, b.counts
    offsets = np.zeros(len(has) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    price, qty = np.empty(int(offsets[-1])), np.empty(int(offsets[-1]))
    for rows, part in ((np.flatnonzero(has), a), (np.flatnonzero(~has), b)):
        idx = np.arange(len(part.price)) + np.repeat(offsets[rows] - part.offsets[:-1], part.counts)
        price[idx], qty[idx] = part.price, part.qty
    return Side(offsets, price, qty)


def _decode(f: _Fetched, table: str) -> pl.DataFrame:
    """A fetched chunk as the reader's frame: packed levels decoded in bulk, JSON parsed only for rows
    without them."""
    data, fs, fl = f.data, f.start, f.length
    ts_pg, _ = fixed_column(data, fs[:, 0], fl[:, 0], ">i8")
    sid, sid_null = fixed_column(data, fs[:, 1], fl[:, 1], ">i8")
    has = fl[:, 2] >= 0
    what = f"table {table!r}, column {PACKED_COLUMN!r}"
    if has.all():
        bids, asks = unpack_levels(data, fs[:, 2], fl[:, 2], what)
    else:
        rows_j = np.flatnonzero(~has)
        bj = pl.from_arrow(text_column(data, fs[rows_j, 3], fl[rows_j, 3], skip=1))
        aj = pl.from_arrow(text_column(data, fs[rows_j, 4], fl[rows_j, 4], skip=1))
        bids_j, asks_j = parse_side_json(bj), parse_side_json(aj)
        rows_p = np.flatnonzero(has)
        bids_p, asks_p = unpack_levels(data, fs[rows_p, 2], fl[rows_p, 2], what)
        bids, asks = _merge(has, bids_p, bids_j), _merge(has, asks_p, asks_j)
    source = pl.Series("source_id", sid, dtype=pl.Int64)
    if sid_null.any():
        source = source.scatter(np.flatnonzero(sid_null), None)
    return to_frame(ts_pg + PG_EPOCH_US, bids, asks, source)


def stream_db(cfg: DbConfig, chunk_size: int = 50_000, start=None, end=None) -> SnapshotStream:
    """Chunks of up to ``chunk_size`` snapshots from the database, in ``ts`` order, ``start <= ts < end``.

    Each chunk is one ``COPY (SELECT ... ORDER BY ts LIMIT n) TO STDOUT (FORMAT binary)``, fetched by a
    background thread one chunk ahead (never more) while this one is decoded. Levels come from the ``packed`` column
    (numpy, no JSON); rows without it (tables made by other tools or an older ``db init``) are read from the
    JSONB and parsed in bulk. Memory is bounded by about two chunks. Rows are yielded as stored: ``migrate`` and
    ``lobster import`` validated them on the way in (:func:`to_arrays` checks what it converts).
    """
    chunk_size = check_int("chunk_size", chunk_size, 1, 10_000_000)
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    return SnapshotStream(lambda _: _db_frames(cfg, int(chunk_size), start, end),
                          f"table {cfg.table} at {cfg.safe_dsn}")


def _db_frames(cfg: DbConfig, chunk_size: int, start, end) -> Iterator[pl.DataFrame]:
    for fetched in _fetch_chunks(cfg, chunk_size, start, end):
        frame = _decode(fetched, cfg.table)
        del fetched  # the raw chunk is not needed while the caller holds the frame
        yield frame


def stream_sqlite(path: str | Path, schema: SqliteSchema | None = None, chunk_size: int = 50_000,
                  start=None, end=None) -> SnapshotStream:
    """Chunks of valid snapshots from a SQLite file in time order, ``start <= ts < end``.

    Snapshots that fail validation (:func:`lobkit.data.books.clean`) are skipped and counted: the returned
    :class:`SnapshotStream` holds ``rejected_snapshots`` (and the first reasons in ``rejections``), final once
    it is exhausted, and a :class:`UserWarning` says how many were skipped. The file is opened (and checked)
    right away: a missing, damaged or mis-shaped file raises :class:`InputFormatError` here.
    """
    chunk_size = check_int("chunk_size", chunk_size, 1, 10_000_000)
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    reader = SqliteReader(path, schema)
    return SnapshotStream(lambda stream: _sqlite_frames(stream, reader, path, int(chunk_size), start, end), str(path),
                          on_close=reader.close)


def _sqlite_frames(stream: SnapshotStream, reader: SqliteReader, path, chunk_size: int, start, end):
    lo = _us(start) if start else None
    hi = _us(end) if end else None
    prev = None
    with reader as r:
        s = r.schema
        names = {"items": s.items, "bids": s.bids, "asks": s.asks, "timestamp": s.timestamp, "price": s.price,
                 "quantity": s.quantity, "item_id": s.level_item}
        dups = r.duplicate_timestamp_ids()
        for raw in r.batches(chunk_size):
            cb = clean(raw, names, dups)
            stream.add_rejections(cb)
            if len(cb.ts_us) == 0:
                continue
            if np.any(np.diff(cb.ts_us) < 0) or (prev is not None and cb.ts_us[0] < prev):
                raise InputFormatError(path, None, "snapshots are not in time order by id; migrate the file to "
                                       "the database and stream from there (it orders by ts)")
            prev = int(cb.ts_us[-1])
            frame = to_frame(cb.ts_us, cb.bids, cb.asks, cb.source_id)
            if lo is not None or hi is not None:
                us = cb.ts_us
                keep = np.ones(len(us), bool)
                if lo is not None:
                    keep &= us >= lo
                if hi is not None:
                    keep &= us < hi
                frame = frame.filter(pl.Series(keep))
                if hi is not None and prev >= hi:
                    if len(frame):
                        yield frame
                    break
            if len(frame):
                yield frame
    if stream.rejected_snapshots:
        warnings.warn(f"{path}: skipped {stream.rejected_snapshots} invalid snapshot(s) (the stream's "
                      "rejected_snapshots and rejections say which; `lobkit migrate` reports them too)", stacklevel=3)


def stream(source, chunk_size: int = 50_000, start=None, end=None, **options) -> SnapshotStream:
    """Snapshot chunks of any source: a :class:`DbConfig`, or a spec of :func:`lobkit.data.sources.open_source`
    (a SQLite path, ``sqlite:PATH``, ``postgresql://...`` with ``table``, a LOBSTER zip, ...); ``options`` go
    to the source (e.g. ``schema`` for SQLite, ``tz`` for LOBSTER)."""
    from lobkit.data.sources import open_source

    return open_source(source, **options).snapshots(chunk_size=chunk_size, start=start, end=end)


@dataclass(frozen=True)
class BookArrays:
    """Fixed-size arrays of n snapshots and L levels a side.

    ``mid``: (n,) float, (best bid + best ask) / 2 (NaN if a side is empty). ``bid_ticks``/``ask_ticks``: (n, L)
    int64 level prices relative to the mid in ticks, rounded away from the mid (bids down, asks up, so with a
    one-tick spread the best levels are -1 and +1; a half-tick mid is never rounded onto a level).
    ``bid_vol``/``ask_vol``: (n, L) float volumes. Missing levels: ticks 0 and volume 0; ``n_bids``/``n_asks``
    say how many are real.
    """

    ts: np.ndarray
    mid: np.ndarray
    bid_ticks: np.ndarray
    ask_ticks: np.ndarray
    bid_vol: np.ndarray
    ask_vol: np.ndarray
    n_bids: np.ndarray
    n_asks: np.ndarray


def _flat(lists: pl.Series) -> np.ndarray:
    """One float64 per list element (a null element is NaN, so the checks see it); empty and null lists give none."""
    return lists.explode(empty_as_null=False, keep_nulls=False).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _padded_side(frame: pl.DataFrame, side: str, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prices, quantities) of one side as (n, levels) arrays padded with NaN, and the real level counts.
    The positions are computed once for both columns."""
    px, qty = frame[f"{side}_px"], frame[f"{side}_qty"]
    counts = px.list.len().fill_null(0).to_numpy().astype(np.int64)
    q_counts = qty.list.len().fill_null(0).to_numpy().astype(np.int64)
    if not np.array_equal(counts, q_counts):
        k = int(np.flatnonzero(counts != q_counts)[0])
        raise InputFormatError("frame", None, f"row {k} ({_when(frame, k)}): {side}_px and {side}_qty differ in "
                                              "length")
    n = len(counts)
    starts = np.zeros(n, np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    col = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    dest = np.repeat(np.arange(n) * levels, counts) + col
    keep = col < levels
    if not keep.all():
        dest = dest[keep]
    out = []
    for lists in (px, qty):
        flat = _flat(lists)
        a = np.full(n * levels, np.nan)
        a[dest] = flat if keep.all() else flat[keep]
        out.append(a.reshape(n, levels))
    return out[0], out[1], np.minimum(counts, levels)


MAX_LEVELS = 10_000  # levels per side to_arrays pads to
_PRICE_LIMIT = 2**60  # = lobkit.engine.book.PRICE_LIMIT (ticks); a test keeps them equal


def _check_values(frame: pl.DataFrame, values: np.ndarray, counts: np.ndarray, what: str, bound: float) -> None:
    """A clear error for the first real level whose value is not in (0, bound] (NaN and infinities included).

    Padding is NaN and fails the test too, so the common case is one count: as many failures as padding."""
    ok = (values > 0) & (values <= bound)
    if values.size - int(np.count_nonzero(ok)) == values.size - int(counts.sum()):
        return
    real = np.arange(values.shape[1])[None, :] < counts[:, None]
    i, j = (int(x) for x in np.argwhere(real & ~ok)[0])
    raise InputFormatError("frame", None, f"row {i} ({_when(frame, i)}), {what} level {j + 1}: "
                                          f"{show_number(values[i, j])} is not in (0, {show_number(bound)}]")


def _when(frame: pl.DataFrame, i: int) -> str:
    try:
        return frame["ts"][i].strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    except Exception:  # not a datetime column: the row number says enough
        return "no time"


def to_arrays(frame: pl.DataFrame, levels: int = 20, tick: float = 0.01) -> BookArrays:
    """Vectorised conversion of a chunk to :class:`BookArrays` (levels beyond ``levels`` are dropped).

    ``levels``: 1 to 10,000; ``tick``: the price grid (finite, > 0). Every level converted is checked: prices
    and quantities must lie in the data layer's bounds (``(0, 1e12]``, as :func:`lobkit.data.books.clean`
    enforces on the way in) and offsets from the mid within 2**60 ticks; otherwise
    :class:`InputFormatError` names the row and level (never a silent INT64_MIN).
    """
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 1 <= int(levels) <= MAX_LEVELS:
        raise ConfigError(f"levels must be an integer from 1 to {MAX_LEVELS:,}, got {levels}")
    try:
        tick_f = float(tick)
    except (TypeError, ValueError):
        raise ConfigError(f"tick must be a number, got {tick}") from None
    if not (np.isfinite(tick_f) and tick_f > 0):
        raise ConfigError(f"tick must be a finite number > 0, got {show_number(tick_f)}")
    levels = int(levels)
    bp, bq, nb = _padded_side(frame, "bid", levels)
    ap, aq, na = _padded_side(frame, "ask", levels)
    for what, values, counts, bound in (("bid price", bp, nb, MAX_PRICE), ("bid quantity", bq, nb, MAX_QUANTITY),
                                        ("ask price", ap, na, MAX_PRICE), ("ask quantity", aq, na, MAX_QUANTITY)):
        _check_values(frame, values, counts, what, bound)
    mid = (bp[:, 0] + ap[:, 0]) / 2.0
    with np.errstate(invalid="ignore", over="ignore"):
        # snap to half ticks first (float noise), then round away from the mid
        b_half = np.round((bp - mid[:, None]) / tick_f * 2.0) / 2.0
        a_half = np.round((ap - mid[:, None]) / tick_f * 2.0) / 2.0
        bt = np.floor(b_half)
        at = np.ceil(a_half)
    # prices are in (0, MAX_PRICE], so offsets can pass 2**60 ticks only on a grid finer than MAX_PRICE / 2**60
    for what, t, px in (("bid", bt, bp), ("ask", at, ap)) if tick_f < MAX_PRICE / _PRICE_LIMIT else ():
        far = np.isfinite(t) & (np.abs(t) > _PRICE_LIMIT)
        if far.any():
            i, j = (int(x) for x in np.argwhere(far)[0])
            raise InputFormatError("frame", None, f"row {i} ({_when(frame, i)}), {what} level {j + 1}: price "
                                                  f"{show_number(px[i, j])} is {show_number(t[i, j])} ticks of "
                                                  f"{show_number(tick_f)} from the mid, beyond 2**60 ticks")
    bt = np.where(np.isfinite(bt), bt, 0).astype(np.int64)
    at = np.where(np.isfinite(at), at, 0).astype(np.int64)
    ts = frame["ts"].dt.epoch("us").to_numpy()
    return BookArrays(ts, mid, bt, at, np.nan_to_num(bq, nan=0.0), np.nan_to_num(aq, nan=0.0), nb, na)
