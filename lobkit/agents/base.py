"""The agent interface: :class:`Agent`, the orders it returns and the :class:`MarketView` it sees.

A strategy is a subclass of :class:`Agent` with an :meth:`Agent.act` method. The simulator calls ``act`` every
``interval_ns`` of simulated time (after the warm-up) with a :class:`MarketView` (best bid and ask, sizes at the
touch, mid, the agent's own position, cash, PnL and resting orders, and the most recent trades) and submits the
orders it returns, in order, at that instant. Prices are integer ticks, sizes integer lots::

    from lobkit.agents import Agent, Order, BUY, SELL

    class Contrarian(Agent):
        \"\"\"Buy after a down-tick of the mid, sell after an up-tick, within +-5 lots.\"\"\"

        def __init__(self, **kw):
            super().__init__(**kw)
            self.last = None

        def act(self, view):
            last, self.last = self.last, view.mid2
            if last is None or view.mid2 == last:
                return []
            side = BUY if view.mid2 < last else SELL
            if abs(view.position + side) > 5:
                return []
            return [Order.market(side, 1)]

An agent like this runs on the *slow path*: the jitted loop runs up to its next decision time, returns to
Python, ``act`` runs, its orders go into the book, and the loop resumes. The built-in agents
(:class:`~lobkit.agents.MomentumAgent`, :class:`~lobkit.agents.NullAgent`) also have a jitted form that runs
inside the loop (the *fast path*); both forms give the same result to the bit.

The simulator keeps each agent's accounts (cash, inventory, fees, realised PnL, trade count); the attributes
of the agent object are refreshed before every ``act`` and at the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lobkit.engine.messages import BUY, SELL
from lobkit.errors import ConfigError

__all__ = ["Agent", "Order", "MarketView", "OpenOrder", "BUY", "SELL"]

NS_PER_S = 1_000_000_000


@dataclass
class Order:
    """One instruction from an agent: a market order, a limit order or a cancellation.

    Build them with :meth:`market`, :meth:`limit` and :meth:`cancel`. After submission the simulator fills in
    ``oid`` (the order's id), ``status`` (an engine status code, 0 = OK) and ``filled`` (lots traded at once, or
    lots cancelled).
    """

    kind: str  # "market" | "limit" | "cancel"
    side: int = 0  # BUY (+1) or SELL (-1)
    size: int = 0  # lots
    price: int = 0  # ticks (limit orders)
    ioc: bool = False  # limit orders: immediate-or-cancel (never rest)
    oid: int = -1
    status: int = -1
    filled: int = 0

    @classmethod
    def market(cls, side: int, size: int) -> Order:
        """Buy (``side=BUY``) or sell ``size`` lots at the best prices available now."""
        return cls("market", side=side, size=size)

    @classmethod
    def limit(cls, side: int, price: int, size: int, ioc: bool = False) -> Order:
        """A limit order at ``price`` ticks: trades what crosses, the rest rests (unless ``ioc``)."""
        return cls("limit", side=side, size=size, price=price, ioc=ioc)

    @classmethod
    def cancel(cls, oid: int) -> Order:
        """Cancel one of the agent's resting orders (unknown or already filled ids are ignored)."""
        return cls("cancel", oid=oid)

    def check(self) -> None:
        """Raise :class:`ConfigError` for an order that cannot be right (bad side, size, kind)."""
        if self.kind == "cancel":
            return
        if self.kind not in ("market", "limit"):
            raise ConfigError(f"order kind: expected market, limit or cancel, got {self.kind!r}")
        if self.side not in (BUY, SELL):
            raise ConfigError(f"order side: expected BUY (1) or SELL (-1), got {self.side!r}")
        if not isinstance(self.size, int | np.integer) or self.size < 1:
            raise ConfigError(f"order size: expected an integer >= 1 lot, got {self.size!r}")


@dataclass(frozen=True)
class OpenOrder:
    """One of the agent's resting limit orders."""

    oid: int
    side: int
    price: int
    size: int


