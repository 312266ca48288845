"""Plug-in points: an agent and an order-flow model from outside the package, each one file, run by name through
the API, the CLI, a comparison and a parallel sweep, without any edit to lobkit."""

from __future__ import annotations

import sys
import textwrap

import polars as pl
import pytest
from click.testing import CliRunner

import lobkit
from lobkit.agents import AGENTS
from lobkit.cli import main as cli
from lobkit.flows import FLOWS

AGENT_MODULE = '''
"""A user's strategy: flips its position every `every` decisions."""
from dataclasses import dataclass

from lobkit.agents import Agent, register_agent
from lobkit.errors import ConfigError


@dataclass(frozen=True)
class FlipperParams:
    every: int = 3

    def __post_init__(self):
        if not isinstance(self.every, int) or self.every < 1:
            raise ConfigError(f"every: must be an integer >= 1, got {self.every}")


@register_agent
class Flipper(Agent):
    name = "flipper"
    Params = FlipperParams

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.decisions = 0

    def act(self, view):
        self.decisions += 1
        if self.decisions % self.params.every:
            return []
        return self.orders_to(view, -view.position if view.position else self.size)

    def run_summary(self, row):
        return {"flips": self.decisions // self.params.every}
'''

FLOW_MODULE = '''
"""A user's order-flow model: Poisson arrivals of limit and market orders, limit orders never cancelled."""
import math
from dataclasses import dataclass

import numpy as np
from numba.extending import overload

from lobkit._jit import kernel
from lobkit.engine.state import M_BEST_ASK, M_BEST_BID, M_NASK, M_NBID
from lobkit.flows import FlowModel, flow_state_type, register_flow
from lobkit.flows.nb import EV_LIMIT_BUY, EV_LIMIT_SELL, EV_MARKET_BUY, flow_fire, flow_reschedule, flow_seed_order
from lobkit.sim.rng import fill_uniform, rng_state, uniform


@dataclass(frozen=True)
class PoissonParams:
    rate: float = 40.0  # events per second
    market_share: float = 0.1


PoissonState = flow_state_type("PoissonState", [("p", np.ndarray), ("next_t", np.ndarray), ("rng", np.ndarray)],
                               __name__)


@kernel
def _fire(flow, book, now, next_oid, last_mid2):
    u_type = uniform(flow.rng)
    u_dist = uniform(flow.rng)
    u_size = uniform(flow.rng)
    u_owner = uniform(flow.rng)
    u_next = uniform(flow.rng)
    flow.next_t[0] = now + np.int64(-math.log(u_next) / flow.p[0])
    owner = np.int64(u_owner * flow.p[2])
    if u_type < flow.p[1]:
        return EV_MARKET_BUY + (1 if u_size < 0.5 else 0), 0, 1 + np.int64(u_dist * 5), owner, -1
    dist = 1 + np.int64(u_dist * 10)
    if u_size < 0.5:
        opp = book.meta[M_BEST_ASK] if book.meta[M_NASK] > 0 else (last_mid2 + 1) // 2 + 1
        return EV_LIMIT_BUY, opp - dist, 1 + np.int64(u_owner * 3), owner, -1
    opp = book.meta[M_BEST_BID] if book.meta[M_NBID] > 0 else last_mid2 // 2 - 1
    return EV_LIMIT_SELL, opp + dist, 1 + np.int64(u_owner * 3), owner, -1


def _mine(flow):
    return getattr(flow, "instance_class", None) is PoissonState


@overload(flow_reschedule, inline="always")
def _r(flow, book, now, agent_flow):
    if _mine(flow):
        return lambda flow, book, now, agent_flow: max(flow.next_t[0], now)


@overload(flow_fire, inline="always")
def _f(flow, book, now, next_oid, last_mid2):
    if _mine(flow):
        return lambda flow, book, now, next_oid, last_mid2: _fire(flow, book, now, next_oid, last_mid2)


@overload(flow_seed_order, inline="always")
def _s(flow, book, oid, side):
    if _mine(flow):
        return lambda flow, book, oid, side: None


@register_flow
class PoissonFlow(FlowModel):
    name = "poisson"
    Params = PoissonParams

    def state(self, seed, *, n_background, capacity, tick_size, initial_mid_ticks):
        rng = rng_state(seed)
        u = np.empty(1)
        fill_uniform(rng, u)
        p = np.array([self.params.rate * 1e-9, self.params.market_share, n_background])
        return PoissonState(p=p, next_t=np.array([np.int64(-math.log(u[0]) / p[0])]), rng=rng)
'''


