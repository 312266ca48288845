"""The live blotter: a ``ttk.Treeview`` of the most recent orders and trades, newest first.

Rows: simulated time, agent (the strategy's name, or ``bg N`` for background account N), kind (limit, market,
cancel, ... or trade), side, price (currency) and size (lots). A trade is shown from its aggressor's side, except
when the strategy's resting order was hit: then from the strategy's (``trade (passive)``). Buys, sells and trades
have their own colours and the strategy's rows are highlighted. Three windows of at most ``max_rows`` rows are kept
(all / strategy only / trades only) so that a long run stays smooth: only the rows on screen exist as widgets.
"""

from __future__ import annotations

import tkinter as tk
from collections import deque
from tkinter import ttk

from lobkit.engine.messages import OK, OP_NAMES
from lobkit.sim import nb as snb

__all__ = ["FILTERS", "Blotter", "blotter_rows", "decimals_of", "format_sim_time"]

FILTERS = ("all", "strategy", "trades")
COLUMNS = (("time", 110), ("agent", 110), ("kind", 80), ("side", 55), ("price", 100), ("size", 70))


def format_sim_time(t_ns: int) -> str:
    """``H:MM:SS.mmm`` of simulated time (ns)."""
    ms = int(t_ns) // 1_000_000
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"


def decimals_of(tick: float) -> int:
    """Decimals that show every price on a grid of ``tick`` exactly (0.01 -> 2, 0.25 -> 2, 0.5 -> 1, 5 -> 0),
    at most 8."""
    return len(f"{tick:.8f}".rstrip("0").partition(".")[2])


def blotter_rows(orders, trades, agent_names: list[str], tick_size: float) -> list[tuple]:
    """Rows ``(ts, values, tags, is_strategy, is_trade)`` of order-log rows and fills, in time order (an order
    before the trades it causes). ``values``: the Treeview's column texts."""
    n_agents = len(agent_names)
    decimals = decimals_of(tick_size)
    rows = []

    def who(owner: int) -> str:
        return agent_names[owner] if 0 <= owner < n_agents else f"bg {owner - n_agents}"

    if orders is not None:
        for r in orders:
            ts, op, side, _flags, price, size, _oid, owner, status, _qty = (int(x) for x in r[:snb.LOG_COLS])
            kind = OP_NAMES.get(op, "?") + ("" if status == OK else " (refused)")
            strat = owner < n_agents
            side_txt = "BUY" if side > 0 else "SELL" if side < 0 else ""
            px = f"{price * tick_size:.{decimals}f}" if price > 0 else ""
            tags = ("buy" if side > 0 else "sell",) + (("strategy",) if strat else ())
            rows.append((ts, 0, (format_sim_time(ts), who(owner), kind, side_txt, px, str(size) if size else ""),
                         tags, strat, False))
    if trades is not None:
        for r in trades:
            ts, price, size, _mo, _to, maker, taker, aggressor = (int(x) for x in r[:8])
            strat = maker < n_agents or taker < n_agents
            if taker >= n_agents and maker < n_agents:  # the strategy's resting order was hit: its side and name
                owner, side, kind = maker, -aggressor, "trade (passive)"
            else:  # the aggressor's view
                owner, side, kind = taker, aggressor, "trade"
            tags = ("trade",) + (("strategy",) if strat else ())
            px = f"{price * tick_size:.{decimals}f}"
            rows.append((ts, 1, (format_sim_time(ts), who(owner), kind, "BUY" if side > 0 else "SELL", px, str(size)),
                         tags, strat, True))
    rows.sort(key=lambda x: (x[0], x[1]))
    return [(ts, values, tags, strat, is_trade) for ts, _k, values, tags, strat, is_trade in rows]


