"""The background market is plausible: stationary spread and depth over hours, books never empty, clustering."""

from __future__ import annotations

import numpy as np
import pytest

from lobkit.sim import AgentConfig, MarketConfig, RunConfig, Simulation, parse_duration, simulate
from lobkit.sim import nb as snb
from lobkit.sim.options import apply_options
from tests.conftest import require_data


@pytest.fixture(scope="module")
def long_run():
    cfg = RunConfig(MarketConfig(duration_ns=parse_duration("4h"), warmup_ns=parse_duration("5min")),
                    agent=AgentConfig(name="momentum", size=2))
    sim = Simulation(cfg, 2024)
    res = sim.run()
    return sim, res


def test_book_never_empty(long_run):
    sim, res = long_run
    assert int(sim.state.scalars[snb.S_N_EMPTY_AFTER_EVENT]) == 0  # after every background event, both sides
    assert res.summary["empty_side_samples"] == 0
    assert res.summary["rejected_orders"] == 0 and res.summary["background_rejected_orders"] == 0


def test_spread_and_depth_stationary(long_run):
    _, res = long_run
    tl = res.timeline.filter(res.timeline["t_s"] >= 300)
    spread = tl["spread_ticks"].to_numpy().astype(float)
    depth = (tl["bid_orders"].to_numpy() + tl["ask_orders"].to_numpy()) / 2
    sp_blocks = [b.mean() for b in np.array_split(spread, 8)]
    d_blocks = [b.mean() for b in np.array_split(depth, 8)]
    assert 1.2 < np.mean(sp_blocks) < 4.0, sp_blocks
    assert max(sp_blocks) / min(sp_blocks) < 1.25, sp_blocks
    assert max(d_blocks) / min(d_blocks) < 1.1, d_blocks
    assert 50 < np.mean(d_blocks) < 1000


def test_lively_with_activity_and_volatility_clustering(long_run):
    _, res = long_run
    tl = res.timeline.filter(res.timeline["t_s"] >= 300)
    s = res.summary
    assert s["events_per_sim_s"] > 50
    mid = tl["mid"].to_numpy()
    ret = np.abs(np.diff(mid)) / 0.01
    assert np.mean(ret > 0) > 0.5  # the mid moves in most seconds
    ev = np.diff(tl["events"].to_numpy()[::60])
    assert ev.std() / ev.mean() > 0.15  # activity comes in bursts (Hawkes), far above Poisson's ~0.01
    a = ret - ret.mean()
    acf = [float((a[:-k] * a[k:]).mean() / (a * a).mean()) for k in (1, 5, 30)]
    assert all(x > 0.01 for x in acf), acf  # |returns| are autocorrelated: volatility clustering


def test_initial_book_from_real_snapshot():
    path = require_data("lob-btc.db")
    cfg = apply_options(None, dict(duration="2min", warmup="30s", snapshot=str(path), lot_size=0.01,
                                   window=1 << 14))
    res = simulate(cfg, 1)
    assert 200 < res.summary["mid_start"] < 300  # Bitstamp BTC/USD, 2015-05-01
    assert res.summary["empty_side_samples"] == 0
