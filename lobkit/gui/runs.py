"""The runs table: every finished run of the session with its parameters and results, sortable by any column, and
what can be done with a run: its do-nothing baseline (:func:`lobkit.sim.experiments.paper_baseline` and
:func:`lobkit.sim.metrics.pair_impact`, exactly as ``lobkit compare`` computes a seed pair), a small sweep around
its parameters (:func:`lobkit.sweep`), its export (:func:`lobkit.sim.output.write_run`, the files of
``lobkit run``) and loading its parameters back into the form."""

from __future__ import annotations

import dataclasses
import math
import tkinter as tk
from dataclasses import dataclass, field
from tkinter import ttk

import numpy as np

__all__ = ["RunRecord", "RunsTable", "baseline_of", "sweep_grid_around"]

COLUMNS = (("id", "#", 36), ("agent", "Agent", 90), ("params", "Parameters", 190), ("final_pnl", "PnL", 70),
           ("paper_pnl", "Baseline PnL", 88), ("impact_cost", "Impact cost", 80),
           ("mid_diff_final_ticks", "Mid impact (ticks)", 112), ("n_trades", "Trades", 55),
           ("final_position", "Position", 60), ("max_drawdown", "Max DD", 62),
           ("mean_spread_ticks", "Spread (ticks)", 90), ("volume", "Volume", 75), ("flow", "Flow", 110),
           ("duration", "Duration", 62), ("seed", "Seed", 300))
SIGNED = ("final_position",)  # shown with their sign, as in the results panel

@dataclass
class RunRecord:
    """One finished run: ``id`` (1, 2, ...), the form's ``values`` and ``agent``, the ``result``
    (:class:`~lobkit.sim.results.RunResult`), the ``seed`` (SeedSequence), and once computed its ``baseline``
    (the seed pair's figures, :func:`lobkit.sim.metrics.pair_impact`) and where it was ``exported``."""

    id: int
    agent: str
    values: dict
    result: object
    seed: object
    baseline: dict | None = None
    exported: str | None = None
    sweeps: list = field(default_factory=list)

    def params_text(self) -> str:
        p = self.result.config.agent.params
        if not dataclasses.is_dataclass(p):
            return ""
        return " ".join(f"{f.name}={getattr(p, f.name)}" for f in dataclasses.fields(p))

    def params_key(self) -> tuple:
        """The agent's parameter values, for sorting (numbers as numbers)."""
        p = self.result.config.agent.params
        if not dataclasses.is_dataclass(p):
            return ()
        return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
                     for v in (getattr(p, f.name) for f in dataclasses.fields(p)))

    def cells(self) -> dict:
        """Column -> value (numbers stay numbers, for sorting)."""
        s = self.result.summary
        from lobkit.sim.config import format_duration

        cfg = self.result.config
        flow = cfg.flow.name + (f":{_short(cfg.flow.path)}" if cfg.flow.path else "")
        out = {"id": self.id, "agent": self.agent, "params": self.params_text(), "flow": flow,
               "duration": format_duration(cfg.market.duration_ns), "seed": self.result.seed}
        for k in ("final_pnl", "n_trades", "final_position", "max_drawdown", "mean_spread_ticks", "volume"):
            out[k] = s.get(k)
        b = self.baseline or {}
        for k in ("paper_pnl", "impact_cost", "mid_diff_final_ticks"):
            out[k] = b.get(k)
        return out


def _short(path: str) -> str:
    from pathlib import Path

    return Path(path).name


def _fmt(v, signed: bool = False) -> str:
    if v is None:
        return ""
    if signed and isinstance(v, (int, np.integer)):
        return f"{v:+,d}"
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:,.2f}"
    if isinstance(v, (int, np.integer)):
        return f"{v:,d}"
    return str(v)


def baseline_of(rec: RunRecord) -> dict:
    """The do-nothing baseline of a finished run on its own seed: the seed pair's figures as ``lobkit compare``
    computes them (``pnl``, ``paper_pnl``, ``impact_cost``, mid, spread and volume differences)."""
    from lobkit.sim.experiments import paper_baseline
    from lobkit.sim.metrics import pair_impact

    res = rec.result
    base = paper_baseline(res, rec.seed)
    return pair_impact(base, res, res.config.market.warmup_ns, res.config.market.tick_size)


