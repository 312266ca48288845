"""The controls panel: the strategy and its parameters, the market, and the run's buttons.

The fields are built from :mod:`lobkit.gui.form` (the agent's ``Params`` dataclass and the configuration's
options), validated as they are typed, each message beside its field; Start is disabled while any field is
invalid.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lobkit.gui import form as F

__all__ = ["ControlsPanel"]

LABEL_WIDTH = 140  # pixels of the labels' column, the same in every section


class ControlsPanel(ttk.Frame):
    """``on_start``, ``on_pause``, ``on_step``, ``on_stop``, ``on_reset``: callbacks of the buttons.
    ``models``: :func:`lobkit.gui.form.find_models`'s answer (the learned markets offered)."""

    def __init__(self, master, *, models: dict, on_start, on_pause, on_step, on_stop, on_reset,
                 agent: str = "momentum", values: dict | None = None):
        super().__init__(master, padding=8)
        self.models = models
        self.vars: dict[str, tk.StringVar] = {}
        self.errors: dict[str, ttk.Label] = {}
        self.widgets: dict[str, ttk.Widget] = {}
        self.result: F.FormResult | None = None
        self._pal = None
        self._idle_state: dict[str, str] = {"agent": "normal"}
        self.start_allowed = False

        # the run's buttons first: always in view, whatever the window's height
        buttons = ttk.Frame(self)
        buttons.pack(fill="x", pady=(0, 6))
        self.start_btn = ttk.Button(buttons, text="Start", command=on_start, style="Accent.TButton")
        self.pause_btn = ttk.Button(buttons, text="Pause", command=on_pause, state="disabled")
        self.step_btn = ttk.Button(buttons, text="Step", command=on_step, state="disabled")
        self.stop_btn = ttk.Button(buttons, text="Stop", command=on_stop, state="disabled")
        self.reset_btn = ttk.Button(buttons, text="Reset", command=on_reset)
        for i, b in enumerate((self.start_btn, self.pause_btn, self.step_btn, self.stop_btn, self.reset_btn)):
            b.grid(row=0, column=i, padx=2, sticky="we")
            buttons.columnconfigure(i, weight=1)
        self.form_error = ttk.Label(self, text="", wraplength=330, justify="left")
        self.form_error.pack(fill="x")

        # the fields scroll when the window is short (an agent may have many parameters)
        holder = ttk.Frame(self)
        holder.pack(fill="both", expand=True)
        self.scroll_canvas = tk.Canvas(holder, highlightthickness=0, borderwidth=0, width=380)
        bar = ttk.Scrollbar(holder, orient="vertical", command=self.scroll_canvas.yview)
        self.scroll_canvas.configure(yscrollcommand=bar.set)
        self.scroll_canvas.pack(side="left", fill="both", expand=True)
        bar.pack(side="right", fill="y")
        body = ttk.Frame(self.scroll_canvas)
        self._body_id = self.scroll_canvas.create_window(0, 0, window=body, anchor="nw")
        body.bind("<Configure>", lambda e: self.scroll_canvas.configure(scrollregion=self.scroll_canvas.bbox("all")))
        self.scroll_canvas.bind("<Configure>", lambda e: self.scroll_canvas.itemconfigure(self._body_id,
                                                                                          width=e.width))
        for seq, delta in (("<Button-4>", -1), ("<Button-5>", 1)):
            self.scroll_canvas.bind_all(seq, lambda e, d=delta: self._wheel(e, d), add="+")
        self.scroll_canvas.bind_all("<MouseWheel>", lambda e: self._wheel(e, -1 if e.delta > 0 else 1), add="+")

        strat = ttk.LabelFrame(body, text="Strategy", padding=8)
        strat.pack(fill="x", padx=(0, 4))
        self.agent = tk.StringVar(value=agent)
        from lobkit.agents import agent_names

        ttk.Label(strat, text="agent").grid(row=0, column=0, sticky="w")
        box = ttk.Combobox(strat, textvariable=self.agent, values=agent_names(), width=22)
        box.grid(row=0, column=1, sticky="we", pady=2)
        box.bind("<<ComboboxSelected>>", lambda e: self._agent_changed())
        box.bind("<Return>", lambda e: self._agent_changed())
        box.bind("<FocusOut>", lambda e: self._agent_changed())
        self.widgets["agent"] = box
        self.errors["agent"] = self._error_label(strat, 1)
        self.strategy_frame = ttk.Frame(strat)
        self.strategy_frame.grid(row=2, column=0, columnspan=2, sticky="we")
        strat.columnconfigure(1, weight=1)
        self.strategy_frame.columnconfigure(0, minsize=LABEL_WIDTH)
        strat.columnconfigure(0, minsize=LABEL_WIDTH)

        market = ttk.LabelFrame(body, text="Market", padding=8)
        market.pack(fill="x", pady=(8, 0), padx=(0, 4))
        self.market_frame = market
        self._build_fields(market, F.market_fields(models), values or {})
        self._agent_changed(values or {}, force=True)

    # -- building ------------------------------------------------------------------------------------------
    def _wheel(self, event, direction: int) -> None:
        """Scroll the fields with the mouse wheel when the pointer is over them."""
        w = event.widget
        while w is not None:
            if w is self.scroll_canvas:
                self.scroll_canvas.yview_scroll(direction, "units")
                return
            w = getattr(w, "master", None)

    def _error_label(self, parent, row) -> ttk.Label:
        lab = ttk.Label(parent, text="", wraplength=300, justify="left", font=("TkDefaultFont", 9))
        lab.grid(row=row, column=0, columnspan=2, sticky="w")
        lab.grid_remove()
        if self._pal is not None:
            lab.configure(foreground=self._pal.error)
        return lab

    def _build_fields(self, parent, specs: list[F.FieldSpec], values: dict) -> None:
        for i, spec in enumerate(specs):
            var = tk.StringVar(value=values.get(spec.name, spec.default))
            ttk.Label(parent, text=spec.label).grid(row=2 * i, column=0, sticky="w", padx=(0, 8))
            if spec.kind == "choice":
                readonly = spec.name not in ("flow", "initial_book")  # those two also take a typed FILE
                w = ttk.Combobox(parent, textvariable=var, values=spec.choices, width=22,
                                 state="readonly" if readonly else "normal")
            else:
                w = ttk.Entry(parent, textvariable=var, width=24)
            w.grid(row=2 * i, column=1, sticky="we", pady=2)
            self._idle_state[spec.name] = str(w.cget("state"))
            if spec.help:
                _Tooltip(w, spec.help)
            self.vars[spec.name] = var
            self.widgets[spec.name] = w
            self.errors[spec.name] = self._error_label(parent, 2 * i + 1)
            var.trace_add("write", lambda *_: self.validate())
        parent.columnconfigure(1, weight=1)
        parent.columnconfigure(0, minsize=LABEL_WIDTH)

    def _agent_changed(self, values: dict | None = None, force: bool = False) -> None:
        name = self.agent.get().strip()
        if not force and name == getattr(self, "_agent_built", None):
            return
        keep = {k: v.get() for k, v in self.vars.items()} if values is None else dict(values)
        for spec_name in [n for n in self.vars if n not in {s.name for s in F.market_fields(self.models)}]:
            self.vars.pop(spec_name)
            self.errors.pop(spec_name, None)
            self.widgets.pop(spec_name, None)
        for child in self.strategy_frame.winfo_children():
            child.destroy()
        try:
            specs = F.strategy_fields(name)
        except Exception as exc:  # an unknown agent or a class path that does not import: say so beside it
            self._agent_built = None
            msg = str(exc)
            if "cannot import" in msg:
                msg += "; start lobkit gui in the folder that holds the module, or add that folder to PYTHONPATH"
            self._show_error("agent", msg)
            self.start_btn.configure(state="disabled")
            return
        self._agent_built = name
        self._show_error("agent", "")
        self._build_fields(self.strategy_frame, specs, {k: v for k, v in keep.items()
                                                        if k in {s.name for s in specs}})
        self.validate()

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def built_agent(self) -> str | None:
        """The agent whose fields the form shows (None while the typed name is not a usable agent)."""
        return getattr(self, "_agent_built", None)

    def values(self) -> dict[str, str]:
        """The form's text by field name."""
        return {k: v.get() for k, v in self.vars.items()}

    def set_values(self, values: dict[str, str], agent: str | None = None) -> None:
        """Fill the form (e.g. from a run of the runs table)."""
        if agent is not None and agent != self.agent.get():
            self.agent.set(agent)
            self._agent_changed(values, force=True)
        for k, v in values.items():
            if k in self.vars:
                self.vars[k].set(v)
        self.validate()

    def reset(self) -> None:
        """Back to the defaults (agent and fields)."""
        self.agent.set("momentum")
        self._agent_changed({}, force=True)
        for spec in F.market_fields(self.models):
            self.vars[spec.name].set(spec.default)
        self.validate()

    def validate(self) -> F.FormResult:
        """Check every field; show each message beside its field; enable Start only when all are good."""
        if getattr(self, "_agent_built", None) is None:
            return F.FormResult(None, None, None, {"agent": "unknown agent"})
        res = F.validate(self._agent_built, self.values())
        self.result = res
        for name in self.errors:
            if name != "agent":
                self._show_error(name, res.errors.get(name, ""))
        self.form_error.configure(text=res.errors.get("_form", ""))
        self.start_allowed = res.ok
        if self._running is False:
            self.start_btn.configure(state="normal" if res.ok else "disabled")
        return res

    _running = False

    def _show_error(self, name: str, msg: str) -> None:
        lab = self.errors.get(name)
        if lab is None:
            return
        if msg:
            lab.configure(text=msg)
            lab.grid()
        else:
            lab.configure(text="")
            lab.grid_remove()

    def error_text(self) -> dict[str, str]:
        """The messages shown, by field (empty fields left out)."""
        return {k: lab.cget("text") for k, lab in self.errors.items() if lab.cget("text")}

    def set_running(self, running: bool, paused: bool = False) -> None:
        """Buttons for a run in progress (or none)."""
        self._running = running
        self.start_btn.configure(state="disabled" if running else ("normal" if self.start_allowed else "disabled"))
        self.pause_btn.configure(state="normal" if running else "disabled", text="Resume" if paused else "Pause")
        self.step_btn.configure(state="normal" if running else "disabled")
        self.stop_btn.configure(state="normal" if running else "disabled")
        for name, w in self.widgets.items():
            if name == "speed":
                continue  # the replay speed can change during a run
            w.configure(state="disabled" if running else self._idle_state.get(name, "normal"))

    def set_palette(self, pal) -> None:
        self._pal = pal
        for lab in self.errors.values():
            lab.configure(foreground=pal.error)
        self.form_error.configure(foreground=pal.error)
        self.scroll_canvas.configure(background=pal.background)


class _Tooltip:
    """A small help text under a widget while the pointer is on it."""

    def __init__(self, widget, text: str):
        self.widget, self.text, self.tip = widget, text, None
        widget.bind("<Enter>", self._show, add="+")
        widget.bind("<Leave>", self._hide, add="+")

    def _show(self, _e=None):
        if self.tip is not None:
            return
        x = self.widget.winfo_rootx() + 10
        y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        self.tip = tk.Toplevel(self.widget)
        self.tip.wm_overrideredirect(True)
        self.tip.wm_geometry(f"+{x}+{y}")
        ttk.Label(self.tip, text=self.text, padding=4, wraplength=320, relief="solid").pack()

    def _hide(self, _e=None):
        if self.tip is not None:
            self.tip.destroy()
            self.tip = None
