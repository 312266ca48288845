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

from dataclasses import dataclass, field, fields

import numpy as np

from lobkit.engine.messages import BUY, SELL
from lobkit.errors import ConfigError
from lobkit.validate import show

__all__ = ["Agent", "Order", "MarketView", "OpenOrder", "NoParams", "BUY", "SELL"]

NS_PER_S = 1_000_000_000


@dataclass
class Order:
    """One instruction from an agent: a market order, a limit order or a cancellation.

    Build them with :meth:`market`, :meth:`limit` and :meth:`cancel`, which check their arguments at once
    (:class:`~lobkit.errors.ConfigError` naming the field): ``side`` BUY (+1) or SELL (-1), ``size`` an integer
    number of lots in ``[1, 1,000,000]``, ``price`` an integer number of ticks in ``[1, 2**60]``. After submission
    the simulator fills in ``oid`` (the order's id), ``status`` (an engine status code, 0 = OK; see
    :data:`lobkit.engine.STATUS_NAMES`) and ``filled`` (lots traded at once, or lots cancelled).
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
        o = cls("market", side=side, size=size)
        o.check()
        return o

    @classmethod
    def limit(cls, side: int, price: int, size: int, ioc: bool = False) -> Order:
        """A limit order at ``price`` ticks: trades what crosses, the rest rests (unless ``ioc``)."""
        o = cls("limit", side=side, size=size, price=price, ioc=ioc)
        o.check()
        return o

    @classmethod
    def cancel(cls, oid: int) -> Order:
        """Cancel one of the agent's resting orders (unknown or already filled ids are ignored)."""
        o = cls("cancel", oid=oid)
        o.check()
        return o

    def check(self) -> None:
        """Raise :class:`ConfigError` for an order that cannot be right (kind, side, size, price, id)."""
        from lobkit.engine.book import PRICE_LIMIT
        from lobkit.sim.config import MAX_AGENT_LOTS
        from lobkit.validate import check_value

        if self.kind == "cancel":
            check_value("order id", self.oid, "int", lo=-(2**63), hi=2**63 - 1)
            return
        if self.kind not in ("market", "limit"):
            raise ConfigError(f"order kind: expected market, limit or cancel, got {show(self.kind)}")
        if isinstance(self.side, bool) or self.side not in (BUY, SELL):
            raise ConfigError(f"order side: expected BUY (1) or SELL (-1), got {show(self.side)}")
        check_value("order size", self.size, "int", lo=1, hi=MAX_AGENT_LOTS, unit="lots")
        if self.kind == "limit":
            check_value("order price", self.price, "int", lo=1, hi=PRICE_LIMIT, unit="ticks")
            check_value("order ioc", self.ioc, "bool")

    def describe(self) -> str:
        """One line: ``limit BUY 3 @ 10012 ticks``, ``market SELL 1``, ``cancel 281474976710657``."""
        if self.kind == "cancel":
            return f"cancel {show(self.oid)}"
        side = {BUY: "BUY", SELL: "SELL"}.get(self.side, show(self.side))
        if self.kind == "limit":
            return f"limit{' IOC' if self.ioc is True else ''} {side} {show(self.size)} @ {show(self.price)} ticks"
        return f"{self.kind} {side} {show(self.size)}"


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


@dataclass(frozen=True)
class NoParams:
    """The parameters of an agent that has none of its own."""


