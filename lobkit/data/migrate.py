"""Migrate snapshots from SQLite into the ``lob_snapshots`` table, fast, idempotent and resumable.

Per batch of ``batch_size`` snapshots: read them (and their levels) from SQLite, validate (see
:mod:`lobkit.data.books`), build each side's ``[[price, quantity], ...]`` JSON text in bulk with Polars, COPY
the batch from an in-memory buffer into a temporary staging table and ``INSERT ... ON CONFLICT (ts) DO
NOTHING`` into the target, all in one transaction. A batch is therefore all-or-nothing, and a rerun after a
crash or Ctrl-C inserts exactly the snapshots that are missing: the ones present count as ``already_present``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import psycopg2
from psycopg2 import sql
from tqdm import tqdm

from lobkit.data.books import CleanBatch, Rejection, clean
from lobkit.data.errors import BadRowError, check_int
from lobkit.data.pgcopy import BytesReader, encode_batch
from lobkit.data.sqlite import SqliteReader, SqliteSchema
from lobkit.data.timescale import PACKED_COLUMN, DbConfig, connect_target, has_packed, require_table

MAX_REPORTED = 1000  # rejections kept in the summary (all are counted)
_COPY_PIECE = 1 << 20  # bytes handed to the driver per read of a COPY stream


@dataclass(frozen=True)
class MigrationSummary:
    """Outcome of a migration. ``rejected`` counts bad source rows; ``rejections`` lists them (first 1000).

    ``stored_nothing`` is true when no valid snapshot came out of the source (it is empty, or every snapshot
    was rejected): the commands then exit with code 1 (see docs/data.md, "Exit codes")."""

    source: str
    read: int
    inserted: int
    already_present: int
    rejected: int
    rejected_snapshots: int
    rejected_ids: tuple[int, ...]
    rejections: tuple[Rejection, ...]
    seconds: float
    snapshots_per_s: float
    created_table: bool = False

    @property
    def stored_nothing(self) -> bool:
        return self.inserted + self.already_present == 0

    def problem(self) -> str | None:
        """One line saying why nothing was stored, or None when something was."""
        if not self.stored_nothing:
            return None
        if self.read == 0:
            return f"nothing stored: {self.source} holds no snapshots"
        first = f" (first: {self.rejections[0]})" if self.rejections else ""
        return (f"nothing stored: all {self.read} snapshot(s) of {self.source} were rejected{first}; the "
                "summary lists the reasons (--json: up to 1000)")

    def as_dict(self) -> dict:
        return {"source": self.source, "read": self.read, "inserted": self.inserted,
                "already_present": self.already_present, "rejected": self.rejected,
                "rejected_snapshots": self.rejected_snapshots, "rejected_ids": list(self.rejected_ids),
                "rejections": [r.as_dict() for r in self.rejections], "seconds": round(self.seconds, 4),
                "snapshots_per_s": round(self.snapshots_per_s, 1), "created_table": self.created_table}

    def lines(self) -> list[str]:
        out = [f"read {self.read}, inserted {self.inserted}, already present {self.already_present}, "
               f"rejected {self.rejected} row(s) / {self.rejected_snapshots} snapshot(s), "
               f"{self.seconds:.2f} s, {self.snapshots_per_s:,.0f} snapshots/s"]
        out += [f"  rejected: {r}" for r in self.rejections[:50]]
        if self.rejected > 50:
            out.append(f"  ... {self.rejected - 50} more (use --json for up to {MAX_REPORTED})")
        return out


def batch_payload(cb: CleanBatch, packed: bool) -> np.ndarray:
    """The binary COPY stream of a clean batch: ts, bids and asks JSON (compact), the packed levels when the
    table has that column, source id (see :func:`lobkit.data.pgcopy.encode_batch`; no per-row Python)."""
    return encode_batch(cb.ts_us, cb.bids, cb.asks, cb.source_id, packed)


def copy_payload(conn, cfg: DbConfig, payload, n_rows: int, packed: bool) -> int:
    """Insert one batch (a :func:`batch_payload`) in one transaction; returns the number of rows inserted.

    Fast path: binary COPY straight into the table. If any row is already there (a rerun), that COPY fails as
    a whole, is rolled back, and the batch goes through a temporary staging table and ``INSERT ... ON
    CONFLICT (ts) DO NOTHING``. Either way the batch commits or rolls back as a whole.
    """
    cols = ["ts", "bids", "asks", *([PACKED_COLUMN] if packed else []), "source_id"]
    col_sql = sql.SQL(", ").join(map(sql.Identifier, cols))
    t = sql.Identifier(cfg.table)
    try:
        with conn.cursor() as cur:
            try:
                cur.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(t, col_sql),
                                BytesReader(payload), size=_COPY_PIECE)
                conn.commit()
                return n_rows
            except psycopg2.errors.UniqueViolation:
                conn.rollback()
            cur.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS lobkit_stage (ts TIMESTAMPTZ, bids JSONB, "
                                "asks JSONB, {} BYTEA, source_id BIGINT) ON COMMIT DELETE ROWS")
                        .format(sql.Identifier(PACKED_COLUMN)))
            cur.copy_expert(sql.SQL("COPY lobkit_stage ({}) FROM STDIN (FORMAT binary)").format(col_sql),
                            BytesReader(payload), size=_COPY_PIECE)
            cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM lobkit_stage ON CONFLICT (ts) DO NOTHING")
                        .format(t, col_sql, col_sql))
            inserted = cur.rowcount
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return int(inserted)


def _names(schema: SqliteSchema) -> dict[str, str]:
    return {"items": schema.items, "bids": schema.bids, "asks": schema.asks, "timestamp": schema.timestamp,
            "price": schema.price, "quantity": schema.quantity, "item_id": schema.level_item}


def ingest(
    batches: Iterable[CleanBatch],
    cfg: DbConfig,
    *,
    source: str,
    total: int | None = None,
    strict: bool = False,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    connections: int = 2,
) -> MigrationSummary:
    """Write clean batches to the database (see :func:`migrate`); shared by SQLite and LOBSTER imports.

    A background thread reads, validates and builds the binary COPY of the next batches while up to
    ``connections`` connections each COPY one batch (one transaction per batch), so that the server parses
    JSONB on several cores while the client prepares what follows. Batches may commit out of order; each is
    whole or absent, which is all that resuming needs. Under ``strict`` nothing after the first bad batch is
    sent, and the batches before it are committed before the error is raised.
    """
    connections = check_int("connections", connections, 1, 64)
    t0 = time.perf_counter()
    read = inserted = rejected = rejected_snaps = 0
    reported: list[Rejection] = []
    rejected_ids: list[int] = []
    conns = [connect_target(cfg)]
    try:
        require_table(conns[0], cfg)
        packed = has_packed(conns[0], cfg.table)
        conns += [cfg.connect() for _ in range(int(connections) - 1)]
        idle: queue.Queue = queue.Queue()
        for c in conns:
            idle.put(c)

        def write(payload, n_rows: int) -> int:
            conn = idle.get()
            try:
                return copy_payload(conn, cfg, payload, n_rows, packed)
            except psycopg2.Error as exc:
                raise cfg.error("COPY of a batch", exc) from None
            finally:
                idle.put(conn)

        bar = tqdm(total=total, unit="snap", desc="migrate", disable=not progress, leave=False)
        pending: deque[tuple[Future, int]] = deque()

        def settle(block_until: int) -> None:
            nonlocal inserted, read
            while len(pending) > block_until or (pending and pending[0][0].done()):
                fut, n_batch = pending.popleft()
                inserted += fut.result()
                read += n_batch
                bar.update(n_batch)
                if on_batch is not None:
                    on_batch(read)

        with ThreadPoolExecutor(max_workers=len(conns), thread_name_prefix="lobkit-copy") as pool:
            try:
                for cb, payload in _prefetch(batches, packed):
                    n_batch = len(cb.source_id) + len(cb.rejected_snapshots)
                    if cb.rejections and strict:
                        settle(0)
                        raise BadRowError(cb.rejections[0].table, cb.rejections[0].row_id, cb.rejections[0].field,
                                          cb.rejections[0].reason + " (--strict: stopped; earlier batches are "
                                          "committed)")
                    rejected += len(cb.rejections)
                    rejected_snaps += len(cb.rejected_snapshots)
                    room = MAX_REPORTED - len(reported)
                    reported += cb.rejections[:max(room, 0)]
                    rejected_ids += cb.rejected_snapshots[:max(MAX_REPORTED - len(rejected_ids), 0)].tolist()
                    fut = pool.submit(write, payload, len(cb.source_id)) if payload is not None else _done(0)
                    pending.append((fut, n_batch))
                    settle(len(conns))
                settle(0)
            finally:
                for fut, _ in pending:  # an error: let the transactions in flight end (commit or roll back)
                    fut.cancel()
                wait([f for f, _ in pending])
        bar.close()
    finally:
        for c in conns:
            c.close()
    secs = time.perf_counter() - t0
    good = read - rejected_snaps
    return MigrationSummary(source, read, inserted, good - inserted, rejected, rejected_snaps,
                            tuple(rejected_ids), tuple(reported), secs, read / secs if secs > 0 else 0.0)


def _done(value) -> Future:
    fut: Future = Future()
    fut.set_result(value)
    return fut


def _prefetch(batches: Iterable[CleanBatch], packed: bool, depth: int = 2
              ) -> Iterator[tuple[CleanBatch, np.ndarray | None]]:
    """Read, validate and build the COPY stream of the next batches in a thread while the server ingests."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for cb in batches:
                if not put((cb, batch_payload(cb, packed) if len(cb.source_id) else None)):
                    return
            put(done)
        except BaseException as exc:  # re-raised in the consumer
            put(exc)

    th = threading.Thread(target=work, name="lobkit-migrate-reader", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        th.join(timeout=10)


def clean_batches(reader: SqliteReader, batch_size: int) -> Iterable[CleanBatch]:
    """Validated batches of a SQLite file (duplicate timestamps detected across the whole file)."""
    dups = reader.duplicate_timestamp_ids()
    names = _names(reader.schema)
    for raw in reader.batches(batch_size):
        yield clean(raw, names, dups)


def migrate(
    source: str | Path,
    cfg: DbConfig,
    *,
    schema: SqliteSchema | None = None,
    batch_size: int = 20_000,
    strict: bool = False,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
    connections: int = 2,
) -> MigrationSummary:
    """Copy every valid snapshot of the SQLite file ``source`` into ``cfg.table`` (created by ``init_db``).

    Bad rows are counted, reported by table/row id/field and skipped; with ``strict=True`` the first one raises
    :class:`BadRowError` (batches before it stay committed, the batch holding it is not written). Safe to
    rerun: snapshots already in the table (same ``ts``) are counted as ``already_present``, never duplicated.
    ``connections`` COPY connections work in parallel (see :func:`ingest`).
    """
    batch_size = check_int("batch_size", batch_size, 1, 10_000_000)
    with SqliteReader(source, schema) as reader:
        total = reader.count()
        return ingest(clean_batches(reader, int(batch_size)), cfg, source=str(source), total=total,
                      strict=strict, progress=progress, on_batch=on_batch, connections=connections)


def naive_insert(source: str | Path, cfg: DbConfig, schema: SqliteSchema | None = None) -> int:
    """The baseline the benchmark compares against: one INSERT per snapshot, json built per row (commit every
    5,000 rows). Do not use it for real work."""
    import json

    n = 0
    conn = cfg.connect()
    try:
        with SqliteReader(source, schema) as reader, conn.cursor() as cur:
            q = sql.SQL("INSERT INTO {} (ts, bids, asks, source_id) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (ts) DO NOTHING").format(sql.Identifier(cfg.table))
            for cb in clean_batches(reader, 5000):
                ts = pl.Series(cb.ts_us).cast(pl.Datetime("us", "UTC")).to_list()
                for i in range(len(cb.source_id)):  # deliberately row by row
                    b0, b1 = cb.bids.offsets[i], cb.bids.offsets[i + 1]
                    a0, a1 = cb.asks.offsets[i], cb.asks.offsets[i + 1]
                    bids = json.dumps(np.column_stack([cb.bids.price[b0:b1], cb.bids.qty[b0:b1]]).tolist())
                    asks = json.dumps(np.column_stack([cb.asks.price[a0:a1], cb.asks.qty[a0:a1]]).tolist())
                    cur.execute(q, (ts[i], bids, asks, int(cb.source_id[i])))
                    n += 1
                conn.commit()  # one commit per 5,000 rows: a fair baseline, not a strawman
    finally:
        conn.close()
    return n
