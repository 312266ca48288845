"""The Algo-Gym driven as a person would, in a real Tk window on Xvfb: runs to the end checked against their
exported files, pause/step/resume, stop mid-run, dark mode, a bad parameter, the baseline and a sweep from the
runs table, sorting, the keyboard, closing mid-run, a learned market and a user's strategy class."""

from __future__ import annotations

import json
import textwrap

import polars as pl
import pytest

import lobkit
from lobkit.gui.blotter import format_sim_time

pytestmark = pytest.mark.gui


def _fill(gym, **values):
    for k, v in values.items():
        gym.app.controls.vars[k].set(str(v))
    gym.pump(0.05)


def _run(gym, timeout=120, **values):
    """Fill the form, press Ctrl-R, wait for the run to finish; the new RunRecord."""
    n = len(gym.app.runs)
    _fill(gym, **values)
    gym.key("Control-r")
    gym.until(lambda: len(gym.app.runs) > n, timeout, "the run to finish")
    gym.pump(0.2)
    return gym.app.runs[-1]


def test_a_run_to_the_end_matches_its_files(gym, tmp_path):
    app = gym.app
    gym.shot("01-start")
    rec = _run(gym, short=3, long=10, duration="20min", warmup="2min", seed=7)
    gym.shot("02-finished")
    res = rec.result
    # the same engine as lobkit run: the same configuration and seed give the same numbers
    ref = lobkit.run(config=res.config, seed=7, record=True)
    assert res.summary == ref.summary
    assert res.timeline.equals(ref.timeline) and res.orders.equals(ref.orders)
    # its files, exported with Ctrl-E, are those of lobkit run
    gym.key("Control-e")
    assert rec.exported is not None
    out = tmp_path / "exports"
    exported = next(out.glob("run1-*"))
    assert str(exported) == rec.exported
    doc = json.loads((exported / "summary.json").read_text())
    for name in ("orders.parquet", "trades.parquet", "agent_orders.parquet", "pnl.parquet", "timeline.parquet",
                 "accounts.parquet", "pnl.png"):
        assert (exported / name).is_file(), name
    assert pl.read_parquet(exported / "orders.parquet").equals(ref.orders)
    assert doc["seed"] == "7" and doc["config"]["agent.short"] == 3
    s = doc["summary"]
    shown = app.results.text()
    assert shown["final_pnl"] == f"{s['final_pnl']:+,.2f}"
    assert shown["n_trades"] == f"{s['n_trades']:,d}"
    assert shown["final_position"] == f"{s['final_position']:+,d}"
    assert shown["max_drawdown"] == f"{s['max_drawdown']:,.2f}"
    assert shown["mean_spread_ticks"] == f"{s['mean_spread_ticks']:,.2f}"
    assert shown["volume"] == f"{s['volume']:,d}"
    assert shown["realised_vol"] == f"{s['realised_vol']:.4%}"
    row = app.runs_table.column_text(rec.id)
    assert row["final_pnl"] == f"{s['final_pnl']:,.2f}" and row["n_trades"] == f"{s['n_trades']:,d}"
    assert row["params"] == "short=3 long=10 order_type=market limit_offset=0" and row["seed"] == "7"
    # the status shows the end of the run: the final position and PnL, the final time
    st = app.status.text()
    assert st["time"] == f"{format_sim_time(20 * 60 * 10**9)} / {format_sim_time(20 * 60 * 10**9)}"
    assert st["position"] == f"{s['final_position']:+,d} lots" and st["pnl"] == f"{s['final_pnl']:+,.2f}"
    # the blotter: newest first, the three filters
    rows = app.blotter.rows()
    assert 0 < len(rows) <= app.blotter.max_rows and rows[0][0] >= rows[-1][0]
    app.blotter.filter.set("strategy")
    app.blotter._refill()
    mine = app.blotter.rows()
    agent_orders = res.agent_orders.height
    agent_fills = res.trades.filter((pl.col("maker_owner") == 0) | (pl.col("taker_owner") == 0)).height
    assert len(mine) == min(app.blotter.max_rows, agent_orders + agent_fills)
    assert all(r[1] == "momentum" or r[2] == "trade" for r in mine)
    app.blotter.filter.set("trades")
    app.blotter._refill()
    assert {r[2] for r in app.blotter.rows()} == {"trade"}
    gym.shot("03-blotter-trades")
    # the analysis tab plotted every sample of the grid and every fill of the strategy
    app.tabs.select(1)
    gym.pump(0.6)
    assert app.analysis.points() == res.timeline.height
    assert sum(len(t) for t in app.analysis.trades) == agent_fills
    gym.shot("04-analysis")
    fig = app.save_figure(tmp_path / "figure.png")
    assert fig.is_file() and fig.stat().st_size > 10_000