@dataclass(frozen=True)
class MarketView:
    """What an agent sees when it acts. Prices in ticks, sizes in lots, time in ns.

    ``best_bid``/``best_ask`` are ``None`` when that side is empty; ``mid2`` is bid + ask in half-ticks (the last
    two-sided value when a side is empty) and ``mid`` the same in ticks as a float. ``recent_trades`` is a
    structured array (``ts``, ``price``, ``size``, ``aggressor``) of the latest trades of everyone, oldest first.
    ``cash`` is in ticks x lots, ``pnl`` (mark-to-market at the mid, fees deducted) and ``fees`` in currency.
    """

    t_ns: int
    best_bid: int | None
    best_ask: int | None
    bid_size: int
    ask_size: int
    mid2: int
    tick_size: float
    position: int
    cash: int
    fees: float
    pnl: float
    open_orders: tuple[OpenOrder, ...] = ()
    recent_trades: np.ndarray = field(default_factory=lambda: np.zeros(0, RECENT_DTYPE))

    @property
    def mid(self) -> float:
        return self.mid2 / 2.0

    @property
    def spread(self) -> int | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid


RECENT_DTYPE = np.dtype([("ts", np.int64), ("price", np.int64), ("size", np.int64), ("aggressor", np.int64)])


class Agent:
    """Base class of every agent. Subclass it and override :meth:`act`.

    Parameters:
        interval_ns: decision interval in simulated ns (default 1 s). The first decision is at the end of the
            warm-up.
        size: the usual order size in lots; max_position: the largest absolute position (lots) the helpers
            :meth:`orders_to` will take (``None``: ``size``).
        fee_per_lot / fee_bps: fees charged on each of the agent's fills (currency per lot, basis points).

    Accounts, refreshed by the simulator: ``id`` (owner id in the book), ``cash`` (ticks x lots), ``inventory``
    (lots), ``fees`` and ``realised_pnl`` and ``pnl`` (mark-to-market, fees deducted) in currency,
    ``n_trades`` (fills).
    """

    name = "agent"

    def __init__(self, interval_ns: int = NS_PER_S, size: int = 1, max_position: int | None = None,
                 fee_per_lot: float = 0.0, fee_bps: float = 0.0):
        if not isinstance(interval_ns, int) or interval_ns < 1_000_000:
            raise ConfigError(f"interval_ns: must be an integer >= 1 ms, got {interval_ns!r}")
        if not isinstance(size, int) or size < 1:
            raise ConfigError(f"size: must be an integer >= 1 (lots), got {size!r}")
        max_position = size if max_position is None else max_position
        if not isinstance(max_position, int) or max_position < size:
            raise ConfigError(f"max_position: must be an integer >= size ({size}), got {max_position!r}")
        if fee_per_lot < 0 or fee_bps < 0:
            raise ConfigError(f"fee_per_lot / fee_bps: must be >= 0, got {fee_per_lot!r} / {fee_bps!r}")
        self.interval_ns = interval_ns
        self.size = size
        self.max_position = max_position
        self.fee_per_lot = float(fee_per_lot)
        self.fee_bps = float(fee_bps)
        self.id = -1
        self.cash = 0
        self.inventory = 0
        self.fees = 0.0
        self.realised_pnl = 0.0
        self.pnl = 0.0
        self.n_trades = 0

    # -- the hook -------------------------------------------------------------------------------------------
    def act(self, view: MarketView) -> list[Order]:
        """Decide: return the orders to send now (an empty list to do nothing)."""
        return []

    # -- the fast path --------------------------------------------------------------------------------------
    jitted = False  # True when the simulator should run the agent's jitted form instead of calling act()

    def jit_row(self) -> np.ndarray | None:
        """The agent's row of the loop's ``ag`` array when it has a jitted form (built-in agents), else None."""
        return None

    # -- helpers for subclasses -----------------------------------------------------------------------------
    def orders_to(self, view: MarketView, target: int) -> list[Order]:
        """Orders that move the position to ``target`` (clipped to +-max_position): cancel the agent's resting
        orders, then one market order for the difference."""
        target = max(-self.max_position, min(self.max_position, int(target)))
        out = [Order.cancel(o.oid) for o in view.open_orders]
        q = target - view.position
        if q:
            out.append(Order.market(BUY if q > 0 else SELL, abs(q)))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id}, inventory={self.inventory}, pnl={self.pnl:.4g})"
