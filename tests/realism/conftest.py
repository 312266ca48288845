"""Fixtures of the realism tests: the real lob-btc.db record (read once a session), short simulations, and a builder
of constructed records with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lobkit.realism import MarketRecord
from tests.conftest import IN_CI, require_data  # the suite's helpers (pytest runs with importlib mode)

__all__ = ["IN_CI", "make_record", "require_data"]

NS = 1_000_000_000


def make_record(mid_ticks=None, *, spread=2, step_s: float = 60.0, n: int | None = None, levels: int = 3,
                volumes=None, events=None, duration_ns: int | None = None, source: str = "constructed",
                tick_size: float = 0.01) -> MarketRecord:
    """A record sampled every ``step_s`` seconds with the given mids (ticks; even spreads keep them exact) and
    spreads (a number or an array), ``volumes`` per level (the same every sample, both sides; default 1, 2, 3...),
    ``events`` as (times ns, types) or None."""
    if mid_ticks is None:
        mid_ticks = np.full(n, 10_000)
    mid = np.asarray(mid_ticks, np.int64)
    n = len(mid)
    sp = np.broadcast_to(np.asarray(spread, np.int64), (n,))
    bid = mid - sp // 2
    ask = bid + sp
    vol = np.arange(1, levels + 1, dtype=np.float64) if volumes is None else np.asarray(volumes, np.float64)
    bv = np.tile(vol, (n, 1))
    t = np.round(np.arange(n) * step_s * NS).astype(np.int64)
    ev_t = ev_k = None
    if events is not None:
        ev_t, ev_k = np.asarray(events[0], np.int64), np.asarray(events[1], np.int8)
    return MarketRecord(source, tick_size, t, bid, ask, bv, bv.copy(), ev_t, ev_k,
                        int(t[-1]) if duration_ns is None else duration_ns)


def log_path_record(x: np.ndarray, step_s: float = 60.0, scale: float = 1e9) -> MarketRecord:
    """A record whose log mid follows ``log(scale * tick) + x`` (mid ``round(scale * exp(x))`` ticks, spread 2):
    returns equal ``diff(x)`` to about 1e-9."""
    mid = np.round(scale * np.exp(np.asarray(x, np.float64))).astype(np.int64)
    return make_record(mid, step_s=step_s)


@pytest.fixture(scope="session")
def lob_btc_path():
    return require_data("lob-btc.db")


@pytest.fixture(scope="session")
def lob_btc(lob_btc_path):
    """The lob-btc.db record with its events (the Bitstamp capture's when it is there; read once: about a second)."""
    from lobkit.realism import real_record

    return real_record(lob_btc_path)


@pytest.fixture(scope="session")
def lob_btc_facts(lob_btc):
    from lobkit.realism import market_facts

    return market_facts(lob_btc)


@pytest.fixture(scope="session")
def short_sim():
    """A short default simulation (6 min, 1 min warm-up) as a record."""
    from lobkit.realism import simulated_record
    from lobkit.sim.options import apply_options

    return simulated_record(apply_options(None, {"duration": "6min", "warmup": "1min"}), 5)
