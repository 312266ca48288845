"""Configuration of a simulation: frozen dataclasses, validated on construction.

Three pieces, each immutable and hashable (a sweep can use them as dictionary keys):

* :class:`MarketConfig`: the simulated market (duration, warm-up, tick, initial book, background order flow);
* :class:`AgentConfig`: the strategic agent (which one, order size, position limit, decision interval,
  moving-average windows, order type, fees);
* :class:`RunConfig`: a market, an agent and whether to record the per-order logs.

Units: durations are integer nanoseconds inside (use :func:`parse_duration` for ``"90s"``, ``"30min"``,
``"1h"``, ``"250ms"``); prices are given in currency at the edge (``tick_size``, ``initial_mid``) and turned into
integer ticks by the simulator; sizes are integer lots; rates are events per second.

Every invalid value raises :class:`lobkit.errors.ConfigError` whose message names the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace

from lobkit.errors import ConfigError

NS_PER_S = 1_000_000_000

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "sec": NS_PER_S,
    "m": 60 * NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "hr": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]+)\s*$", re.IGNORECASE)


def parse_duration(text: str | int, field_name: str = "duration") -> int:
    """A duration as integer nanoseconds: ``"90s"``, ``"30min"``, ``"1h"``, ``"250ms"``, ``"1.5h"``, ``"2d"``.

    An ``int`` is taken as nanoseconds already. Units: ns, us, ms, s, m/min, h, d. Raises :class:`ConfigError`
    naming ``field_name`` for anything else (no unit, unknown unit, negative, not a number).
    """
    if isinstance(text, bool):
        raise ConfigError(f"{field_name}: expected a duration like '90s', '30min', '1h', got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ConfigError(f"{field_name}: must be >= 0 ns, got {text}")
        return text
    if not isinstance(text, str):
        raise ConfigError(f"{field_name}: expected a duration like '90s', '30min', '1h', got {text!r}")
    m = _DURATION_RE.match(text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ConfigError(
            f"{field_name}: cannot parse {text!r} as a duration; use a number and a unit (ns, us, ms, s, min, h, d),"
            " e.g. '90s', '30min', '1h', '250ms'"
        )
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    ns = int(round(value))
    if ns < 0:
        raise ConfigError(f"{field_name}: must be >= 0, got {text!r}")
    return ns


def format_duration(ns: int) -> str:
    """Short human form of a duration in ns (``3600000000000`` -> ``"1h"``)."""
    for unit, k in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if ns % (k * NS_PER_S) == 0 and ns >= k * NS_PER_S:
            return f"{ns // (k * NS_PER_S)}{unit}"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns}ns"


def _check(cond: bool, name: str, msg: str, value) -> None:
    if not cond:
        raise ConfigError(f"{name}: {msg}, got {value!r}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class MarketConfig:
    """The simulated market.

    Time and book:
        duration_ns: simulated time of a run, warm-up included (default 1 h).
        warmup_ns: time the market runs before the strategic agent starts; not counted in its results nor in
            the market statistics (default 5 min).
        sample_ns: the sampling grid of the mid-price path and of the agent's PnL, inventory and cash (1 s).
        tick_size: currency per tick (0.01). initial_mid: starting mid price in currency (100.0).
        lot_size: units per lot (1.0), used only to convert a real snapshot's quantities to lots.
        snapshot: path of a ``lob-btc.db``-style SQLite file whose first valid snapshot is the initial book
            (needs :mod:`lobkit.data`); ``None`` (default) generates a book from the flow's own parameters.
        init_levels / init_orders_per_level: shape of the generated initial book.
        capacity: order pool of the engine (resting orders); window: price window in ticks.

    Background order flow (a 6-dimensional Hawkes process, see :mod:`lobkit.agents.background`):
        limit_rate: base rate of limit orders per side (per second).
        market_rate: base rate of market orders per side (per second).
        cancel_rate: cancellation rate per resting background order (per second): Santa Fe style, so depth
            mean-reverts to about ``limit_rate / cancel_rate`` orders a side.
        hawkes_beta: decay rate of the exponential kernels (per second).
        excite_market_same / excite_market_cross: branching ratio of a market order onto later market orders of
            the same / the other side (herding, volatility clustering).
        excite_limit_refill: branching ratio of a market order onto limit orders of the side it consumed
            (resilience). excite_limit_limit: limit orders exciting limit orders of the same side.
        activity_coupling: kappa in [0, 1]: the limit and cancellation base rates are multiplied by
            ``1 - kappa + kappa x (market-order excitation) / (its stationary mean)``: when market orders
            cluster, the whole book gets busier (activity bursts, volatility clustering); mean rates unchanged.
        limit_depth_mean: mean distance (ticks) of a new limit order from the opposite best price (geometric,
            at least one tick, so limit orders never cross); max_depth: largest distance.
        limit_size_mean / market_size_mean: mean sizes in lots (geometric, at least 1 lot); max_market_size.
        target_orders: when a side holds fewer resting orders than this, its limit rate is boosted
            (``refill_boost`` x at an empty side, linearly less up to ``target_orders``): books replenish when
            thin. min_orders: cancellations never take a side below this many orders.
        n_background: number of background accounts (owner ids) that share the flow.
    """

    duration_ns: int = 3600 * NS_PER_S
    warmup_ns: int = 300 * NS_PER_S
    sample_ns: int = NS_PER_S
    tick_size: float = 0.01
    initial_mid: float = 100.0
    lot_size: float = 1.0
    snapshot: str | None = None
    init_levels: int = 30
    init_orders_per_level: int = 6
    capacity: int = 1 << 15
    window: int = 1 << 13
    limit_rate: float = 20.0
    market_rate: float = 0.3
    cancel_rate: float = 0.15
    hawkes_beta: float = 0.2
    excite_market_same: float = 0.75
    excite_market_cross: float = 0.2
    excite_limit_refill: float = 2.0
    excite_limit_limit: float = 0.2
    activity_coupling: float = 0.9
    limit_depth_mean: float = 14.0
    max_depth: int = 100
    limit_size_mean: float = 3.0
    market_size_mean: float = 5.0
    max_market_size: int = 100
    target_orders: int = 150
    refill_boost: float = 4.0
    min_orders: int = 10
    n_background: int = 4

    def __post_init__(self):
        for name in ("duration_ns", "warmup_ns", "sample_ns"):
            v = getattr(self, name)
            _check(_is_int(v), name, "must be an integer number of nanoseconds (see parse_duration)", v)
        _check(self.duration_ns > 0, "duration_ns", "must be > 0", self.duration_ns)
        _check(self.warmup_ns >= 0, "warmup_ns", "must be >= 0", self.warmup_ns)
        _check(self.warmup_ns < self.duration_ns, "warmup_ns", "must be shorter than duration_ns", self.warmup_ns)
        _check(self.sample_ns >= 1_000_000, "sample_ns", "must be >= 1 ms", self.sample_ns)
        _check(self.duration_ns // self.sample_ns <= 20_000_000, "sample_ns",
               "gives more than 20 million samples; use a coarser grid", self.sample_ns)
        for name in ("tick_size", "initial_mid", "lot_size"):
            v = getattr(self, name)
            _check(_is_num(v) and v > 0, name, "must be a positive number", v)
        _check(self.initial_mid / self.tick_size >= 4 * self.max_depth, "initial_mid",
               "must be at least 4 x max_depth ticks above zero", self.initial_mid)
        _check(self.initial_mid / self.tick_size < 2**40, "initial_mid", "is too many ticks", self.initial_mid)
        _check(self.snapshot is None or isinstance(self.snapshot, str), "snapshot", "must be a path or None",
               self.snapshot)
        for name in ("init_levels", "init_orders_per_level", "max_depth", "max_market_size", "n_background"):
            v = getattr(self, name)
            _check(_is_int(v) and v >= 1, name, "must be an integer >= 1", v)
        for name in ("target_orders", "min_orders"):
            v = getattr(self, name)
            _check(_is_int(v) and v >= 0, name, "must be an integer >= 0", v)
        _check(_is_int(self.capacity) and 1024 <= self.capacity <= 1 << 24, "capacity",
               "must be an integer in [1024, 16777216]", self.capacity)
        _check(_is_int(self.window) and 4 * self.max_depth <= self.window <= 1 << 20, "window",
               "must be an integer in [4 x max_depth, 1048576] ticks", self.window)
        _check(self.init_levels <= self.max_depth, "init_levels", "must be <= max_depth", self.init_levels)
        for name in ("limit_rate", "market_rate", "cancel_rate", "hawkes_beta"):
            v = getattr(self, name)
            _check(_is_num(v) and v > 0, name, "must be a positive number (per second)", v)
        for name in ("excite_market_same", "excite_market_cross", "excite_limit_refill", "excite_limit_limit",
                     "refill_boost", "activity_coupling"):
            v = getattr(self, name)
            _check(_is_num(v) and v >= 0, name, "must be a number >= 0", v)
        for name in ("limit_depth_mean", "limit_size_mean", "market_size_mean"):
            v = getattr(self, name)
            _check(_is_num(v) and v >= 1, name, "must be a number >= 1", v)
        _check(self.limit_depth_mean <= self.max_depth, "limit_depth_mean", "must be <= max_depth",
               self.limit_depth_mean)
        # stability of the Hawkes process: the market-order block of the branching matrix must be subcritical
        rho = self.excite_market_same + self.excite_market_cross
        _check(rho < 1.0, "excite_market_same",
               f"+ excite_market_cross = {rho:.3g} makes the Hawkes process explosive (must be < 1)",
               self.excite_market_same)
        _check(self.activity_coupling <= 1.0, "activity_coupling", "must be in [0, 1]", self.activity_coupling)
        _check(self.excite_limit_limit < 1.0, "excite_limit_limit",
               "makes the Hawkes process explosive (must be < 1)", self.excite_limit_limit)

    @property
    def n_samples(self) -> int:
        """Rows of the sampling grid (``t = 0, sample_ns, ...`` up to ``duration_ns`` inclusive)."""
        return self.duration_ns // self.sample_ns + 1


AGENT_NAMES = ("momentum", "null", "strategic")
ORDER_TYPES = ("market", "limit")


@dataclass(frozen=True)
class AgentConfig:
    """The strategic agent of a run.

    name: ``"momentum"`` (:class:`lobkit.agents.MomentumAgent`), ``"null"`` (does nothing: the baseline) or
        ``"strategic"`` (:class:`lobkit.agents.StrategicAgent`, the placeholder to edit, run in Python).
    size: order size / target position in lots (>= 1).
    max_position: the largest absolute inventory the agent may hold (lots, >= size); ``None`` (default) means
        ``size`` (see :attr:`position_limit`), also after ``replace(cfg, size=...)``.
    interval_ns: decision interval (the momentum agent samples the mid every interval), default 1 s.
    short / long: moving-average windows in samples (5 and 20); short < long.
    order_type: ``"market"`` (default) or ``"limit"``: a marketable limit order priced ``limit_offset`` ticks
        through the touch (buy at best ask + offset); the unfilled remainder rests until the next crossover.
    fee_per_lot: currency per lot traded; fee_bps: basis points of the traded notional. Both charged to the
        strategic agent on every fill (maker or taker); the background pays none.
    imbalance: threshold of the strategic placeholder (buy when the bid side's touch volume is this share of
        the touch volume or more, sell when it is ``1 - imbalance`` or less).
    """

    name: str = "momentum"
    size: int = 1
    max_position: int | None = None
    interval_ns: int = NS_PER_S
    short: int = 5
    long: int = 20
    order_type: str = "market"
    limit_offset: int = 0
    fee_per_lot: float = 0.0
    fee_bps: float = 0.0
    imbalance: float = 0.7

    def __post_init__(self):
        _check(isinstance(self.name, str) and self.name in AGENT_NAMES, "name",
               f"unknown agent; choose one of {', '.join(AGENT_NAMES)}", self.name)
        _check(_is_int(self.size) and self.size >= 1, "size", "must be an integer >= 1 (lots)", self.size)
        _check(self.max_position is None or (_is_int(self.max_position) and self.max_position >= self.size),
               "max_position", f"must be None or an integer >= size ({self.size})", self.max_position)
        _check(_is_int(self.interval_ns) and self.interval_ns >= 1_000_000, "interval_ns", "must be >= 1 ms",
               self.interval_ns)
        _check(_is_int(self.short) and self.short >= 1, "short", "must be an integer >= 1", self.short)
        _check(_is_int(self.long) and self.long >= 2, "long", "must be an integer >= 2", self.long)
        if self.short >= self.long:
            raise ConfigError(f"short: must be smaller than long, got short={self.short} >= long={self.long}")
        _check(self.long <= 100_000, "long", "must be <= 100000 samples", self.long)
        _check(self.order_type in ORDER_TYPES, "order_type", f"choose one of {', '.join(ORDER_TYPES)}",
               self.order_type)
        _check(_is_int(self.limit_offset) and self.limit_offset >= 0, "limit_offset", "must be an integer >= 0",
               self.limit_offset)
        _check(_is_num(self.fee_per_lot) and self.fee_per_lot >= 0, "fee_per_lot", "must be a number >= 0",
               self.fee_per_lot)
        _check(_is_num(self.fee_bps) and self.fee_bps >= 0, "fee_bps", "must be a number >= 0", self.fee_bps)
        _check(_is_num(self.imbalance) and 0.5 < self.imbalance < 1, "imbalance", "must be in (0.5, 1)",
               self.imbalance)

    @property
    def position_limit(self) -> int:
        """``max_position``, or ``size`` when it is None."""
        return self.size if self.max_position is None else self.max_position


@dataclass(frozen=True)
class RunConfig:
    """One run: the market, the strategic agent, and ``record`` (keep the per-order and per-trade logs).

    Without ``record`` a run keeps only the sampling grid (mid path, agent PnL): memory stays small however
    long the run, which is what sweeps want.
    """

    market: MarketConfig = field(default_factory=MarketConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    record: bool = False

    def __post_init__(self):
        _check(isinstance(self.market, MarketConfig), "market", "must be a MarketConfig", type(self.market))
        _check(isinstance(self.agent, AgentConfig), "agent", "must be an AgentConfig", type(self.agent))
        _check(isinstance(self.record, bool), "record", "must be True or False", self.record)
        _check(self.agent.interval_ns < self.market.duration_ns - self.market.warmup_ns, "agent.interval_ns",
               "must be shorter than the run after warm-up", self.agent.interval_ns)

    def with_agent(self, **changes) -> RunConfig:
        """A copy with some agent fields changed (``cfg.with_agent(name="null")``)."""
        return replace(self, agent=replace(self.agent, **changes))

    def with_market(self, **changes) -> RunConfig:
        """A copy with some market fields changed."""
        return replace(self, market=replace(self.market, **changes))

    def as_dict(self) -> dict:
        """Flat, JSON-friendly view (``market.x``, ``agent.y``, ``record``)."""
        out = {f"market.{f.name}": getattr(self.market, f.name) for f in fields(self.market)}
        out.update({f"agent.{f.name}": getattr(self.agent, f.name) for f in fields(self.agent)})
        out["record"] = self.record
        return out
