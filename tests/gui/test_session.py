"""The GUI's worker without a window: a live run in chunks equals ``lobkit.run`` to the bit; pause, step, resume,
stop and replay speed do what they say; a failing strategy is reported in one line."""

from __future__ import annotations

import time

import numpy as np
import pytest

import lobkit
from lobkit.errors import ConfigError
from lobkit.gui.session import LiveRun
from lobkit.sim.config import NS_PER_S

MIN = 60 * NS_PER_S


def _config(**kw):
    opts = dict(duration="20min", warmup="2min", record=True) | kw
    if opts.setdefault("agent", "momentum") == "momentum":
        opts = dict(short=3, long=10) | opts
    return lobkit.build_config(**opts)


def _drain(run: LiveRun, timeout: float = 120.0) -> list:
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            u = run.updates.get(timeout=0.5)
        except Exception:
            continue
        out.append(u)
        if u.kind in ("finished", "stopped", "error"):
            return out
    raise AssertionError(f"no final update within {timeout} s: {[u.kind for u in out]}")


def _wait_for(run: LiveRun, kind: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        u = run.updates.get(timeout=timeout)
        if u.kind == kind:
            return u
        assert u.kind not in ("error", "finished", "stopped") or kind == u.kind, (u.kind, u.message)
    raise AssertionError(f"no {kind} update")


@pytest.mark.parametrize("flow", ["hawkes", "calibrated", "nhp"])
def test_a_live_run_equals_lobkit_run_to_the_bit(flow, flow_spec):
    cfg = _config(flow=flow_spec(flow), duration="10min" if flow == "nhp" else "20min")
    live = LiveRun(cfg, 7).start()
    ups = _drain(live)
    assert ups[0].kind == "started" and ups[-1].kind == "finished", [u.kind for u in ups]
    assert sum(u.kind == "progress" for u in ups) >= 1
    got = live.result
    ref = lobkit.run(config=cfg, seed=7, record=True)
    assert got.summary == ref.summary
    assert got.timeline.equals(ref.timeline)
    assert got.orders.equals(ref.orders) and got.trades.equals(ref.trades)
    assert got.agent_orders.equals(ref.agent_orders)
    # the updates carried the whole grid, once, in order
    import polars as pl

    streamed = pl.concat([u.timeline for u in ups if u.timeline is not None and u.timeline.height])
    assert streamed.equals(ref.timeline.slice(0, streamed.height))
    assert streamed.height >= ref.timeline.height - 1  # the final sample is taken by finish()
    # every fill of the strategy was posted (not only the recent tail)
    mine = [u.agent_trades for u in ups if u.agent_trades is not None and len(u.agent_trades)]
    n_mine = sum(len(x) for x in mine)
    assert n_mine == ref.trades.filter((pl.col("maker_owner") == 0) | (pl.col("taker_owner") == 0)).height


def test_pause_step_resume():
    cfg = _config()
    live = LiveRun(cfg, 3, paused=True).start()
    first = _wait_for(live, "started")
    assert first.t_ns == 0
    time.sleep(0.3)
    assert live.updates.empty(), "a paused run must not advance"
    sim = live.sim
    assert sim.now == 0
    live.step()  # to just after the first decision (the end of the warm-up)
    u = _wait_for(live, "paused")
    assert u.t_ns == cfg.market.warmup_ns + 1
    live.step()
    u = _wait_for(live, "paused")
    assert u.t_ns == cfg.market.warmup_ns + cfg.agent.interval_ns + 1  # one decision interval later
    live.resume()
    ups = _drain(live)
    assert ups[-1].kind == "finished"
    assert live.result.summary == lobkit.run(config=cfg, seed=3, record=True).summary  # stepping changes nothing


def test_stop_ends_the_worker_promptly_and_discards_the_run():
    cfg = _config(duration="24h", warmup="1min")
    live = LiveRun(cfg, 5).start()
    _wait_for(live, "progress")
    live.stop()
    assert live.join(5.0), "the worker did not end within 5 s of Stop"
    ups = _drain(live, 5)
    assert ups[-1].kind == "stopped" and 0 < ups[-1].t_ns < cfg.market.duration_ns
    assert live.result is None
    assert live.stop_latency_s is not None and live.stop_latency_s < 5.0


def test_replay_speed_paces_simulated_time():
    live = LiveRun(_config(duration="1h"), 1, speed=60.0).start()  # one simulated minute per second
    _wait_for(live, "started")
    t0 = time.monotonic()
    time.sleep(1.5)
    now, wall = live.sim.now, time.monotonic() - t0
    live.stop()
    live.join(5)
    assert now <= (wall + 0.3) * 60 * NS_PER_S  # never ahead of the pace
    assert now >= 0.3 * wall * 60 * NS_PER_S  # and not stalled
    live2 = LiveRun(_config(duration="1h"), 1, speed=None).start()
    assert _drain(live2)[-1].kind == "finished"


def test_a_failing_strategy_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "gui_bad_agent.py").write_text(
        "from lobkit.agents import Agent\n\nclass Boom(Agent):\n    def act(self, view):\n"
        "        raise RuntimeError('the model file is gone')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    live = LiveRun(_config(agent="gui_bad_agent:Boom"), 1).start()
    ups = _drain(live)
    assert ups[-1].kind == "error"
    assert "the model file is gone" in ups[-1].message and "\n" not in ups[-1].message


def test_bad_arguments():
    with pytest.raises(ConfigError, match="RunConfig"):
        LiveRun({"agent": "momentum"})
    with pytest.raises(ConfigError, match="speed"):
        LiveRun(_config(), speed=0)
    live = LiveRun(_config(duration="2min", warmup="1min"), 1).start()
    with pytest.raises(ConfigError, match="already started"):
        live.start()
    _drain(live)


def test_status_and_depth_describe_the_book():
    live = LiveRun(_config(duration="30min"), 9).start()
    ups = _drain(live)
    prog = [u for u in ups if u.kind == "progress"]
    assert prog
    u = prog[-1]
    st = u.status
    assert st["best_bid"] == u.bids[0, 0] and st["best_ask"] == u.asks[0, 0]
    assert st["spread"] == st["best_ask"] - st["best_bid"] > 0
    assert st["bid_size"] == u.bids[0, 1] and st["ask_size"] == u.asks[0, 1]
    assert np.all(np.diff(u.bids[:, 0]) < 0) and np.all(np.diff(u.asks[:, 0]) > 0)
    assert st["events_per_s"] > 0 and ups[-1].status["events_per_s"] > 0
    assert st["mid"] == pytest.approx((st["best_bid"] + st["best_ask"]) / 2 * st["tick_size"])


def test_stop_is_prompt_with_a_slow_python_strategy(tmp_path, monkeypatch):
    """A strategy whose act() takes 20 ms: chunks hold only the decisions that fit in about 20 ms of wall time, so
    Stop does not wait behind hundreds of them and the simulated clock keeps moving."""
    (tmp_path / "gui_slow_agent.py").write_text(
        "import time\nfrom lobkit.agents import Agent\n\nclass Slow(Agent):\n    def act(self, view):\n"
        "        time.sleep(0.02)\n        return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    live = LiveRun(_config(agent="gui_slow_agent:Slow", duration="2h", warmup="1min"), 1).start()
    _wait_for(live, "started")
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline and len(seen) < 5:
        u = live.updates.get(timeout=30)
        if u.kind == "progress" and u.t_ns > 60 * NS_PER_S:
            seen.append(u.t_ns)
    assert len(seen) == 5 and seen == sorted(seen) and seen[-1] > seen[0]  # the clock moves in small steps
    live.stop()
    assert live.join(5.0)
    assert live.stop_latency_s < 0.5, live.stop_latency_s
