"""The Algo-Gym window (``lobkit gui``): one live simulation at a time, watched and steered.

Layout: the controls on the left (:mod:`lobkit.gui.controls`); on the right three tabs: *Live* (status, depth
ladder, results of the last run, blotter), *Analysis* (PnL and mid with the strategy's trades, live) and *Runs*
(every finished run, sortable, with its baseline, a sweep around it, export, and loading it back into the form).

Threads: the run advances in :class:`~lobkit.gui.session.LiveRun`'s worker; baselines and sweeps run in their own
worker threads (:class:`_Task`). Only Tk's thread touches widgets: it drains the queues every :data:`POLL_MS` ms
with ``after`` and applies the updates in one batch (the blotter and the ladder at most every :data:`RENDER_MS`
ms, the plot every :data:`~lobkit.gui.analysis.REDRAW_S` s while it is visible).

Keys: Space pause/resume, Right step, Ctrl-R run, Ctrl-E export the selected (else the last) run, Ctrl-D dark mode.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import tkinter as tk
from datetime import datetime
from pathlib import Path
from tkinter import ttk

import numpy as np

from lobkit.gui import theme
from lobkit.gui.analysis import AnalysisTab
from lobkit.gui.blotter import Blotter, blotter_rows, format_sim_time
from lobkit.gui.controls import ControlsPanel
from lobkit.gui.runs import RunRecord, RunsTable, SweepWindow, baseline_of, sweep_grid_around
from lobkit.gui.session import LiveRun
from lobkit.gui.status import DepthLadder, ResultsPanel, StatusPanel

__all__ = ["AlgoGym", "POLL_MS", "RENDER_MS"]

POLL_MS = 40  # the window drains the queues this often (ms)
RENDER_MS = 100  # the blotter and the depth ladder are redrawn at most this often (ms)


class _Task:
    """A function run in a worker thread; its result or its one-line error is collected by the window."""

    def __init__(self, name: str, fn, done):
        self.name, self.fn, self.done = name, fn, done
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, name=f"lobkit-{name}", daemon=True)
        self.thread.start()

    def _run(self):
        from lobkit.errors import LobkitError

        try:
            self.result = self.fn()
        except LobkitError as exc:
            self.error = str(exc)
        except Exception as exc:  # reported in the window, one line
            import traceback

            traceback.print_exc()
            self.error = f"{type(exc).__name__}: {exc}"


class AlgoGym:
    """The application. ``root``: a Tk root (created when None). ``out``: where runs, figures and sweeps are
    exported (default ``runs/gui``). ``dark``: the mode (None: the remembered choice, else light). ``models``:
    the learned market files offered (None: searched in the working directory, see
    :func:`lobkit.gui.form.find_models`)."""

    def __init__(self, root: tk.Tk | None = None, *, out: str | Path = "runs/gui", dark: bool | None = None,
                 models: dict | None = None, agent: str = "momentum", values: dict | None = None):
        from lobkit.gui.form import find_models

        self.root = root or tk.Tk()
        self.root.title("lobkit Algo-Gym")
        self.root.geometry("1440x900")
        self.root.minsize(1180, 700)
        self.out = Path(out)
        self.live: LiveRun | None = None
        self.live_values: dict | None = None
        self.live_agent: str | None = None
        self.runs: list[RunRecord] = []
        self.tasks: list[_Task] = []
        self.messages: list[str] = []
        self.last_render = 0.0
        self.pending_levels = None
        self.pending_status = None
        self.closed = False
        settings = theme.load_settings()
        self.dark = bool(settings.get("dark", False)) if dark is None else bool(dark)
        self.pal = theme.apply_theme(self.root, self.dark)
        self.models = find_models() if models is None else models
        self._build(agent, values)
        self._apply_palette()
        self._bind_keys()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.report_callback_exception = self._callback_failed
        self._poll_id = self.root.after(POLL_MS, self._poll)

    # -- layout --------------------------------------------------------------------------------------------
    def _build(self, agent, values) -> None:
        top = ttk.Frame(self.root, padding=(10, 6))
        top.pack(fill="x")
        ttk.Label(top, text="lobkit Algo-Gym", font=("TkDefaultFont", 14, "bold")).pack(side="left")
        self.dark_var = tk.BooleanVar(value=self.dark)
        self.dark_btn = ttk.Checkbutton(top, text="Dark mode", variable=self.dark_var, style="Switch.TCheckbutton",
                                        command=lambda: self.set_dark(self.dark_var.get()))
        self.dark_btn.pack(side="right")
        self.message = ttk.Label(top, text="Ready. Ctrl-R runs, Space pauses, Right steps, Ctrl-E exports.")
        self.message.pack(side="left", padx=20)

        paned = ttk.PanedWindow(self.root, orient="horizontal")
        paned.pack(fill="both", expand=True, padx=6, pady=(0, 6))
        self.controls = ControlsPanel(paned, models=self.models, on_start=self.start, on_pause=self.toggle_pause,
                                      on_step=self.step, on_stop=self.stop, on_reset=self.reset, agent=agent,
                                      values=values)
        paned.add(self.controls, weight=0)
        self.controls.vars["speed"].trace_add("write", lambda *_: self._speed_changed())
        self.tabs = ttk.Notebook(paned)
        paned.add(self.tabs, weight=1)

        live = ttk.Frame(self.tabs, padding=6)
        self.tabs.add(live, text="Live")
        upper = ttk.Frame(live)
        upper.pack(fill="x")
        self.status = StatusPanel(upper)
        self.status.pack(side="left", fill="y")
        self.ladder = DepthLadder(upper)
        self.ladder.pack(side="left", fill="both", expand=True, padx=8)
        self.results = ResultsPanel(upper)
        self.results.pack(side="left", fill="y")
        self.blotter = Blotter(live)
        self.blotter.pack(fill="both", expand=True, pady=(8, 0))

        analysis = ttk.Frame(self.tabs)
        self.tabs.add(analysis, text="Analysis")
        bar = ttk.Frame(analysis, padding=(6, 6, 6, 0))
        bar.pack(fill="x")
        ttk.Button(bar, text="Export run", command=self.export).pack(side="left")
        ttk.Button(bar, text="Save figure", command=self.save_figure).pack(side="left", padx=6)
        self.analysis = AnalysisTab(analysis)
        self.analysis.pack(fill="both", expand=True)

        self.runs_table = RunsTable(self.tabs, {
            "Run baseline": self.run_baseline, "Sweep around": self.sweep_around, "Export": self.export,
            "Load into form": self.load_into_form, "Show": self.show_run})
        self.tabs.add(self.runs_table, text="Runs")
        self.tabs.bind("<<NotebookTabChanged>>", lambda e: self.root.after_idle(self.analysis.redraw, False, True))

    def _bind_keys(self) -> None:
        r = self.root

        def unless_typing(fn):
            def handler(event):
                w = event.widget
                if isinstance(w, (tk.Entry, ttk.Entry)) and not (isinstance(w, ttk.Combobox)
                                                                 and str(w.cget("state")) == "readonly"):
                    return None  # a key typed into a text field is text
                if isinstance(w, (ttk.Button, ttk.Checkbutton, ttk.Radiobutton, tk.Button)):
                    return None  # Space on a focused button presses that button (once)
                fn()
                return "break"

            return handler

        r.bind_all("<space>", unless_typing(self.toggle_pause))
        r.bind_all("<Right>", unless_typing(self.step))
        r.bind_all("<Control-r>", lambda e: (self.start(), "break")[1])
        r.bind_all("<Control-e>", lambda e: (self.export(), "break")[1])
        r.bind_all("<Control-d>", lambda e: (self.set_dark(not self.dark), "break")[1])

    def _callback_failed(self, exc_type, exc, tb) -> None:
        """An error in a window callback: one line in the message bar (and the traceback on stderr), never a
        frozen window."""
        import traceback

        traceback.print_exception(exc_type, exc, tb)
        self.say(f"Something failed in the window: {exc_type.__name__}: {exc}")

    def _speed_changed(self) -> None:
        from lobkit.gui.form import SPEEDS

        text = self.controls.vars["speed"].get()
        if self.live is not None and self.live.running and text in SPEEDS:
            self.live.set_speed(SPEEDS[text])
            self.say(f"Replay speed: {text}.")

    # -- theme ---------------------------------------------------------------------------------------------
    def set_dark(self, dark: bool) -> None:
        """Switch light/dark mode: every widget and the plots; the choice is remembered."""
        self.dark = bool(dark)
        self.dark_var.set(self.dark)
        self.pal = theme.apply_theme(self.root, self.dark)
        self._apply_palette()
        theme.save_settings(dark=self.dark)

    def _apply_palette(self) -> None:
        pal = self.pal
        self.blotter.set_palette(pal)
        self.ladder.set_palette(pal)
        self.analysis.set_palette(pal)
        self.controls.set_palette(pal)

    # -- messages ------------------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.messages.append(text)
        self.message.configure(text=text)

    # -- run control ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a run with the form's values (when they are valid and no run is going). Returns whether it did."""
        if self.live is not None and self.live.running:
            self.say("A run is in progress: stop it first.")
            return False
        typed = self.controls.agent.get().strip()
        if typed != self.controls.built_agent:
            self.controls._agent_changed()  # a name typed but not yet taken: take it, show its fields
            self.say(f"The strategy is now {typed!r}: check its parameters, then Start.")
            return False
        res = self.controls.validate()
        if not res.ok:
            first = next(iter(res.errors.items()))
            self.say(f"Fix the form first: {first[0]}: {first[1]}")
            return False
        self.clear_views()
        self.analysis.begin(res.config.market.duration_ns / 1e9)
        self.live_values = self.controls.values()
        self.live_agent = self.controls.built_agent
        self.root.focus_set()  # keys go to the window (Space pauses), not to the last field or button
        self.live = LiveRun(res.config, res.seed, speed=res.speed).start()
        self.controls.set_running(True)
        self.status.set_state("starting (loading the compiled loop)...")
        self.say(f"Run started: {self.live_agent}, seed {self.live.seed.entropy}.")
        return True

    def toggle_pause(self) -> None:
        lv = self.live
        if lv is None or not lv.running:
            return
        if lv.paused:
            lv.resume()
            self.status.set_state("running")
        else:
            lv.pause()
            self.status.set_state("paused")
        self.controls.set_running(True, paused=lv.paused)
        self.root.focus_set()

    def step(self) -> None:
        lv = self.live
        if lv is None or not lv.running:
            return
        lv.step()
        self.controls.set_running(True, paused=True)
        self.status.set_state("paused (stepping one decision)")
        self.root.focus_set()

    def stop(self) -> None:
        if self.live is not None and self.live.running:
            self.live.stop()
            self.status.set_state("stopping...")

    def reset(self) -> None:
        """Stop any run, clear the live views and put the form back to its defaults."""
        if self.live is not None and self.live.running:
            self.live.stop()  # it ends on its own within a chunk; its last updates are not read
        self.live = None
        self.clear_views()
        self.results.clear()
        self.controls.reset()
        self.controls.set_running(False)
        self.say("Reset: the form is back to its defaults.")

    def clear_views(self) -> None:
        self.blotter.clear()
        self.status.clear()
        self.ladder.clear()
        self.analysis.clear()

    # -- the refresh loop ----------------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.closed:
            return
        try:
            self._drain_live()
            self._drain_tasks()
            now = time.perf_counter()
            if now - self.last_render >= RENDER_MS / 1000:
                self._render()
                self.last_render = now
            self.analysis.redraw()
        finally:
            if not self.closed:
                self._poll_id = self.root.after(POLL_MS, self._poll)

    def _drain_live(self) -> None:
        lv = self.live
        if lv is None:
            return
        names = [self.live_agent or "strategy"]
        tick = lv.cfg.market.tick_size
        while True:
            try:
                u = lv.updates.get_nowait()
            except queue.Empty:
                break
            if u.kind in ("started", "progress", "paused"):
                self.pending_status = (u.status, u.t_ns, u.end_ns)
                self.pending_levels = (u.bids, u.asks, tick)
                self.blotter.add(blotter_rows(u.orders, u.trades, names, tick),
                                 blotter_rows(u.agent_orders, u.agent_trades, names, tick))
                self.blotter.add_skipped(u.skipped)
                self.analysis.add_timeline(u.timeline)
                self._add_agent_trades(u.agent_trades, tick)
                if u.kind == "started":
                    self.status.set_state("paused" if lv.paused else "running")
                elif u.kind == "paused":
                    self.status.set_state(f"paused at {format_sim_time(u.t_ns)}")
                    u.status["events_per_s"] = None  # nothing runs while paused
            elif u.kind == "finished":
                self._finished(u)
            elif u.kind == "stopped":
                self.controls.set_running(False)
                self.status.set_state(f"stopped at {format_sim_time(u.t_ns)} (results discarded)")
                self.say(f"Stopped at {format_sim_time(u.t_ns)} of {format_sim_time(u.end_ns)}.")
            elif u.kind == "error":
                self.controls.set_running(False)
                self.status.set_state("failed")
                self.say(f"Run failed: {u.message}")

    def _add_agent_trades(self, trades, tick) -> None:
        if trades is None or not len(trades):
            return
        mine = (trades[:, 5] == 0) | (trades[:, 6] == 0)  # maker or taker is the strategy (owner 0)
        if not mine.any():
            return
        t = trades[mine]
        side = np.where(t[:, 6] == 0, t[:, 7], -t[:, 7])  # the strategy's side: the aggressor's if it took
        self.analysis.add_trades(t[:, 0] / 1e9, t[:, 1] * tick, side)  # seconds, currency, +1 buy / -1 sell

    def _render(self) -> None:
        if self.pending_status is not None:
            self.status.show(*self.pending_status)
            self.pending_status = None
        if self.pending_levels is not None:
            self.ladder.show(*self.pending_levels)
            self.pending_levels = None
        self.blotter.render()

    def _finished(self, u) -> None:
        self._render()
        res = u.result
        rec = RunRecord(id=len(self.runs) + 1, agent=self.live_agent, values=dict(self.live_values or {}),
                        result=res, seed=self.live.seed)
        self.runs.append(rec)
        self.runs_table.add(rec)
        self.status.show(u.status, u.t_ns, u.end_ns)
        self.status.set_state(f"finished in {u.wall_s:.2f} s of computing")
        self.results.show(res.summary, f"Run #{rec.id}: {rec.agent} {rec.params_text()}, seed {res.seed}")
        self.analysis.add_timeline(res.timeline.slice(self.analysis.points()))  # the final sample
        self.analysis.redraw(soon=True)  # when on screen; else when its tab is shown
        self.controls.set_running(False)
        self.say(f"Run #{rec.id} finished: PnL {res.summary['final_pnl']:+,.2f}, {res.summary['n_trades']} trades.")

    # -- tasks (baseline, sweep) ---------------------------------------------------------------------------
    def _drain_tasks(self) -> None:
        for task in [t for t in self.tasks if not t.thread.is_alive()]:
            self.tasks.remove(task)
            if task.error is not None:
                self.say(f"{task.name} failed: {task.error}")
            else:
                task.done(task.result)

    def run_baseline(self, rec: RunRecord | None = None) -> None:
        """Run the do-nothing baseline of ``rec`` (default: the selected run) in the background; its PnL and
        impact go into the runs table."""
        rec = rec or self.runs_table.selected()
        if rec is None:
            return

        def done(b):
            rec.baseline = b
            self.runs_table.refresh(rec)
            self.say(f"Baseline of run #{rec.id}: paper PnL {b['paper_pnl']:+,.2f}, impact cost "
                     f"{b['impact_cost']:+,.2f}, mid moved {b['mid_diff_final_ticks']:+.2f} ticks.")

        if any(t.name == f"baseline of run #{rec.id}" for t in self.tasks):
            self.say(f"The baseline of run #{rec.id} is already running.")
            return
        self.say(f"Running the baseline of run #{rec.id}...")
        self.tasks.append(_Task(f"baseline of run #{rec.id}", lambda: baseline_of(rec), done))

    def sweep_around(self, rec: RunRecord | None = None, repeats: int = 2, jobs: int = 2) -> None:
        """A small sweep around ``rec``'s parameters (half, same, double of its first two integer parameters) on
        its market, in the background; its best configurations and heatmap open in a window."""
        rec = rec or self.runs_table.selected()
        if rec is None:
            return
        import lobkit

        grid = sweep_grid_around(rec.result.config)
        out = self._fresh_dir(f"sweep-run{rec.id}")

        def work():
            cfg = dataclasses.replace(rec.result.config, record=False)
            return lobkit.sweep(grid, config=cfg, repeats=repeats, seed=rec.seed, jobs=jobs, out=out,
                                progress=False, overwrite=True)

        def done(sw):
            rec.sweeps.append(str(out))
            best = sw.best(10)
            heat = next(iter(sorted(Path(out).glob("heatmap*.png"))), None)
            self.sweep_window = SweepWindow(self.root, f"Sweep around run #{rec.id}: {grid}", best, heat, str(out))
            self.say(f"Sweep around run #{rec.id} ({grid}) done: {out}")

        self.say(f"Sweeping around run #{rec.id}: {grid} ...")
        self.tasks.append(_Task(f"sweep around run #{rec.id}", work, done))

    # -- export --------------------------------------------------------------------------------------------
    def _fresh_dir(self, stem: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        p = self.out / f"{stem}-{stamp}"
        k = 1
        while p.exists():
            k += 1
            p = self.out / f"{stem}-{stamp}-{k}"
        return p

    def export(self, rec: RunRecord | None = None, out: str | Path | None = None) -> Path | None:
        """Write a run's files (those of ``lobkit run``: Parquet tables, summary.json, pnl.png) to ``out``
        (default: a new folder under the export directory). Default run: the selected one, else the last."""
        from lobkit.errors import LobkitError
        from lobkit.sim.output import write_run

        rec = rec or self.runs_table.selected() or (self.runs[-1] if self.runs else None)
        if rec is None:
            self.say("Nothing to export yet: finish a run first.")
            return None
        path = Path(out) if out is not None else self._fresh_dir(f"run{rec.id}")
        try:
            write_run(rec.result, path)
        except LobkitError as exc:
            self.say(f"Export failed: {str(exc).removeprefix('--out ')}")
            return None
        rec.exported = str(path)
        self.say(f"Run #{rec.id} exported to {path}")
        return path

    def save_figure(self, path: str | Path | None = None) -> Path | None:
        """Save the Analysis figure (PNG; SVG or PDF by the suffix) to ``path`` (default: the export directory)."""
        p = Path(path) if path is not None else self._fresh_dir("analysis").with_suffix(".png")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            self.analysis.save(p)
        except (OSError, ValueError) as exc:
            self.say(f"Saving the figure failed: {exc}")
            return None
        self.say(f"Figure saved to {p}")
        return p

    def load_into_form(self, rec: RunRecord | None = None) -> None:
        rec = rec or self.runs_table.selected()
        if rec is None:
            return
        values = dict(rec.values)
        if not values.get("seed", "").strip():
            values["seed"] = str(rec.seed.entropy)  # the fresh seed the run drew: the same market again
        self.controls.set_values(values, agent=rec.agent)
        self.say(f"The form holds run #{rec.id}'s parameters and seed.")

    def show_run(self, rec: RunRecord | None = None) -> None:
        """Show a finished run's results and its figure again."""
        rec = rec or self.runs_table.selected()
        if rec is None:
            return
        if self.live is not None and self.live.running:
            self.say("A run is in progress: Show is for finished runs (stop the run or wait for its end).")
            return
        res = rec.result
        self.results.show(res.summary, f"Run #{rec.id}: {rec.agent} {rec.params_text()}, seed {res.seed}")
        self.analysis.begin(res.config.market.duration_ns / 1e9)
        self.analysis.add_timeline(res.timeline)
        if res.trades is not None and res.trades.height:
            t = res.trades.select("ts", "price", "size", "maker_oid", "taker_oid", "maker_owner", "taker_owner",
                                  "aggressor").to_numpy()
            self._add_agent_trades(t, res.config.market.tick_size)
        self.tabs.select(1)
        self.analysis.redraw(soon=True)

    # -- closing -------------------------------------------------------------------------------------------
    def close(self) -> None:
        """End the worker (if a run is going) and close the window."""
        if self.closed:
            return
        self.closed = True
        if self.live is not None and self.live.running:
            self.live.stop()
            self.live.join(2.0)
        try:
            self.root.after_cancel(self._poll_id)
            self.root.destroy()
        except tk.TclError:  # already destroyed
            pass

    def mainloop(self) -> None:
        self.root.mainloop()


def launch(**kw) -> None:
    """Open the Algo-Gym and run Tk's loop until the window closes (``lobkit gui``)."""
    app = AlgoGym(**kw)
    app.mainloop()
