"""A synthetic snapshot file in exactly the schema of ``lob-btc.db``, so that everything runs without real data.

The book is a simple but plausible generator (until the simulator can write its own): the best bid follows a
random walk in ticks of 0.01 around 236.50 USD, the spread is 1 tick most of the time and wider sometimes
(geometric), gaps between consecutive levels are 1 tick or more (geometric), and quantities are lognormal,
growing slowly with depth, rounded to 8 decimals (BTC). Snapshots are about 3.6 s apart (exponential gaps).
All randomness comes from ``numpy.random.default_rng(numpy.random.SeedSequence(seed))``: same seed, same file.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from lobkit.data.errors import ConfigError, InputFormatError

SCHEMA_SQL = """
CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp DATETIME NOT NULL);
CREATE TABLE bids (id INTEGER PRIMARY KEY AUTOINCREMENT, item_id INTEGER NOT NULL REFERENCES items(id), price REAL NOT NULL, quantity REAL NOT NULL);
CREATE TABLE asks (id INTEGER PRIMARY KEY AUTOINCREMENT, item_id INTEGER NOT NULL REFERENCES items(id), price REAL NOT NULL, quantity REAL NOT NULL);
"""  # noqa: E501  (verbatim from the real file)
TICK = 0.01
_CHUNK = 50_000  # snapshots generated and written at a time (bounded memory for large files)


def _books(rng: np.random.Generator, n: int, levels: int, last_bid: int) -> tuple:
    steps = rng.choice(np.array([-2, -1, 0, 1, 2]), size=n, p=[0.05, 0.2, 0.5, 0.2, 0.05])
    best_bid = last_bid + np.cumsum(steps)
    best_bid = np.maximum(best_bid, 1000 + levels * 10)  # keep far from zero
    spread = rng.geometric(0.7, size=n)  # ticks, >= 1
    gaps = rng.geometric(0.6, size=(n, 2, levels))
    gaps[:, :, 0] = 0
    depth = np.cumsum(gaps, axis=2)
    bid_t = best_bid[:, None] - depth[:, 0]
    ask_t = (best_bid + spread)[:, None] + depth[:, 1]
    mu = -0.5 + 0.06 * np.arange(levels)
    qty = np.round(np.exp(rng.normal(mu, 1.1, size=(n, 2, levels))), 8)
    qty = np.maximum(qty, 1e-8)
    return bid_t, ask_t, qty, int(best_bid[-1])


MAX_SNAPSHOTS = 10_000_000  # ~40 levels each: 400 M level rows, ~15 GB of SQLite at most
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp(?:-journal|-wal|-shm)?$")


def _int_in(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= int(v) <= hi:
        raise ConfigError(f"{name} must be an integer from {lo:,} to {hi:,}, got {v}")
    return int(v)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove the temp files of ``path`` left by runs that were killed (``.NAME.PID.tmp`` whose process is
    gone, and their SQLite side files). Returns what was removed."""
    gone = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return gone
    for p in entries:
        m = _TMP_RE.match(p.name)
        pid = int(m.group("pid")) if m else -1
        if m and m.group("name") == path.name and pid != os.getpid() and not _alive(pid):
            try:
                p.unlink()
                gone.append(p)
            except OSError:
                pass
    return gone


