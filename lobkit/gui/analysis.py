"""The Analysis tab: the strategy's mark-to-market PnL and the mid-price with the strategy's trades, drawn live on a
matplotlib canvas.

Drawing is throttled (at most one redraw per :data:`REDRAW_S`, and only while the tab is on screen): the data are
appended as they arrive, the figure is redrawn from them when due. The simulation runs in another thread, so the
canvas costs the run nothing but the window's own time.
"""

from __future__ import annotations

import time
from tkinter import ttk

import numpy as np
from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
from matplotlib.figure import Figure

__all__ = ["AnalysisTab"]

REDRAW_S = 0.5
MAX_POINTS = 2000  # a line is drawn with at most about twice this many points


def envelope(x: np.ndarray, y: np.ndarray, bins: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as drawn: unchanged up to ``2 * bins`` points, else each of ``bins`` equal runs of points as a
    vertical stroke from its minimum to its maximum at the run's first time (a run is narrower than a pixel, so
    the picture is the same and every spike stays visible)."""
    n = len(y)
    if n <= 2 * bins:
        return x, y
    starts = np.linspace(0, n, bins + 1).astype(np.int64)[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    xs = np.repeat(x[starts], 2)
    ys = np.empty(2 * bins, dtype=np.float64)
    ys[0::2], ys[1::2] = lo, hi
    return xs, ys


class AnalysisTab(ttk.Frame):
    """The live figure. :meth:`begin` sets the time axis to the run's duration, :meth:`add_timeline` takes new rows
    of the run's sampling grid (a Polars frame with ``t_s``, ``mid``, ``pnl``), :meth:`add_trades` the strategy's
    fills (time s, price, side), :meth:`redraw` draws when due; :meth:`save` writes the figure (PNG, SVG or PDF by
    the suffix).

    Blitting: the lines and markers are *animated* artists drawn over a saved background (axes, ticks, labels).
    The time axis is fixed for the run and a price or PnL axis only grows (with headroom), so most redraws only
    restore the background and draw the data (a few ms); a full draw happens when an axis has to grow.
    """

    def __init__(self, master):
        super().__init__(master, padding=4)
        self.fig = Figure(figsize=(9, 6), dpi=90)
        self.fig.subplots_adjust(left=0.08, right=0.985, top=0.975, bottom=0.08, hspace=0.12)
        self.ax_pnl = self.fig.add_subplot(211)
        self.ax_mid = self.fig.add_subplot(212, sharex=self.ax_pnl)
        self.canvas = FigureCanvasTkAgg(self.fig, master=self)
        self.canvas.get_tk_widget().pack(fill="both", expand=True)
        (self.pnl_line,) = self.ax_pnl.plot([], [], lw=1.2)
        (self.mid_line,) = self.ax_mid.plot([], [], lw=0.9, label="mid")
        self.buys = self.ax_mid.scatter([], [], marker="^", s=28, zorder=3, label="strategy buys")
        self.sells = self.ax_mid.scatter([], [], marker="v", s=28, zorder=3, label="strategy sells")
        self.animated = (self.pnl_line, self.mid_line, self.buys, self.sells)
        for a in self.animated:
            a.set_animated(True)
        self.ax_pnl.set_ylabel("PnL (currency)")
        self.ax_mid.set_ylabel("mid (currency)")
        self.unit = ("min", 60.0)
        self.ax_mid.set_xlabel("simulated time (min)")
        for ax in (self.ax_pnl, self.ax_mid):
            ax.ticklabel_format(axis="y", useOffset=False)
        self.background = None
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.pal = None
        self.n_full_draws = 0
        self.clear()

    def clear(self) -> None:
        self.t = []
        self.mid = []
        self.pnl = []
        self.trades = []  # (time in self.unit, px, side)
        self.dirty = True
        self.last_draw = 0.0
        self.n_draws = 0
        self.ax_pnl.set_xlim(0, 1)
        self.ax_pnl.set_ylim(-1, 1)
        self.ax_mid.set_ylim(0, 1)
        self._limits_set = False
        self.redraw(force=True)

    def begin(self, duration_s: float) -> None:
        """A new run of ``duration_s`` simulated seconds: clear, choose the time unit (s up to 2 min, min up to
        3 h, else h) and fix the time axis to the run."""
        self.unit = next(u for limit, u in ((120, ("s", 1.0)), (3 * 3600, ("min", 60.0)), (float("inf"),
                                                                                          ("h", 3600.0)))
                         if duration_s <= limit)
        self.ax_mid.set_xlabel(f"simulated time ({self.unit[0]})")
        self.clear()
        self.ax_pnl.set_xlim(0, max(duration_s / self.unit[1], 1e-6))
        self.redraw(force=True)

    def add_timeline(self, frame) -> None:
        if frame is None or frame.height == 0:
            return
        self.t.append(frame["t_s"].to_numpy() / self.unit[1])
        self.mid.append(frame["mid"].to_numpy())
        self.pnl.append(frame["pnl"].to_numpy())
        self.dirty = True

    def add_trades(self, t_s: np.ndarray, px: np.ndarray, side: np.ndarray) -> None:
        if len(t_s):
            self.trades.append(np.stack([t_s / self.unit[1], px, side], axis=1))
            self.dirty = True

    def set_palette(self, pal) -> None:
        self.pal = pal
        self.fig.set_facecolor(pal.background)
        for ax in (self.ax_pnl, self.ax_mid):
            ax.set_facecolor(pal.background)
            ax.tick_params(colors=pal.foreground)
            for s in ax.spines.values():
                s.set_color(pal.muted)
            ax.yaxis.label.set_color(pal.foreground)
            ax.xaxis.label.set_color(pal.foreground)
            ax.grid(True, color=pal.grid, lw=0.5)
        self.pnl_line.set_color(pal.pnl)
        self.mid_line.set_color(pal.mid)
        self.buys.set_color(pal.buy)
        self.sells.set_color(pal.sell)
        leg = self.ax_mid.legend(handles=[self.buys, self.sells], loc="upper left", fontsize=8)
        leg.get_frame().set_facecolor(pal.background)
        leg.get_frame().set_edgecolor(pal.grid)
        for txt in leg.get_texts():
            txt.set_color(pal.foreground)
        self.dirty = True
        self.redraw(force=True)

    # -- drawing -------------------------------------------------------------------------------------------
    def _on_draw(self, _event) -> None:
        """After a full draw: keep the background, draw the data over it."""
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        for a in self.animated:
            self.fig.draw_artist(a)

    def _grow(self, ax, y: np.ndarray, span_floor: float) -> bool:
        """Grow ``ax``'s y range to hold ``y`` with 25% headroom (fewer full draws); True when it changed."""
        if not len(y):
            return False
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        cur = ax.get_ylim()
        if self._limits_set and cur[0] <= lo and hi <= cur[1]:
            return False
        if self._limits_set:
            lo, hi = min(lo, cur[0]), max(hi, cur[1])
        pad = max(hi - lo, span_floor) * 0.25
        ax.set_ylim(lo - pad, hi + pad)
        return True

    def redraw(self, force: bool = False, soon: bool = False) -> bool:
        """Redraw when there is something new, the tab is on screen and the last draw is :data:`REDRAW_S` old
        (``soon``: however old). ``force``: now, whatever the state (a new run, a new palette, a saved figure).
        Returns whether it drew. Lines of more than ``2 * MAX_POINTS`` points are drawn as their min-max envelope
        (every spike kept)."""
        now = time.perf_counter()
        if not force and (not self.dirty or not self.winfo_viewable()
                          or (not soon and now - self.last_draw < REDRAW_S)):
            return False
        t = np.concatenate(self.t) if self.t else np.zeros(0)
        pnl = np.concatenate(self.pnl) if self.pnl else np.zeros(0)
        mid = np.concatenate(self.mid) if self.mid else np.zeros(0)
        self.pnl_line.set_data(*envelope(t, pnl))
        self.mid_line.set_data(*envelope(t, mid))
        tr = np.concatenate(self.trades) if self.trades else np.zeros((0, 3))
        size = 28.0 if len(tr) <= 200 else 10.0 if len(tr) <= 2000 else 4.0  # many trades: small marks
        self.buys.set_sizes([size])
        self.sells.set_sizes([size])
        self.buys.set_offsets(tr[tr[:, 2] > 0][:, :2] if len(tr) else np.zeros((0, 2)))
        self.sells.set_offsets(tr[tr[:, 2] < 0][:, :2] if len(tr) else np.zeros((0, 2)))
        grew = self._grow(self.ax_pnl, pnl, 1e-2)
        grew = self._grow(self.ax_mid, mid, max(1e-6, float(np.nanmean(mid)) * 1e-4) if len(mid) else 1.0) or grew
        if len(t) and t[-1] > self.ax_pnl.get_xlim()[1]:  # a run shown without begin()
            self.ax_pnl.set_xlim(0, float(t[-1]))
            grew = True
        self._limits_set = self._limits_set or bool(len(t))
        if force or grew or self.background is None:
            self.canvas.draw()
            self.n_full_draws += 1
        else:
            self.canvas.restore_region(self.background)
            for a in self.animated:
                self.fig.draw_artist(a)
            self.canvas.blit(self.fig.bbox)
        self.dirty = False
        self.last_draw = now
        self.n_draws += 1
        return True

    def points(self) -> int:
        """Points of the PnL line."""
        return int(sum(len(x) for x in self.t))

    def save(self, path) -> None:
        """Write the figure with its data (animated artists are drawn for the file too)."""
        self.redraw(force=True)
        for a in self.animated:
            a.set_animated(False)
        try:
            self.fig.savefig(path, facecolor=self.fig.get_facecolor())
        finally:
            for a in self.animated:
                a.set_animated(True)