class Agent:
    """Base class of every agent. Subclass it and override :meth:`act`; register it with
    :func:`lobkit.agents.register_agent` to run it by name (``--agent NAME``).

    Parameters every agent has (validated like :class:`~lobkit.sim.config.AgentConfig`):
        interval_ns: decision interval in simulated ns (default 1 s). The first decision is at the end of the
            warm-up.
        size: the usual order size in lots; max_position: the largest absolute position (lots) the helper
            :meth:`orders_to` will take (``None``: ``size``).
        fee_per_lot / fee_bps: fees charged on each of the agent's fills (currency per lot, basis points).

    The agent's own parameters: a frozen dataclass ``Params`` (class attribute; default :class:`NoParams`), given
    as ``params=`` or as keyword arguments (``MomentumAgent(short=3, long=20)``), kept in :attr:`params` and
    validated by the dataclass.

    Accounts, refreshed by the simulator: ``id`` (owner id in the book), ``cash`` (ticks x lots), ``inventory``
    (lots), ``fees`` and ``realised_pnl`` and ``pnl`` (mark-to-market, fees deducted) in currency,
    ``n_trades`` (fills).
    """

    name = "agent"
    Params: type = NoParams
    cli_options = True  # the CLI gives a built-in agent's parameters options of their own (--short, ...)

    def __init__(self, params=None, *, interval_ns: int = NS_PER_S, size: int = 1, max_position: int | None = None,
                 fee_per_lot: float = 0.0, fee_bps: float = 0.0, **param_values):
        from lobkit.sim.config import AgentConfig

        if params is None:
            try:
                params = self.Params(**param_values)
            except TypeError as exc:
                known = ", ".join(f.name for f in fields(self.Params)) or "none"
                raise ConfigError(f"{type(self).__name__}: {exc}; its parameters are {known}") from None
        elif param_values:
            raise ConfigError(f"{type(self).__name__}: give params= or parameter keywords, not both")
        elif not isinstance(params, self.Params):
            raise ConfigError(f"params: {type(self).__name__} takes {self.Params.__name__}, got "
                              f"{type(params).__name__}")
        # the common fields are checked exactly as a configuration checks them
        common = dict(size=size, max_position=max_position, interval_ns=interval_ns, fee_per_lot=fee_per_lot,
                      fee_bps=fee_bps)
        AgentConfig._check_common(**common)
        self.params = params
        self.interval_ns = int(interval_ns)
        self.size = int(size)
        self.max_position = int(size if max_position is None else max_position)
        self.fee_per_lot = float(fee_per_lot)
        self.fee_bps = float(fee_bps)
        self.id = -1
        self.cash = 0
        self.inventory = 0
        self.fees = 0.0
        self.realised_pnl = 0.0
        self.pnl = 0.0
        self.n_trades = 0

    @classmethod
    def from_config(cls, cfg, jit: bool = True) -> Agent:
        """The agent of an :class:`~lobkit.sim.config.AgentConfig` (``jit=False``: the Python form of an agent
        that also has a jitted one)."""
        kw = dict(size=cfg.size, max_position=cfg.max_position, interval_ns=cfg.interval_ns,
                  fee_per_lot=cfg.fee_per_lot, fee_bps=cfg.fee_bps)
        if cls.has_jitted_form:
            kw["jit"] = jit
        return cls(cfg.params, **kw)

    # -- the hook -------------------------------------------------------------------------------------------
    def act(self, view: MarketView) -> list[Order]:
        """Decide: return the orders to send now (an empty list to do nothing)."""
        return []

    def run_summary(self, row: np.ndarray) -> dict:
        """Numbers of this agent for the run's summary (e.g. the momentum agent's crossovers). ``row``: the
        agent's int64 row of the loop's agent table (columns ``AG_*`` of :mod:`lobkit.agents.nb`)."""
        return {}

    # -- the fast path --------------------------------------------------------------------------------------
    has_jitted_form = False  # the class has a jitted form (its constructor takes jit=)
    jitted = False  # True when the simulator should run the agent's jitted form instead of calling act()

    def jit_row(self) -> np.ndarray | None:
        """The agent's row of the loop's agent table when it has a jitted form (built-in agents), else None."""
        return None

    def schedule(self) -> np.ndarray | None:
        """A replay agent's orders (int64[N, SCHEDULE_COLS] rows of :mod:`lobkit.agents.nb`, by time), else None."""
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

    def describe(self) -> str:
        """``name (module.Class)`` for messages."""
        cls = type(self)
        return f"{self.name!r} ({cls.__module__}.{cls.__qualname__})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id}, inventory={self.inventory}, pnl={self.pnl:.4g})"