class Blotter(ttk.Frame):
    """The blotter widget. :meth:`add` takes new rows (any thread's data, called from Tk's thread); :meth:`render`
    puts the pending ones on screen (the window calls it at its refresh rate); :meth:`clear` empties it."""

    def __init__(self, master, max_rows: int = 500):
        super().__init__(master)
        self.max_rows = int(max_rows)
        self.windows = {f: deque(maxlen=self.max_rows) for f in FILTERS}
        self.pending = {f: 0 for f in FILTERS}
        self.filter = tk.StringVar(value="all")
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(0, 4))
        ttk.Label(bar, text="Blotter").pack(side="left", padx=(0, 12))
        for f in FILTERS:
            ttk.Radiobutton(bar, text={"all": "All", "strategy": "Strategy only", "trades": "Trades only"}[f],
                            value=f, variable=self.filter, command=self._refill).pack(side="left", padx=4)
        self.count = ttk.Label(bar, text="")
        self.count.pack(side="right")
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True)
        self.tree = ttk.Treeview(body, columns=[c for c, _ in COLUMNS], show="headings", height=12,
                                 selectmode="browse")
        for c, w in COLUMNS:
            self.tree.heading(c, text=c.capitalize())
            self.tree.column(c, width=w, anchor="e" if c in ("price", "size") else "w", stretch=c == "kind")
        sb = ttk.Scrollbar(body, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=sb.set)
        self.tree.pack(side="left", fill="both", expand=True)
        sb.pack(side="right", fill="y")
        self.total = 0
        self.skipped = 0

    def set_palette(self, pal) -> None:
        self.tree.tag_configure("buy", foreground=pal.buy)
        self.tree.tag_configure("sell", foreground=pal.sell)
        self.tree.tag_configure("trade", foreground=pal.trade)
        self.tree.tag_configure("strategy", background=pal.strategy_bg)

    def add(self, rows: list[tuple], strategy: list[tuple] = ()) -> None:
        """Queue rows from :func:`blotter_rows` (oldest first): ``rows`` the market's recent rows (for the *all*
        and *trades* windows), ``strategy`` every row of the strategy (its own window: complete even when the
        market's rows are only a recent tail)."""
        for _ts, values, tags, _strat, is_trade in rows:
            self.windows["all"].append((values, tags))
            self.pending["all"] += 1
            if is_trade:
                self.windows["trades"].append((values, tags))
                self.pending["trades"] += 1
        for _ts, values, tags, _strat, _is_trade in strategy:
            self.windows["strategy"].append((values, tags))
            self.pending["strategy"] += 1
        self.total += len(rows)

    def add_skipped(self, n: int) -> None:
        """Market rows the worker did not send (it sends the newest of each update at full speed)."""
        self.skipped += int(n)

    def render(self) -> None:
        """Show the rows queued since the last render (newest at the top), trimming to ``max_rows``."""
        f = self.filter.get()
        n = min(self.pending[f], self.max_rows)
        self.pending = {k: 0 for k in FILTERS}
        if n:
            window = self.windows[f]
            new = list(window)[-n:]
            for values, tags in new:
                self.tree.insert("", 0, values=values, tags=tags)
            kids = self.tree.get_children()
            if len(kids) > self.max_rows:
                self.tree.delete(*kids[self.max_rows:])
        shown = len(self.tree.get_children())
        note = f"; {self.skipped:,} skipped at full speed" if self.skipped and f != "strategy" else ""
        self.count.configure(text=f"last {shown:,} rows{note}")

    def _refill(self) -> None:
        self.tree.delete(*self.tree.get_children())
        for values, tags in reversed(self.windows[self.filter.get()]):
            self.tree.insert("", "end", values=values, tags=tags)
        self.pending = {k: 0 for k in FILTERS}
        self.render()

    def rows(self) -> list[tuple]:
        """The rows on screen, top first (column texts)."""
        return [tuple(self.tree.item(i, "values")) for i in self.tree.get_children()]

    def clear(self) -> None:
        for w in self.windows.values():
            w.clear()
        self.pending = {k: 0 for k in FILTERS}
        self.total = 0
        self.skipped = 0
        self.tree.delete(*self.tree.get_children())
        self.count.configure(text="")
