"""Counterfactuals measure impact, not divergence: the baseline and the experiment stay coupled.

Targets (issue 7, section 4), for every registered order-flow model:
* one market order of 1 lot: the standard deviation across seed pairs of the mid difference 10 minutes later is
  at most 2 ticks;
* the mean impact increases with the order's size, and is concave in it;
* the momentum strategy's comparison: the variance of ``pnl - paper_pnl`` across seed pairs is at most 5% of what
  independent seeds give.
The figures with more pairs are measured by ``benchmarks/coupling.py`` (its JSON is the docs' source).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lobkit.flows import flow_names
from lobkit.sim import compare, impulse_response, simulate
from lobkit.sim.experiments import paper_schedule
from lobkit.sim.options import apply_options

from .conftest import small_cfg

MARKET_COLUMNS = ["t_ns", "bid", "ask", "mid", "spread_ticks", "bid_size", "ask_size", "bid_orders", "ask_orders",
                  "events", "volume"]


@pytest.mark.parametrize("flow", flow_names())
def test_one_lot_impulse_is_impact_not_noise(flow, flow_spec):
    cfg = apply_options(None, {"flow": flow_spec(flow), "warmup": "2min"})
    res = impulse_response(cfg, 20261130, lots=(1,), pairs=24, horizon="10min")
    assert res.summary["sd_ticks_1"] <= 2.0, res.summary
    assert res.final["lots_1"].len() == 24


@pytest.mark.slow
def test_mean_impact_increases_and_is_concave_in_the_size():
    res = impulse_response(apply_options(None, {"warmup": "2min"}), 7, lots=(1, 5, 25, 100), pairs=48,
                           horizon="10min")
    s = res.summary
    means = [s[f"mean_ticks_{q}"] for q in (1, 5, 25, 100)]
    assert s["increasing"] and s["concave"], means
    assert means[-1] > 3 * max(s[f"ci_high_{1}"] - s[f"ci_low_{1}"], 0.1)  # far beyond the noise
    # and at the moment of the trade too (one second later): the book's own, transient, response
    one_s = res.curves.filter(pl.col("lag_s") == 1.0).sort("lots")["mean_ticks"].to_numpy()
    assert np.all(np.diff(one_s) > 0) and np.all(np.diff(np.diff(one_s) / np.diff([1, 5, 25, 100])) < 0), one_s


@pytest.mark.slow
def test_momentum_comparison_variance_is_a_small_share_of_independent_seeds():
    res = compare(apply_options(None, {"agent": "momentum"}), 23, repeats=48)
    assert res.summary["coupling_variance_ratio"] <= 0.05, res.summary["coupling_variance_ratio"]


def test_the_paper_baseline_is_the_do_nothing_market_to_the_bit():
    cfg = small_cfg(record=True, size=2, short=3, long=6)
    res = compare(cfg, 6, repeats=1)
    null = simulate(cfg.with_agent(name="null"), 6)
    assert_frame_equal(res.baseline[0].timeline.select(MARKET_COLUMNS), null.timeline.select(MARKET_COLUMNS))
    # the replayed orders are the experiment's own: same times, sides, sizes
    exp_orders = res.experiment[0].agent_orders.filter(pl.col("status") == 0).filter(pl.col("op").is_in([1, 2]))
    paper_orders = res.baseline[0].agent_orders
    assert exp_orders.height > 5
    for col in ("ts", "op", "side", "size"):
        assert exp_orders[col].to_list() == paper_orders[col].to_list(), col
    assert len(paper_schedule(res.experiment[0])) == exp_orders.height
    # paper fills never touched the book: the baseline's volume is the null market's
    assert res.baseline[0].summary["volume"] == null.summary["volume"]


def test_paths_identical_until_the_first_trade_and_close_after():
    cfg = small_cfg(record=True, size=2, short=3, long=6)
    base = simulate(cfg.with_agent(name="null"), 6)
    exp = simulate(cfg, 6)
    t0 = exp.agent_orders["ts"].min()
    assert_frame_equal(base.orders.filter(pl.col("ts") < t0), exp.orders.filter(pl.col("ts") < t0))
    # after it: the same background events (each type keeps its own stream and clock), prices a few ticks apart
    nb_base = base.orders.filter((pl.col("owner") > 0) & (pl.col("ts") >= t0)).height
    nb_exp = exp.orders.filter((pl.col("owner") > 0) & (pl.col("ts") >= t0)).height
    assert abs(nb_base - nb_exp) < 0.01 * nb_base
    d = np.abs(exp.timeline["mid"].to_numpy() - base.timeline["mid"].to_numpy()) / 0.01
    other = simulate(cfg.with_agent(name="null"), 7)
    d_other = np.abs(other.timeline["mid"].to_numpy() - base.timeline["mid"].to_numpy()) / 0.01
    assert d.mean() < 2 and d.mean() < d_other.mean() / 5


def test_a_null_experiment_equals_its_baseline():
    cfg = small_cfg(name="null")
    res = compare(cfg, 9, repeats=2)
    for b, e in zip(res.baseline, res.experiment, strict=True):
        assert_frame_equal(b.timeline.select(MARKET_COLUMNS), e.timeline.select(MARKET_COLUMNS))
    assert (res.pairs["mid_diff_max_abs"] == 0).all() and (res.pairs["volume_diff"] == 0).all()