def test_pause_step_resume(gym):
    app = gym.app
    _fill(gym, duration="1h", warmup="1min", seed=3, speed="10x")
    app.controls.start_btn.invoke()
    gym.until(lambda: app.live is not None and app.live.sim is not None if hasattr(app.live, "sim") else False,
              30, "the run to start")
    gym.key("space")
    assert app.live.paused and app.controls.pause_btn.cget("text") == "Resume"
    gym.until(lambda: "paused" in app.status.state.cget("text"), 10, "the paused state")
    t_paused = app.live.sim.now
    gym.pump(0.5)
    assert app.live.sim.now == t_paused  # nothing moves while paused
    gym.key("Right")  # one decision: the first one is at the end of the warm-up
    gym.until(lambda: app.live.sim.now == max(60 * 10**9, t_paused) + 1 or app.live.sim.now > t_paused, 10,
              "the step")
    gym.until(lambda: app.live.updates.empty(), 5, "the step's update")
    gym.pump(0.3)
    t1 = app.live.sim.now
    gym.key("Right")
    gym.until(lambda: app.live.sim.now > t1, 10, "the second step")
    gym.pump(0.3)
    assert app.live.sim.now == t1 + 10**9 if t1 > 60 * 10**9 else app.live.sim.now > t1
    assert app.status.text()["time"].startswith(format_sim_time(app.live.sim.now))
    gym.shot("05-paused-after-step")
    app.controls.vars["speed"].set("as fast as possible")
    app.live.set_speed(None)
    gym.key("space")
    assert not app.live.paused
    gym.until(lambda: app.runs, 60, "the run to finish after resuming")
    # pausing and stepping change nothing: the same result as an uninterrupted run
    ref = lobkit.run(config=app.runs[-1].result.config, seed=3, record=True)
    assert app.runs[-1].result.summary == ref.summary


def test_stop_mid_run(gym):
    app = gym.app
    _fill(gym, duration="24h", seed=5)
    app.controls.start_btn.invoke()
    gym.until(lambda: app.live.sim.now > 10 * 60 * 10**9 if getattr(app.live, "sim", None) else False, 60,
              "the run to get going")
    assert str(app.controls.start_btn.cget("state")) == "disabled"
    app.controls.stop_btn.invoke()
    assert app.live.join(5.0), "the worker must end soon after Stop"
    gym.until(lambda: "stopped" in app.status.state.cget("text"), 5, "the stopped state")
    assert app.runs == [] and app.live.stop_latency_s < 5.0
    assert str(app.controls.start_btn.cget("state")) == "normal"
    gym.shot("06-stopped")
    # and a new run can start at once
    rec = _run(gym, duration="10min", warmup="1min", seed=1)
    assert rec.id == 1


def test_dark_mode_restyles_everything_and_is_remembered(gym, settings_dir, tmp_path):
    import sv_ttk

    from lobkit.gui.app import AlgoGym
    from lobkit.gui.theme import DARK, LIGHT

    app = gym.app
    _run(gym, duration="10min", warmup="1min", seed=2)
    assert sv_ttk.get_theme(app.root) == "light"
    gym.shot("07-light")
    app.dark_btn.invoke()
    gym.pump(0.3)
    assert app.dark and sv_ttk.get_theme(app.root) == "dark"
    assert app.analysis.fig.get_facecolor()[:3] == pytest.approx(_rgb(DARK.background))
    assert str(app.ladder.canvas.cget("background")) == DARK.background
    assert str(app.blotter.tree.tag_configure("buy", "foreground")) == DARK.buy
    gym.shot("08-dark")
    app.tabs.select(1)
    gym.shot("09-dark-analysis")
    assert json.loads((settings_dir / "settings.json").read_text())["dark"] is True
    # a new window starts in the remembered mode
    app.close()
    again = AlgoGym(out=tmp_path / "x", models={}, dark=None)
    try:
        assert again.dark and sv_ttk.get_theme(again.root) == "dark"
        again.set_dark(False)
        assert again.analysis.fig.get_facecolor()[:3] == pytest.approx(_rgb(LIGHT.background))
    finally:
        again.close()


