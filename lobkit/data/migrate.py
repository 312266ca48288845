"""Migrate snapshots from SQLite into the ``lob_snapshots`` table, fast, idempotent and resumable.

Per batch of ``batch_size`` snapshots: read them (and their levels) from SQLite, validate (see
:mod:`lobkit.data.books`), build each side's ``[[price, quantity], ...]`` JSON text in bulk with Polars, COPY
the batch from an in-memory buffer into a temporary staging table and ``INSERT ... ON CONFLICT (ts) DO
NOTHING`` into the target, all in one transaction. A batch is therefore all-or-nothing, and a rerun after a
crash or Ctrl-C inserts exactly the snapshots that are missing: the ones present count as ``already_present``.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import psycopg2
from psycopg2 import sql
from tqdm import tqdm

from lobkit.data.books import CleanBatch, Rejection, clean, side_json
from lobkit.data.errors import BadRowError, ConfigError
from lobkit.data.sqlite import SqliteReader, SqliteSchema
from lobkit.data.timescale import DbConfig, require_table

MAX_REPORTED = 1000  # rejections kept in the summary (all are counted)


@dataclass(frozen=True)
class MigrationSummary:
    """Outcome of a migration. ``rejected`` counts bad source rows; ``rejections`` lists them (first 1000)."""

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

    def as_dict(self) -> dict:
        return {"source": self.source, "read": self.read, "inserted": self.inserted,
                "already_present": self.already_present, "rejected": self.rejected,
                "rejected_snapshots": self.rejected_snapshots, "rejected_ids": list(self.rejected_ids),
                "rejections": [r.as_dict() for r in self.rejections], "seconds": round(self.seconds, 4),
                "snapshots_per_s": round(self.snapshots_per_s, 1)}

    def lines(self) -> list[str]:
        out = [f"read {self.read}, inserted {self.inserted}, already present {self.already_present}, "
               f"rejected {self.rejected} row(s) / {self.rejected_snapshots} snapshot(s), "
               f"{self.seconds:.2f} s, {self.snapshots_per_s:,.0f} snapshots/s"]
        out += [f"  rejected: {r}" for r in self.rejections[:50]]
        if self.rejected > 50:
            out.append(f"  ... {self.rejected - 50} more (use --json for up to {MAX_REPORTED})")
        return out


def batch_frame(cb: CleanBatch) -> pl.DataFrame:
    """The COPY rows of a clean batch: ts text (UTC), bids JSON, asks JSON, source id."""
    ts = pl.Series(cb.ts_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00")
    return pl.DataFrame({"ts": ts, "bids": side_json(cb.bids), "asks": side_json(cb.asks),
                         "source_id": pl.Series(cb.source_id, dtype=pl.Int64)})


def copy_frame(conn, cfg: DbConfig, frame: pl.DataFrame) -> int:
    """Insert ``frame`` (ts, bids, asks, source_id) in one transaction; returns the number of rows inserted.

    Fast path: COPY straight into the table. If any row is already there (a rerun), that COPY fails as a whole
    and the batch goes through a temporary staging table and ``INSERT ... ON CONFLICT (ts) DO NOTHING``.
    Either way the batch commits or rolls back as a whole.
    """
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, separator="\t", quote_style="never", null_value="\\N")
    t = sql.Identifier(cfg.table)
    try:
        with conn.cursor() as cur:
            cur.execute("SAVEPOINT lobkit_direct")
            try:
                buf.seek(0)
                cur.copy_expert(sql.SQL("COPY {} (ts, bids, asks, source_id) FROM STDIN").format(t), buf)
                inserted = len(frame)
            except psycopg2.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT lobkit_direct")
                inserted = None
            if inserted is not None:
                conn.commit()
                return inserted
            buf.seek(0)
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS lobkit_stage (ts TIMESTAMPTZ, bids JSONB, asks JSONB, "
                        "source_id BIGINT) ON COMMIT DELETE ROWS")
            cur.copy_expert("COPY lobkit_stage (ts, bids, asks, source_id) FROM STDIN", buf)
            cur.execute(sql.SQL("INSERT INTO {} (ts, bids, asks, source_id) SELECT ts, bids, asks, source_id "
                                "FROM lobkit_stage ON CONFLICT (ts) DO NOTHING").format(t))
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
) -> MigrationSummary:
    """Write clean batches to the database (see :func:`migrate`); shared by SQLite and LOBSTER imports."""
    t0 = time.perf_counter()
    read = inserted = rejected = rejected_snaps = 0
    reported: list[Rejection] = []
    rejected_ids: list[int] = []
    conn = cfg.connect()
    try:
        require_table(conn, cfg)
        bar = tqdm(total=total, unit="snap", desc="migrate", disable=not progress, leave=False)
        for cb, frame in _prefetch(batches):
            n_batch = len(cb.source_id) + len(cb.rejected_snapshots)
            if cb.rejections and strict:
                raise BadRowError(cb.rejections[0].table, cb.rejections[0].row_id, cb.rejections[0].field,
                                  cb.rejections[0].reason + " (--strict: stopped; earlier batches are committed)")
            rejected += len(cb.rejections)
            rejected_snaps += len(cb.rejected_snapshots)
            room = MAX_REPORTED - len(reported)
            reported += cb.rejections[:max(room, 0)]
            rejected_ids += cb.rejected_snapshots[:max(MAX_REPORTED - len(rejected_ids), 0)].tolist()
            if len(cb.source_id):
                try:
                    inserted += copy_frame(conn, cfg, frame)
                except psycopg2.Error as exc:
                    raise cfg.error("COPY of a batch", exc) from None
            read += n_batch
            bar.update(n_batch)
            if on_batch is not None:
                on_batch(read)
        bar.close()
    finally:
        conn.close()
    secs = time.perf_counter() - t0
    good = read - rejected_snaps
    return MigrationSummary(source, read, inserted, good - inserted, rejected, rejected_snaps,
                            tuple(rejected_ids), tuple(reported), secs, read / secs if secs > 0 else 0.0)


def _prefetch(batches: Iterable[CleanBatch], depth: int = 2) -> Iterator[tuple[CleanBatch, pl.DataFrame]]:
    """Read, validate and build the COPY text of the next batches in a thread while the server ingests."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for cb in batches:
                item = (cb, batch_frame(cb) if len(cb.source_id) else None)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

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
        th.join(timeout=5)


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
) -> MigrationSummary:
    """Copy every valid snapshot of the SQLite file ``source`` into ``cfg.table`` (created by ``init_db``).

    Bad rows are counted, reported by table/row id/field and skipped; with ``strict=True`` the first one raises
    :class:`BadRowError` (batches before it stay committed, the batch holding it is not written). Safe to
    rerun: snapshots already in the table (same ``ts``) are counted as ``already_present``, never duplicated.
    """
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    with SqliteReader(source, schema) as reader:
        total = reader.count()
        return ingest(clean_batches(reader, int(batch_size)), cfg, source=str(source), total=total,
                      strict=strict, progress=progress, on_batch=on_batch)


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