@pytest.fixture(scope="module")
def plugins(tmp_path_factory):
    """Two modules of a user's, importable by name here and in worker processes (sys.path and PYTHONPATH)."""
    d = tmp_path_factory.mktemp("userpkg")
    (d / "my_agents.py").write_text(textwrap.dedent(AGENT_MODULE))
    (d / "my_flows.py").write_text(textwrap.dedent(FLOW_MODULE))
    sys.path.insert(0, str(d))
    mp = pytest.MonkeyPatch()
    import os

    mp.setenv("PYTHONPATH", os.pathsep.join([str(d), os.environ.get("PYTHONPATH", "")]))
    import my_agents  # noqa: F401  (registers "flipper")

    yield d
    mp.undo()
    sys.path.remove(str(d))
    AGENTS.unregister("flipper")
    FLOWS.unregister("poisson")
    for m in ("my_agents", "my_flows"):
        sys.modules.pop(m, None)


FAST = dict(duration="3min", warmup="30s")


def test_an_agent_from_outside_runs_compares_and_sweeps_by_name(plugins, tmp_path):
    r = lobkit.run(agent="flipper", every=2, seed=3, **FAST)
    assert r.summary["agent"] == "flipper" and r.summary["flips"] == 75 and r.summary["n_trades"] > 10
    c = lobkit.compare(agent="flipper", every=5, seed=3, repeats=2, **FAST)
    assert c.summary["repeats"] == 2 and c.experiment[0].summary["flips"] == 30
    # two loky workers import the user's module to unpickle its parameters, which registers the agent there too
    sw = lobkit.sweep("every=2,4", agent="flipper", repeats=2, jobs=2, seed=1, out=tmp_path / "sw", progress=False,
                      heatmap=False, **FAST)
    table = sw.table()
    assert table.height == 4 and (table["status"] == "ok").all()
    assert sorted(table.group_by("every").agg(pl.col("flips").first()).rows()) == [(2, 75), (4, 37)]
    # by class path from the CLI, without registering
    out = CliRunner().invoke(cli, ["run", "--agent", "my_agents:Flipper", "--set", "every=3", "--duration", "2min",
                                   "--warmup", "30s", "--seed", "1", "--out", str(tmp_path / "cli"), "--no-progress"])
    assert out.exit_code == 0, out.output
    # its parameters are checked by its own dataclass, with the usual one-line error
    out = CliRunner().invoke(cli, ["run", "--agent", "flipper", "--set", "every=0", "--out", str(tmp_path / "bad")])
    assert out.exit_code == 2 and "every: must be an integer >= 1" in out.output


def test_an_order_flow_model_from_outside_plugs_into_the_jitted_loop(plugins):
    import my_flows  # registers "poisson"

    # its state type carries a hash of its file: an edit selects a new cache entry of the loop, never stale code
    assert my_flows.PoissonState.__name__.startswith("my_flows__PoissonState__")
    r = lobkit.run(flow="poisson", agent="null", seed=2, rate=80.0, **FAST)
    assert r.summary["flow"] == "poisson" and 60 < r.summary["events_per_sim_s"] < 100
    again = lobkit.run(flow="my_flows:PoissonFlow", agent="null", seed=2, rate=80.0, **FAST)
    assert again.summary["n_events"] == r.summary["n_events"]
    assert lobkit.build_config(flow="poisson").flow.params.rate == 40.0


def test_workers_started_before_a_users_module_was_importable_find_it(tmp_path, monkeypatch):
    """A sweep's reusable workers started earlier in the session (before the user's folder was on ``sys.path``, and
    without PYTHONPATH) are replaced, and the new ones import from the parent's ``sys.path``."""
    lobkit.sweep("short=2,3", repeats=1, jobs=2, seed=1, out=tmp_path / "before", progress=False, heatmap=False,
                 **FAST)
    d = tmp_path / "late"
    d.mkdir()
    (d / "late_agents.py").write_text(textwrap.dedent(AGENT_MODULE).replace('"flipper"', '"late_flipper"')
                                      .replace("class Flipper(Agent)", "class LateFlipper(Agent)"))
    monkeypatch.syspath_prepend(str(d))
    try:
        sw = lobkit.sweep("every=2,4", agent="late_agents:LateFlipper", repeats=1, jobs=2, seed=1,
                          out=tmp_path / "after", progress=False, heatmap=False, **FAST)
        table = sw.table()
        assert table.height == 2 and (table["status"] == "ok").all()
    finally:
        if "late_flipper" in AGENTS:
            AGENTS.unregister("late_flipper")
        sys.modules.pop("late_agents", None)
