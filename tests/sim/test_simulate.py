"""simulate(): determinism, chunking, accounting, jitted vs Python agents, custom agents, common random numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lobkit.agents import BUY, SELL, Agent, MomentumAgent, NullAgent, Order
from lobkit.sim import Simulation, compare, simulate
from lobkit.sim import nb as snb

from .conftest import small_cfg


def assert_same_run(a, b):
    assert a.summary == b.summary
    assert_frame_equal(a.timeline, b.timeline)
    assert_frame_equal(a.accounts, b.accounts)
    if a.orders is not None or b.orders is not None:
        assert_frame_equal(a.orders, b.orders)
        assert_frame_equal(a.trades, b.trades)


def test_same_seed_same_result_to_the_bit():
    cfg = small_cfg(record=True)
    a, b = simulate(cfg, 11), simulate(cfg, 11)
    assert_same_run(a, b)
    assert a.summary["n_trades"] > 0 and a.summary["n_events"] > 1000
    c = simulate(cfg, 12)
    assert c.summary != a.summary


def test_seed_sequence_is_not_advanced():
    ss = np.random.SeedSequence(5)
    a = simulate(small_cfg(), ss)
    b = simulate(small_cfg(), ss)
    assert a.summary == b.summary
    assert a.summary == simulate(small_cfg(), 5).summary


def test_same_result_in_another_process():
    cfg = small_cfg()
    here = simulate(cfg, 3).summary
    code = (
        "import json\nfrom lobkit.sim import *\n"
        "m = MarketConfig(duration_ns=parse_duration('3min'), warmup_ns=parse_duration('30s'))\n"
        "cfg = RunConfig(market=m)\n"
        "print(json.dumps(simulate(cfg, 3).summary))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == json.loads(json.dumps(here))


def test_chunking_and_progress_do_not_change_anything():
    cfg = small_cfg(record=True)
    one = simulate(cfg, 4)
    chunked = simulate(cfg, 4, progress=True)
    assert_same_run(one, chunked)
    sim = Simulation(cfg, 4)
    for t in np.linspace(0, cfg.market.duration_ns, 37).astype(np.int64)[1:]:
        sim.advance(int(t))
    assert_same_run(one, sim.run())


def test_tiny_log_buffers_flush_without_changing_results(monkeypatch):
    cfg = small_cfg(record=True)
    ref = simulate(cfg, 8)
    sim = Simulation(cfg, 8)
    sim.flush_logs()  # the initial book was logged into the big buffers
    # shrink the logs so that the loop must return to flush many times
    sim.state = sim.state._replace(
        order_log=np.zeros((64, snb.LOG_COLS), np.int64),
        trade_log=np.zeros((sim.cfg.market.capacity + 64, 8), np.int64),
        agent_log=np.zeros((16, snb.LOG_COLS), np.int64)
    )
    res = sim.run()
    assert_same_run(ref, res)


@pytest.mark.parametrize("order_type", ["market", "limit"])
def test_jitted_and_python_momentum_identical(order_type):
    cfg = small_cfg(duration="4min", record=True, size=3, max_position=3, order_type=order_type, short=3, long=8)
    fast = simulate(cfg, 21)
    slow = simulate(cfg, 21, jit=False)
    assert fast.summary.pop("n_crossovers") == slow.summary.pop("n_crossovers") > 2
    assert_same_run(fast, slow)
    assert fast.summary["n_trades"] > 0


def test_jitted_and_python_null_identical_and_equal_to_baseline():
    cfg = small_cfg(name="null", record=True)
    assert_same_run(simulate(cfg, 2), simulate(cfg, 2, jit=False))
    assert simulate(cfg, 2).summary["n_trades"] == 0


def test_compare_pair_zero_is_the_seed_itself_and_cis():
    cfg = small_cfg(size=2)
    res = compare(cfg, 13, repeats=3)
    assert res.experiment[0].summary == simulate(cfg, 13).summary
    assert res.pairs.height == 3
    s = res.summary
    assert s["pnl_ci_low"] <= s["pnl_mean"] <= s["pnl_ci_high"]
    assert s["repeats"] == 3


def test_accounting_conserved_and_fees():
    cfg = small_cfg(record=True, size=4, max_position=4, fee_per_lot=0.002, fee_bps=1.5, short=3, long=8)
    sim = Simulation(cfg, 17)
    res = sim.run()
    acc = sim.state.accounts
    # every fill moves cash and lots between two owners: totals are conserved exactly
    assert acc[:, snb.A_CASH].sum() == 0
    assert acc[:, snb.A_INVENTORY].sum() == 0
    # the agent's cash and inventory are the sum of its fills
    tr = res.trades
    buy = ((tr["taker_owner"] == 0) & (tr["aggressor"] == BUY)) | ((tr["maker_owner"] == 0) & (tr["aggressor"] == SELL))
    sell = ((tr["taker_owner"] == 0) & (tr["aggressor"] == SELL)) | (
        (tr["maker_owner"] == 0) & (tr["aggressor"] == BUY)
    )
    both = buy & sell  # self-match: bought and sold at once
    inv = tr.filter(buy)["size"].sum() - tr.filter(sell)["size"].sum()
    cash = (tr.filter(sell)["size"] * tr.filter(sell)["price"]).sum() - (
        tr.filter(buy)["size"] * tr.filter(buy)["price"]
    ).sum()
    assert acc[0, snb.A_INVENTORY] == inv == res.summary["final_position"]
    assert acc[0, snb.A_CASH] == cash
    # fees: per lot and bps of notional, on every fill of the agent (twice for a self-match)
    mine = tr.filter(buy | sell)
    k = 1 + both.filter(buy | sell).cast(pl.Int64)
    lots = (mine["size"] * k).sum()
    notional = (mine["size"] * mine["price"] * k).sum() * 0.01
    expected = lots * 0.002 + notional * 1.5e-4
    assert res.summary["fees"] == pytest.approx(expected, rel=1e-9)
    assert res.summary["fees"] > 0
    # mark-to-market: cash + inventory x mid - fees, in currency
    last = res.timeline.row(-1, named=True)
    assert last["pnl"] == pytest.approx(last["cash"] + last["inventory"] * last["mid"] - last["fees"], abs=1e-9)
    assert res.summary["final_pnl"] == pytest.approx(last["pnl"])
    # the background pays no fees and the sum of all PnLs is minus the agent's fees
    assert res.accounts["pnl"].sum() == pytest.approx(-res.summary["fees"], abs=1e-6)


def test_warmup_not_counted():
    cfg = small_cfg(size=1, short=2, long=3)
    res = simulate(cfg, 1)
    tl = res.timeline
    warm = tl.filter(pl.col("t_ns") < cfg.market.warmup_ns)
    assert (warm["inventory"] == 0).all() and (warm["pnl"] == 0).all()
    post = tl.filter(pl.col("t_ns") >= cfg.market.warmup_ns)
    assert res.summary["volume"] == post["volume"][-1] - post["volume"][0]


class Contrarian(Agent):
    """Buy after a down-tick of the mid, sell after an up-tick, within +-5 lots (the docs' example)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.last = None
        self.seen = 0

    def act(self, view):
        self.seen += 1
        assert view.best_bid is not None and view.best_ask is not None and view.best_bid < view.best_ask
        last, self.last = self.last, view.mid2
        if last is None or view.mid2 == last:
            return []
        side = BUY if view.mid2 < last else SELL
        if abs(view.position + side) > 5:
            return []
        return [Order.market(side, 1)]


def test_custom_python_agent():
    cfg = small_cfg(record=True)
    agent = Contrarian(interval_ns=2 * 10**9)
    res = simulate(cfg, 5, agent=agent)
    n_dec = (cfg.market.duration_ns - cfg.market.warmup_ns) // agent.interval_ns
    assert agent.seen == n_dec
    assert res.summary["n_trades"] > 5
    assert agent.inventory == res.summary["final_position"]
    assert abs(agent.inventory) <= 5
    assert agent.pnl == pytest.approx(res.summary["final_pnl"])
    assert res.orders.filter(pl.col("owner") == 0)["op"].eq(2).all()
    # deterministic too
    assert simulate(cfg, 5, agent=Contrarian(interval_ns=2 * 10**9)).summary == res.summary


class Quoter(Agent):
    """Keeps one bid resting one tick under the best bid; checks open orders and cancels."""

    def act(self, view):
        out = [Order.cancel(o.oid) for o in view.open_orders]
        if view.best_bid is not None and view.position < 20:
            out.append(Order.limit(BUY, view.best_bid - 1, 1))
        return out


def test_python_agent_limit_orders_and_cancels():
    cfg = small_cfg(record=True)
    agent = Quoter()
    res = simulate(cfg, 3, agent=agent)
    mine = res.orders.filter(pl.col("owner") == 0)
    limits, cancels = mine.filter(pl.col("op") == 1), mine.filter(pl.col("op") == 3)
    assert limits.height > 20 and cancels.height > 3
    assert set(cancels["oid"]) <= set(limits["oid"])  # only its own orders, each once
    assert cancels["oid"].n_unique() == cancels.height
    # every quote was filled, cancelled or is still resting: lots bought + cancelled + resting = lots quoted
    assert res.summary["final_position"] >= 0


def test_momentum_python_and_jitted_rule_on_hand_made_paths():
    from lobkit.agents.nb import NO_TRADE, momentum_targets

    path = [100] * 4 + [104, 108] + [90, 80, 70] + [120, 140] + [140] * 6
    jit = momentum_targets(np.array(path, np.int64), 2, 4, 3, 3)
    py_agent = MomentumAgent(short=2, long=4, size=3)
    py = [py_agent.signal_target(p) for p in path]
    py = [NO_TRADE if x is None else x for x in py]
    assert list(jit) == py
    trades = {i: int(x) for i, x in enumerate(jit) if x != NO_TRADE}
    # first regime (up) recorded at index 4 without a trade; down-crossover at 6 (short mean 99 < long mean 100.5);
    # up-crossover at 9 (95 > 90); flat prices afterwards keep the last regime until the averages meet again
    assert trades == {6: -3, 9: 3}
    assert py_agent.n_crossovers == 2


def test_momentum_max_position_clips_target():
    from lobkit.agents.nb import momentum_targets

    path = np.array([100] * 4 + [110, 90, 80, 120, 140], np.int64)
    out = momentum_targets(path, 2, 4, 5, 5)
    assert set(np.abs(out[out > -(2**62)]).tolist()) <= {5}


def test_null_agent_python_form_runs_through_the_slow_path():
    cfg = small_cfg(name="null")
    a = simulate(cfg, 1, agent=NullAgent(jit=False))
    b = simulate(cfg, 1, agent=NullAgent(jit=True))
    assert a.summary == b.summary
