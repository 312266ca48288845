"""The status panel (touch, spread, mid, last trade, simulated time, events/s, the strategy's position and PnL), the
depth ladder (the top levels of each side with volume bars) and the results panel of a finished run."""

from __future__ import annotations

import math
import tkinter as tk
from tkinter import ttk

from lobkit.gui.blotter import decimals_of, format_sim_time

__all__ = ["DepthLadder", "ResultsPanel", "StatusPanel"]

STATUS_FIELDS = (("best_bid", "Best bid"), ("best_ask", "Best ask"), ("spread", "Spread"), ("mid", "Mid"),
                 ("last_trade", "Last trade"), ("time", "Simulated time"), ("events_per_s", "Events / s"),
                 ("position", "Position"), ("pnl", "PnL"))


def _px(ticks, tick: float, decimals: int) -> str:
    return "-" if ticks is None else f"{ticks * tick:,.{decimals}f}"


class StatusPanel(ttk.LabelFrame):
    """One label per figure; :meth:`show` takes an :class:`~lobkit.gui.session.Update`'s ``status``."""

    def __init__(self, master):
        super().__init__(master, text="Status", padding=8)
        self.values: dict[str, ttk.Label] = {}
        for i, (key, label) in enumerate(STATUS_FIELDS):
            ttk.Label(self, text=label).grid(row=i, column=0, sticky="w", padx=(0, 12), pady=1)
            v = ttk.Label(self, text="-", width=28, anchor="e", font=("TkFixedFont", 10))
            v.grid(row=i, column=1, sticky="e", pady=1)
            self.values[key] = v
        self.state = ttk.Label(self, text="idle", anchor="w")
        self.state.grid(row=len(STATUS_FIELDS), column=0, columnspan=2, sticky="we", pady=(6, 0))

    def show(self, st: dict, t_ns: int, end_ns: int) -> None:
        tick = st.get("tick_size", 0.01)
        d = decimals_of(tick)
        one_sided = st.get("best_bid") is None or st.get("best_ask") is None
        spread = st.get("spread")
        text = {
            "best_bid": "empty" if st.get("best_bid") is None
            else f"{_px(st['best_bid'], tick, d)} x {st.get('bid_size', 0)}",
            "best_ask": "empty" if st.get("best_ask") is None
            else f"{_px(st['best_ask'], tick, d)} x {st.get('ask_size', 0)}",
            "spread": "-" if spread is None else f"{spread} tick{'' if spread == 1 else 's'}",
            "mid": f"{st.get('mid', float('nan')):,.{d + 1}f}" + (" (last two-sided)" if one_sided else ""),
            "last_trade": "-" if st.get("last_trade_px") is None
            else f"{st['last_trade_px']:,.{d}f} x {st.get('last_trade_size', 0)}",
            "time": f"{format_sim_time(t_ns)} / {format_sim_time(end_ns)}",
            "events_per_s": "paused" if st.get("events_per_s") is None else f"{st['events_per_s']:,.0f}",
            "position": f"{st.get('position', 0):+,d} lots",
            "pnl": f"{st.get('pnl', 0.0):+,.2f}",
        }
        for k, v in text.items():
            self.values[k].configure(text=v)

    def text(self) -> dict[str, str]:
        """What the panel shows, by field."""
        return {k: v.cget("text") for k, v in self.values.items()}

    def set_state(self, text: str) -> None:
        self.state.configure(text=text)

    def clear(self) -> None:
        for v in self.values.values():
            v.configure(text="-")
        self.state.configure(text="idle")