def _rgb(hex_colour: str):
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def test_a_bad_parameter_shows_its_message_and_disables_start(gym):
    app = gym.app
    ctl = app.controls
    entry = ctl.widgets["short"]
    entry.focus_force()
    entry.delete(0, "end")
    entry.insert(0, "abc")
    gym.pump(0.1)
    assert ctl.error_text() == {"short": "expected an integer, got 'abc'"}
    assert ctl.errors["short"].winfo_ismapped()
    assert str(ctl.start_btn.cget("state")) == "disabled"
    gym.shot("10-bad-parameter")
    gym.key("Control-r")
    assert app.live is None and app.messages[-1].startswith("Fix the form first: short")
    _fill(gym, short="30", long="20")
    assert ctl.error_text() == {"short": "must be smaller than long, got short=30 >= long=20"}
    _fill(gym, short="3")
    assert ctl.error_text() == {} and str(ctl.start_btn.cget("state")) == "normal"
    assert not ctl.errors["short"].winfo_ismapped()
    # a space typed into a field is text, not Pause
    _fill(gym, duration="10min")
    gym.key("space", widget=ctl.widgets["duration"])
    assert app.live is None


def test_baseline_and_sweep_from_the_runs_table(gym):
    app = gym.app
    rec = _run(gym, short=3, long=10, duration="20min", warmup="2min", seed=11)
    app.tabs.select(2)
    app.runs_table.buttons["Run baseline"].invoke()
    gym.until(lambda: rec.baseline is not None, 60, "the baseline")
    cmp = lobkit.compare(config=rec.result.config, seed=11, repeats=1)
    pair = cmp.pairs.row(0, named=True)
    for k in ("pnl", "paper_pnl", "impact_cost", "mid_diff_final_ticks", "spread_diff", "volume_diff"):
        assert rec.baseline[k] == pair[k], k
    row = app.runs_table.column_text(rec.id)
    assert row["paper_pnl"] == f"{pair['paper_pnl']:,.2f}" and row["impact_cost"] == f"{pair['impact_cost']:,.2f}"
    gym.shot("11-runs-with-baseline")
    app.sweep_around(rec, repeats=1, jobs=2)
    gym.until(lambda: getattr(app, "sweep_window", None) is not None, 180, "the sweep")
    win = app.sweep_window
    rows = [win.tree.item(i, "values") for i in win.tree.get_children()]
    assert rows and win.image is not None
    assert rec.sweeps and (app.out / rec.sweeps[0].split("/")[-1]).is_dir()
    gym.shot("12-sweep", win)
    win.destroy()


def test_runs_sort_and_load_back_into_the_form(gym):
    app = gym.app
    for seed, short in ((1, 2), (2, 4), (3, 6)):
        _run(gym, short=short, long=12, duration="10min", warmup="1min", seed=seed)
    pnl = {r.id: r.result.summary["final_pnl"] for r in app.runs}
    app.runs_table.sort("final_pnl")
    assert app.runs_table.order() == sorted(pnl, key=pnl.get)
    app.runs_table.sort("final_pnl")
    assert app.runs_table.order() == sorted(pnl, key=pnl.get, reverse=True)
    app.runs_table.select(2)
    app.runs_table.buttons["Load into form"].invoke()
    gym.pump(0.1)
    assert app.controls.values()["short"] == "4" and app.controls.values()["seed"] == "2"
    app.runs_table.buttons["Show"].invoke()
    gym.pump(0.6)
    assert app.analysis.points() == app.runs[1].result.timeline.height
    gym.shot("13-runs-sorted")