@contextlib.contextmanager
def _sigterm_unwinds():
    """While writing, SIGTERM (and SIGHUP) raise SystemExit so that ``finally`` blocks remove the temp file (only
    in the main thread, where Python delivers signals; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def write_sample_db(path: str | Path, snapshots: int, seed=None, levels: int = 20, *,
                    start: datetime = datetime(2015, 5, 1, tzinfo=UTC), mean_gap_s: float = 3.6,
                    overwrite: bool = False) -> Path:
    """Write ``snapshots`` synthetic snapshots with ``levels`` levels a side to the SQLite file ``path``.

    ``snapshots``: 1 to 10,000,000; ``seed``: a non-negative integer, a SeedSequence, or None for fresh entropy
    (:func:`lobkit.seeds.seed_sequence`); ``levels``: 1 to 1000. The file appears whole or not
    at all: it is written to ``.NAME.PID.tmp`` in the same directory and renamed at the end; every exit path
    (errors, Ctrl-C, SIGTERM) removes the temp file, and a later run removes those of killed runs (SIGKILL).
    An existing ``path`` is replaced only with ``overwrite`` and only once the new file is complete.

    Raises :class:`ConfigError` for bad arguments, :class:`InputFormatError` naming ``path`` when it exists
    already or cannot be written (missing directory, no permission, disk full).
    """
    path = Path(path)
    snapshots = _int_in("snapshots", snapshots, 1, MAX_SNAPSHOTS)
    from lobkit.seeds import seed_sequence

    seed = seed_sequence(seed)
    levels = _int_in("levels", levels, 1, 1000)
    try:
        gap = float(mean_gap_s)
    except (TypeError, ValueError):
        raise ConfigError(f"mean_gap_s must be a number of seconds, got {mean_gap_s}") from None
    if not (np.isfinite(gap) and 1e-3 <= gap <= 86_400):
        raise ConfigError(f"mean_gap_s must be from 0.001 to 86400 seconds, got {mean_gap_s}")
    if snapshots * gap > 100 * 365.25 * 86_400:
        raise ConfigError(f"snapshots x mean_gap_s spans more than 100 years ({snapshots:,} x {gap:g} s)")
    if not isinstance(start, datetime):
        raise ConfigError(f"start must be a datetime, got a {type(start).__name__}")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    rng = np.random.default_rng(seed)
    return write_snapshot_db(path, lambda conn: _write(conn, rng, snapshots, levels, start, gap), overwrite)


def write_snapshot_db(path: str | Path, fill, overwrite: bool = False) -> Path:
    """Create the SQLite file ``path`` in the schema of ``lob-btc.db`` and let ``fill(conn)`` insert its rows, whole
    or not at all: written to ``.NAME.PID.tmp`` beside it and renamed at the end; every exit path (errors, Ctrl-C,
    SIGTERM) removes the temp file, and a later run removes those of killed runs. An existing ``path`` is replaced
    only with ``overwrite``. Raises :class:`InputFormatError` naming ``path`` when it exists or cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise InputFormatError(path, None, "is a directory (give a file name)")
    if path.exists() and not overwrite:
        raise InputFormatError(path, None, "exists already (pass overwrite=True / --force to replace it)")
    if not path.parent.exists():
        raise InputFormatError(path, None, f"cannot write: directory {path.parent} does not exist")
    if not path.parent.is_dir():
        raise InputFormatError(path, None, f"cannot write: {path.parent} is not a directory")
    remove_stale_temp_files(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    conn = None
    try:
        with _sigterm_unwinds():
            try:
                conn = sqlite3.connect(tmp)
                conn.execute("PRAGMA journal_mode = OFF")  # a temp file: a failed write is discarded whole
                conn.execute("PRAGMA synchronous = OFF")
                conn.executescript(SCHEMA_SQL)
                fill(conn)
                conn.commit()
                conn.close()
                conn = None
                os.replace(tmp, path)
            except (sqlite3.Error, OSError) as exc:
                why = getattr(exc, "strerror", None) or " ".join(str(exc).split())
                raise InputFormatError(path, None, f"cannot write ({why})") from None
    finally:
        if conn is not None:
            conn.close()
        for p in (tmp, tmp.with_name(tmp.name + "-journal")):
            with contextlib.suppress(OSError):
                p.unlink()
    return path


def _write(conn, rng: np.random.Generator, snapshots: int, levels: int, start: datetime, gap_s: float) -> None:
    t_us = int(start.timestamp() * 1e6)
    last_bid = 23650
    done = 0
    while done < snapshots:
        n = min(_CHUNK, snapshots - done)
        gaps_us = np.maximum(np.round(rng.exponential(gap_s * 1e6, size=n)), 1000).astype(np.int64)
        ts = t_us + np.cumsum(gaps_us)
        t_us = int(ts[-1])
        bid_t, ask_t, qty, last_bid = _books(rng, n, levels, last_bid)
        ids = np.arange(done + 1, done + n + 1, dtype=np.int64)
        text = pl.Series(ts).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M:%S%.6f").to_list()
        conn.executemany("INSERT INTO items (id, timestamp) VALUES (?, ?)", zip(ids.tolist(), text, strict=True))
        item_col = np.repeat(ids, levels).tolist()
        for table, ticks, q in (("bids", bid_t, qty[:, 0]), ("asks", ask_t, qty[:, 1])):
            price = np.round(ticks.ravel() * TICK, 2).tolist()
            conn.executemany(f"INSERT INTO {table} (item_id, price, quantity) VALUES (?, ?, ?)",
                             zip(item_col, price, q.ravel().tolist(), strict=True))
        done += n
