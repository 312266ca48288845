"""A synthetic snapshot file in exactly the schema of ``lob-btc.db``, so that everything runs without real data.

The book is a simple but plausible generator (until the simulator can write its own): the best bid follows a
random walk in ticks of 0.01 around 236.50 USD, the spread is 1 tick most of the time and wider sometimes
(geometric), gaps between consecutive levels are 1 tick or more (geometric), and quantities are lognormal,
growing slowly with depth, rounded to 8 decimals (BTC). Snapshots are about 3.6 s apart (exponential gaps).
All randomness comes from ``numpy.random.default_rng(numpy.random.SeedSequence(seed))``: same seed, same file.
"""

from __future__ import annotations

import sqlite3
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


def write_sample_db(path: str | Path, snapshots: int, seed: int, levels: int = 20, *,
                    start: datetime = datetime(2015, 5, 1, tzinfo=UTC), mean_gap_s: float = 3.6,
                    overwrite: bool = False) -> Path:
    """Write ``snapshots`` synthetic snapshots with ``levels`` levels a side to the SQLite file ``path``."""
    path = Path(path)
    if int(snapshots) < 1:
        raise ConfigError(f"snapshots must be >= 1, got {snapshots}")
    if not 1 <= int(levels) <= 1000:
        raise ConfigError(f"levels must be in 1..1000, got {levels}")
    if not mean_gap_s > 0:
        raise ConfigError(f"mean_gap_s must be > 0, got {mean_gap_s}")
    if path.exists():
        if not overwrite:
            raise InputFormatError(path, None, "exists already (pass overwrite=True / --force to replace it)")
        path.unlink()
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(SCHEMA_SQL)
        t_us = int(start.timestamp() * 1e6)
        last_bid = 23650
        done = 0
        while done < snapshots:
            n = min(_CHUNK, snapshots - done)
            gaps_us = np.maximum(np.round(rng.exponential(mean_gap_s * 1e6, size=n)), 1000).astype(np.int64)
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
        conn.commit()
    finally:
        conn.close()
    tmp.replace(path)
    return path