def test_closing_mid_run_ends_the_worker(gym):
    app = gym.app
    _fill(gym, duration="24h", seed=4)
    app.controls.start_btn.invoke()
    gym.until(lambda: getattr(app.live, "sim", None) is not None and app.live.sim.now > 0, 60, "the run")
    live = app.live
    app.root.tk.call(app.root.protocol("WM_DELETE_WINDOW"))  # what the window manager runs on closing
    assert app.closed
    assert not live.running and live.stop_latency_s < 2.0


def test_a_learned_market_and_a_users_strategy(display, tmp_path, settings_dir, nhp_model, monkeypatch):
    from lobkit.gui.app import AlgoGym
    from tests.gui.conftest import Driver

    (tmp_path / "gui_user_strategy.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass, field
        from lobkit.agents import Agent

        @dataclass(frozen=True)
        class EveryParams:
            every: int = field(default=5, metadata={"help": "Decisions between flips."})

        class Every(Agent):
            name = "every"
            Params = EveryParams

            def __init__(self, params=None, **kw):
                super().__init__(params, **kw)
                self.n = 0

            def act(self, view):
                self.n += 1
                if self.n % self.params.every:
                    return []
                return self.orders_to(view, -view.position if view.position else self.size)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = AlgoGym(out=tmp_path / "exports", models={"calibrated": [], "nhp": [str(nhp_model)], "wgan": [],
                                                    "snapshot": []}, dark=False)
    gym = Driver(app, tmp_path / "screenshots")
    try:
        flows = app.controls.widgets["flow"].cget("values")
        assert f"nhp:{nhp_model}" in flows
        rec = _run(gym, flow=f"nhp:{nhp_model}", duration="10min", warmup="1min", seed=8, short=3, long=10)
        assert rec.result.config.flow.name == "nhp" and rec.result.summary["n_events"] > 0
        # a strategy class of the user's, by class path: its own field appears, it runs on the slow path
        app.controls.agent.set("gui_user_strategy:Every")
        app.controls._agent_changed()
        assert "every" in app.controls.vars
        rec2 = _run(gym, every=4, flow="hawkes", duration="10min", warmup="1min", seed=8)
        assert rec2.result.config.agent.params.every == 4 and rec2.result.summary["n_trades"] > 0
        assert app.runs_table.column_text(rec2.id)["params"] == "every=4"
        gym.shot("14-user-strategy")
    finally:
        app.close()


def test_the_review_cases(gym):
    """Speed changes during a run; Space after clicking Pause resumes once; a typed but unconfirmed agent is taken
    before a run; Load into form keeps a fresh seed; an empty book side is said so."""
    app = gym.app
    from lobkit.gui.form import SPEEDS

    _fill(gym, duration="2h", warmup="1min", speed="real time (1x)")
    app.controls.start_btn.invoke()
    gym.until(lambda: getattr(app.live, "sim", None) is not None, 30, "the run")
    assert app.live._speed == 1.0
    app.controls.vars["speed"].set("as fast as possible")
    gym.pump(0.05)
    assert app.live._speed is SPEEDS["as fast as possible"]
    app.controls.pause_btn.focus_force()
    app.controls.pause_btn.invoke()  # a click: paused, and the keys go back to the window
    assert app.live.paused
    gym.key("space", widget=app.root)
    assert not app.live.paused  # one toggle, not two
    gym.until(lambda: app.runs, 60, "the run to finish")
    # Load into form: a run with a fresh seed comes back with that seed
    rec = app.runs[-1]
    app.controls.vars["seed"].set("")
    app.load_into_form(rec)
    assert app.controls.values()["seed"] == str(rec.seed.entropy)
    # a name typed into the agent box without Return: taken (its fields shown), not run as the old agent
    app.controls.agent.set("null")
    assert app.start() is False and app.controls.built_agent == "null" and "short" not in app.controls.vars
    # an empty side
    app.status.show({"best_bid": None, "best_ask": 10_010, "ask_size": 3, "spread": None, "mid": 100.1,
                     "tick_size": 0.01, "position": 0, "pnl": 0.0, "events_per_s": None}, 0, 10**9)
    shown = app.status.text()
    assert shown["best_bid"] == "empty" and shown["mid"].endswith("(last two-sided)")
    assert shown["events_per_s"] == "paused"