class DepthLadder(ttk.LabelFrame):
    """The top ``depth`` levels of each side on a canvas: asks above (best ask lowest), bids below, each with its
    price, size (lots) and a bar proportional to the size."""

    def __init__(self, master, depth: int = 10):
        super().__init__(master, text="Depth", padding=4)
        self.depth = depth
        self.row_h = 17
        self.canvas = tk.Canvas(self, width=220, height=self.row_h * (2 * depth + 1) + 4, highlightthickness=0)
        self.canvas.pack(fill="both", expand=True)
        self.pal = None
        self.last = None

    def set_palette(self, pal) -> None:
        self.pal = pal
        self.canvas.configure(background=pal.background)
        if self.last is not None:
            self.show(*self.last)

    def show(self, bids, asks, tick: float) -> None:
        self.last = (bids, asks, tick)
        c, pal = self.canvas, self.pal
        if pal is None:
            return
        c.delete("all")
        w = max(int(c.winfo_width()), 220)
        d = decimals_of(tick)
        sizes = [int(r[1]) for r in (*bids[: self.depth], *asks[: self.depth])]
        top = max(sizes) if sizes else 1
        bar_x0, bar_w = 150, w - 156
        if not len(asks):
            c.create_text(w / 2, self.depth * self.row_h / 2, text="no asks", fill=pal.muted)
        if not len(bids):
            c.create_text(w / 2, (self.depth + 1.5) * self.row_h + self.depth * self.row_h / 2, text="no bids",
                          fill=pal.muted)
        asks_shown = list(asks[: self.depth])[::-1]
        for i, r in enumerate(asks_shown):
            y = (self.depth - len(asks_shown) + i) * self.row_h + 2
            self._row(y, r, tick, d, pal.sell, pal.sell_bar, bar_x0, bar_w, top)
        y_mid = self.depth * self.row_h + 2
        c.create_line(4, y_mid + self.row_h / 2, w - 4, y_mid + self.row_h / 2, fill=pal.grid)
        for i, r in enumerate(bids[: self.depth]):
            y = (self.depth + 1 + i) * self.row_h + 2
            self._row(y, r, tick, d, pal.buy, pal.buy_bar, bar_x0, bar_w, top)

    def _row(self, y, r, tick, d, fg, bar, x0, bw, top) -> None:
        c = self.canvas
        price, size = int(r[0]), int(r[1])
        c.create_rectangle(x0, y + 2, x0 + max(1, bw * size / top), y + self.row_h - 2, fill=bar, outline="")
        c.create_text(8, y + self.row_h / 2, text=f"{price * tick:,.{d}f}", anchor="w", fill=fg,
                      font=("TkFixedFont", 9))
        c.create_text(142, y + self.row_h / 2, text=f"{size:,}", anchor="e", fill=self.pal.foreground,
                      font=("TkFixedFont", 9))

    def clear(self) -> None:
        self.last = None
        self.canvas.delete("all")


RESULT_FIELDS = (("final_pnl", "Final PnL", "{:+,.2f}"), ("n_trades", "Trades", "{:,d}"),
                 ("final_position", "Final position (lots)", "{:+,d}"), ("max_drawdown", "Max drawdown", "{:,.2f}"),
                 ("mean_spread_ticks", "Mean spread (ticks)", "{:,.2f}"),
                 ("realised_vol", "Volatility (per sqrt h)", "{:.4%}"), ("volume", "Volume (lots)", "{:,d}"),
                 ("n_events", "Background events", "{:,d}"))


class ResultsPanel(ttk.LabelFrame):
    """The figures of the finished run (its ``summary``, :func:`lobkit.sim.metrics.summarise`)."""

    def __init__(self, master):
        super().__init__(master, text="Results", padding=8)
        self.values: dict[str, ttk.Label] = {}
        for i, (key, label, _fmt) in enumerate(RESULT_FIELDS):
            ttk.Label(self, text=label).grid(row=i, column=0, sticky="w", padx=(0, 12), pady=1)
            v = ttk.Label(self, text="-", anchor="e", width=12, font=("TkFixedFont", 10))
            v.grid(row=i, column=1, sticky="e", pady=1)
            self.values[key] = v
        self.caption = ttk.Label(self, text="Finish a run to see its results.", anchor="w", wraplength=260,
                                 justify="left")
        self.caption.grid(row=len(RESULT_FIELDS), column=0, columnspan=2, sticky="w", pady=(6, 0))

    def show(self, summary: dict, caption: str = "") -> None:
        for key, _label, fmt in RESULT_FIELDS:
            v = summary.get(key)
            self.values[key].configure(text="-" if v is None or (isinstance(v, float) and math.isnan(v))
                                       else fmt.format(v))
        self.caption.configure(text=caption)

    def text(self) -> dict[str, str]:
        return {k: v.cget("text") for k, v in self.values.items()}

    def clear(self) -> None:
        for v in self.values.values():
            v.configure(text="-")
        self.caption.configure(text="Finish a run to see its results.")