def sweep_grid_around(cfg, max_axes: int = 2) -> str:
    """A small grid around a run's parameters (a grid string of :mod:`lobkit.sweeps.grid`): for the first
    ``max_axes`` integer parameters of the agent (else its ``size``), the values half, equal and double; invalid
    combinations are skipped by the sweep itself."""
    p = cfg.agent.params
    axes = []
    if dataclasses.is_dataclass(p):
        for f in dataclasses.fields(p):
            v = getattr(p, f.name)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                axes.append((f.name, v))
    if not axes:
        axes = [("size", cfg.agent.size)]
    parts = []
    for name, v in axes[:max_axes]:
        vals = sorted({max(1, v // 2), v, 2 * v})
        parts.append(f"{name}={','.join(str(x) for x in vals)}")
    return " ".join(parts)


class RunsTable(ttk.Frame):
    """The table. ``actions``: label -> callback(record) for the buttons under it (the window gives Baseline,
    Sweep around, Export, Load into form, Show)."""

    def __init__(self, master, actions: dict):
        super().__init__(master, padding=4)
        self.records: dict[str, RunRecord] = {}
        self.sort_key = ("id", False)
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True)
        self.tree = ttk.Treeview(body, columns=[c for c, _, _ in COLUMNS], show="headings", selectmode="browse")
        for c, label, w in COLUMNS:
            self.tree.heading(c, text=label, command=lambda c=c: self.sort(c))
            self.tree.column(c, width=w, minwidth=w, anchor="w" if c in ("agent", "params", "flow", "seed") else "e",
                             stretch=False)
        sb = ttk.Scrollbar(body, orient="vertical", command=self.tree.yview)
        sx = ttk.Scrollbar(body, orient="horizontal", command=self.tree.xview)
        self.tree.configure(yscrollcommand=sb.set, xscrollcommand=sx.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        sb.grid(row=0, column=1, sticky="ns")
        sx.grid(row=1, column=0, sticky="ew")
        body.rowconfigure(0, weight=1)
        body.columnconfigure(0, weight=1)
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(6, 0))
        self.buttons = {}
        for label, cb in actions.items():
            b = ttk.Button(bar, text=label, command=lambda cb=cb: self._act(cb))
            b.pack(side="left", padx=3)
            self.buttons[label] = b
        self.note = ttk.Label(bar, text="Select a run.")
        self.note.pack(side="left", padx=12)
        self.tree.bind("<<TreeviewSelect>>", lambda e: self.note.configure(text=""))

    def _act(self, cb) -> None:
        rec = self.selected()
        if rec is None:
            self.note.configure(text="Select a run first.")
            return
        cb(rec)

    def add(self, rec: RunRecord) -> None:
        iid = str(rec.id)
        self.records[iid] = rec
        self.tree.insert("", "end", iid=iid, values=self._row(rec))
        self.sort(self.sort_key[0], toggle=False)
        self.tree.selection_set(iid)
        self.tree.see(iid)

    def refresh(self, rec: RunRecord) -> None:
        iid = str(rec.id)
        if self.tree.exists(iid):
            self.tree.item(iid, values=self._row(rec))

    @staticmethod
    def _row(rec: RunRecord) -> list[str]:
        cells = rec.cells()
        return [_fmt(cells[c], c in SIGNED) for c, _, _ in COLUMNS]

    def selected(self) -> RunRecord | None:
        sel = self.tree.selection()
        return self.records.get(sel[0]) if sel else None

    def select(self, rec_id: int) -> None:
        self.tree.selection_set(str(rec_id))

    def sort(self, column: str, toggle: bool = True) -> None:
        """Sort by ``column`` (numbers as numbers, blanks last); clicking the same heading again reverses."""
        col, desc = self.sort_key
        desc = (not desc if column == col else False) if toggle else desc
        self.sort_key = (column, desc)

        def key(iid):
            if column == "params":
                return (False, self.records[iid].params_key(), "")
            v = self.records[iid].cells()[column]
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            return (missing, v if not missing and not isinstance(v, str) else 0,
                    v if isinstance(v, str) else "")

        iids = sorted(self.records, key=key, reverse=desc)
        if desc:  # blanks stay last
            iids = [i for i in iids if not key(i)[0]] + [i for i in iids if key(i)[0]]
        for pos, iid in enumerate(iids):
            self.tree.move(iid, "", pos)
        for c, label, _ in COLUMNS:
            arrow = (" \u25bc" if desc else " \u25b2") if c == column else ""
            self.tree.heading(c, text=label + arrow)

    def order(self) -> list[int]:
        """Run ids top to bottom."""
        return [int(i) for i in self.tree.get_children()]

    def column_text(self, rec_id: int) -> dict[str, str]:
        vals = self.tree.item(str(rec_id), "values")
        return {c: v for (c, _, _), v in zip(COLUMNS, vals, strict=True)}

    def clear_note(self, text: str = "") -> None:
        self.note.configure(text=text)


_SWEEP_STATS = ("n", "mean", "std", "sem", "t_stat", "ci95_low", "ci95_high")


class SweepWindow(tk.Toplevel):
    """The result of a sweep around a run: its best configurations and its heatmap."""

    def __init__(self, master, title: str, best, heatmap_path, out: str):
        super().__init__(master)
        self.title(title)
        self.geometry("900x700")
        frame = ttk.Frame(self, padding=8)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=f"Best configurations by mean PnL (files in {out})").pack(anchor="w")
        params = [c for c in best.columns if c not in _SWEEP_STATS and not c.startswith("mean_")
                  and c not in ("config_index", "n_errors", "first_error")]
        cols = params + [c for c in ("mean", "ci95_low", "ci95_high", "t_stat", "n", "mean_n_trades",
                                     "mean_max_drawdown") if c in best.columns]
        names = {"mean": "mean PnL", "ci95_low": "95% CI low", "ci95_high": "95% CI high", "t_stat": "t",
                 "n": "repeats", "mean_n_trades": "trades", "mean_max_drawdown": "max DD"}
        box = ttk.Frame(frame)
        box.pack(fill="x", pady=6)
        tree = ttk.Treeview(box, columns=cols, show="headings", height=min(10, max(1, best.height)))
        for c in cols:
            tree.heading(c, text=names.get(c, c))
            tree.column(c, width=90, anchor="e")
        for row in best.select(cols).iter_rows():
            tree.insert("", "end", values=[_fmt(v) for v in row])
        sx = ttk.Scrollbar(box, orient="horizontal", command=tree.xview)
        tree.configure(xscrollcommand=sx.set)
        tree.pack(fill="x")
        sx.pack(fill="x")
        self.tree = tree
        self.image = None
        if heatmap_path is not None:
            from PIL import Image, ImageTk

            img = Image.open(heatmap_path)
            img.thumbnail((860, 520))
            self.image = ImageTk.PhotoImage(img, master=self)
            ttk.Label(frame, image=self.image).pack()
