"""Configuration of a simulation: frozen dataclasses, validated on construction.

* :class:`MarketConfig`: the simulated market (duration, warm-up, sampling grid, tick and lot, the initial book,
  the engine's capacity and price window, the background accounts);
* :class:`FlowConfig`: the background order-flow model (``name``, e.g. ``"hawkes"``) and its parameters (the
  model's own frozen dataclass, e.g. :class:`lobkit.flows.hawkes.HawkesParams`);
* :class:`AgentConfig`: the strategic agent (``name``, e.g. ``"momentum"``), what every agent has (order size,
  position limit, decision interval, fees) and its own parameters (the agent's ``Params`` dataclass);
* :class:`RunConfig`: a market, a flow, an agent and whether to record the per-order logs.

Units: durations are integer nanoseconds inside (:func:`parse_duration` reads ``"90s"``, ``"30min"``, ``"1h"``,
``"250ms"``, and a bare number as seconds); prices are given in currency at the edge (``tick_size``,
``initial_mid``) and turned into integer ticks by the simulator; sizes are integer lots; rates are per second.

Bounds (documented limits that keep the int64 accounting exact): a run lasts at most :data:`MAX_DURATION_NS`
(366 days); an agent's order size and position at most :data:`MAX_AGENT_LOTS` lots; the initial mid at most
2**40 ticks. Every invalid value raises :class:`lobkit.errors.ConfigError` whose message names the field.

How a flat option (``short=5``, ``duration="1h"``, ``limit_rate=25``) reaches these dataclasses is
:mod:`lobkit.sim.options`: the one route used by the CLI, the Python API and sweep grids.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from lobkit.errors import ConfigError
from lobkit.validate import check_field, check_value, is_int, is_number, show

NS_PER_S = 1_000_000_000
MAX_DURATION_NS = 366 * 86400 * NS_PER_S
#: Largest order size and position of a strategic agent (lots).
MAX_AGENT_LOTS = 1_000_000
#: Largest initial mid in ticks.
MAX_MID_TICKS = 1 << 40

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
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]*)\s*$", re.IGNORECASE)


def parse_duration(value: str | int | float, field_name: str = "duration") -> int:
    """A duration as integer nanoseconds.

    Strings: a number and a unit (``"90s"``, ``"30min"``, ``"1h"``, ``"250ms"``, ``"1.5h"``, ``"2d"``; units ns,
    us, ms, s, m/min, h, d), or a bare number (``"3600"``) meaning seconds. Numbers (int or float) are
    seconds: ``parse_duration(3600) == parse_duration("1h")``. At most 366 days. Raises :class:`ConfigError`
    naming ``field_name`` for anything else (unknown unit, negative, not a number, too long).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float) and not is_number(value):
        raise ConfigError(f"{field_name}: expected a duration like '90s', '30min', '1h' (a bare number is "
                          f"seconds), got {show(value)}")
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        unit = m.group(2).lower() if m else None
        if not m or (unit and unit not in _UNITS):
            raise ConfigError(f"{field_name}: cannot read {value!r} as a duration; use a number and a unit (ns, us, "
                              f"ms, s, min, h, d), e.g. '90s', '30min', '1h' (a bare number is seconds)")
        ns = float(m.group(1)) * _UNITS[unit or "s"]
    else:
        if not math.isfinite(float(value)):
            raise ConfigError(f"{field_name}: must be a finite duration, got {show(value)}")
        ns = float(value) * NS_PER_S
    if ns < 0:
        raise ConfigError(f"{field_name}: must be >= 0, got {show(value)}")
    if ns > MAX_DURATION_NS:
        raise ConfigError(f"{field_name}: at most 366 days, got {show(value)}")
    return int(round(ns))


def format_duration(ns: int) -> str:
    """Short human form of a duration in ns (``3600000000000`` -> ``"1h"``)."""
    for unit, k in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if ns % (k * NS_PER_S) == 0 and ns >= k * NS_PER_S:
            return f"{ns // (k * NS_PER_S)}{unit}"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns}ns"


def _check_ns(obj: Any, name: str, lo: int, what: str) -> None:
    v = getattr(obj, name)
    if not is_int(v):
        raise ConfigError(f"{name}: must be an integer number of nanoseconds (give durations as '90s', '1h' to "
                          f"the options without _ns), got {show(v)}")
    if v < lo or v > MAX_DURATION_NS:
        raise ConfigError(f"{name}: must be {what} and at most 366 days, got {format_duration(int(v))}")


@dataclass(frozen=True)
class MarketConfig:
    """The simulated market.

    duration_ns: simulated time of a run, warm-up included (default 1 h). warmup_ns: time the market runs before
        the strategic agent starts; not counted in its results nor in the market statistics (5 min).
    sample_ns: the sampling grid of the mid-price path and of the agent's PnL, inventory and cash (1 s).
    tick_size: currency per tick (0.01). initial_mid: starting mid price in currency (100.0).
    lot_size: currency units per lot (1.0), used to convert a real snapshot's quantities to lots.
    initial_book: where the initial book comes from: ``"generated"`` (default: ``init_levels`` levels a side,
        ``init_orders_per_level`` orders each, sizes from the flow model), ``"snapshot:FILE"`` (the first valid
        snapshot of a snapshot source: a ``lob-btc.db``-style SQLite file, a LOBSTER zip, a ``postgresql://`` URL)
        or ``"wgan:generator.pth"`` (a book drawn from a trained WGAN generator, anchored at ``initial_mid``).
    snapshot: the same as ``initial_book="snapshot:FILE"`` (kept for ``--snapshot FILE``); ``None`` by default.
    capacity: order pool of the engine (resting orders). window: the engine's price window in ticks.
    n_background: number of background accounts (owner ids after the agents') that share the flow.
    """

    duration_ns: int = 3600 * NS_PER_S
    warmup_ns: int = 300 * NS_PER_S
    sample_ns: int = NS_PER_S
    tick_size: float = 0.01
    initial_mid: float = 100.0
    lot_size: float = 1.0
    initial_book: str = "generated"
    snapshot: str | None = None
    init_levels: int = 30
    init_orders_per_level: int = 6
    capacity: int = 1 << 15
    window: int = 1 << 13
    n_background: int = 4

    def __post_init__(self):
        _check_ns(self, "duration_ns", 1, "> 0")
        _check_ns(self, "warmup_ns", 0, ">= 0")
        _check_ns(self, "sample_ns", 1_000_000, ">= 1 ms")
        if self.warmup_ns >= self.duration_ns:
            raise ConfigError(f"warmup_ns: must be shorter than the duration ({format_duration(self.duration_ns)}), "
                              f"got {format_duration(self.warmup_ns)}")
        if self.duration_ns // self.sample_ns > 20_000_000:
            raise ConfigError(f"sample_ns: {format_duration(self.sample_ns)} gives more than 20 million samples; "
                              "use a coarser grid")
        for name in ("tick_size", "initial_mid", "lot_size"):
            check_field(self, name, "number", lo=0.0, lo_open=True)
        mid_ticks = self.initial_mid / self.tick_size
        if not 1 <= mid_ticks <= MAX_MID_TICKS:
            raise ConfigError(f"initial_mid: must be between 1 tick and 2**40 ticks of {show(self.tick_size)}, got "
                              f"{show(self.initial_mid)}")
        if self.snapshot is not None and (not isinstance(self.snapshot, str) or not self.snapshot.strip()):
            raise ConfigError(f"snapshot: must be a path or None, got {show(self.snapshot)}")
        kind, path = parse_initial_book(self.initial_book)
        if self.snapshot is not None and kind != "generated" and (kind, path) != ("snapshot", self.snapshot):
            raise ConfigError(f"snapshot: {show(self.snapshot)} and initial_book {show(self.initial_book)} name two "
                              "initial books; give one")
        check_field(self, "init_levels", "int", lo=1, hi=10_000)
        check_field(self, "init_orders_per_level", "int", lo=1, hi=10_000)
        from lobkit.engine.messages import MAX_CAPACITY

        check_field(self, "capacity", "int", lo=1024, hi=MAX_CAPACITY, unit="orders")
        check_field(self, "window", "int", lo=256, hi=1 << 20, unit="ticks")
        check_field(self, "n_background", "int", lo=1, hi=1 << 16)
        if 2 * self.init_levels * self.init_orders_per_level > self.capacity:
            raise ConfigError(f"init_levels: the generated book ({2 * self.init_levels * self.init_orders_per_level}"
                              f" orders) does not fit the capacity ({self.capacity})")
        if 4 * self.init_levels > self.window:
            raise ConfigError(f"init_levels: must be at most a quarter of the window ({self.window} ticks), got "
                              f"{self.init_levels}")

    @property
    def book_source(self) -> tuple[str, str | None]:
        """``("generated", None)``, ``("snapshot", FILE)`` or ``("wgan", PATH)``: the initial book's source."""
        if self.snapshot is not None:
            return "snapshot", self.snapshot
        return parse_initial_book(self.initial_book)

    @property
    def n_samples(self) -> int:
        """Rows of the sampling grid (``t = 0, sample_ns, ...`` up to ``duration_ns`` inclusive)."""
        return self.duration_ns // self.sample_ns + 1


#: The initial books' kinds: the first takes no path, the others a file (``KIND:PATH``).
INITIAL_BOOKS = ("generated", "snapshot", "wgan")


def parse_initial_book(spec: str) -> tuple[str, str | None]:
    """``"generated"`` -> ``("generated", None)``; ``"snapshot:FILE"`` / ``"wgan:PATH"`` -> ``(kind, path)``.
    Raises :class:`ConfigError` for anything else."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"initial_book: expected generated, snapshot:FILE or wgan:PATH, got {show(spec)}")
    kind, sep, path = spec.strip().partition(":")
    if kind == INITIAL_BOOKS[0] and not sep:
        return kind, None
    if kind in INITIAL_BOOKS[1:] and path.strip():
        return kind, path.strip()
    raise ConfigError(f"initial_book: expected generated, snapshot:FILE or wgan:PATH, got {show(spec)}")


def _params_of(registry_get, name: str, params: Any, what: str) -> Any:
    """The model's/agent's ``Params`` instance: ``None`` -> defaults, a mapping -> built from it."""
    cls = registry_get(name)
    p_cls = cls.Params
    try:
        if params is None:
            return p_cls()
        if isinstance(params, dict):
            return p_cls(**params)
    except ConfigError:
        raise
    except TypeError as exc:
        known = ", ".join(f.name for f in fields(p_cls)) or "none"
        raise ConfigError(f"{what} {name}: {exc}; its parameters are {known}") from None
    except ValueError as exc:  # a user's Params may check with ValueError
        raise ConfigError(f"{what} {name}: {exc}") from None
    if type(params) is not p_cls:
        raise ConfigError(f"params: {what} {name} takes {p_cls.__name__}, got {type(params).__name__}")
    return params


@dataclass(frozen=True)
class FlowConfig:
    """The background order-flow model: its registered ``name`` (``"hawkes"``, see :mod:`lobkit.flows`), the
    ``path`` of its file for models that read one (``nhp:model.pth``), and ``params``, an instance of the
    model's ``Params`` dataclass (``None``: its defaults)."""

    name: str = "hawkes"
    params: Any = None
    path: str | None = None

    def __post_init__(self):
        from lobkit.flows import flow_class

        check_field(self, "name", "str")
        cls = flow_class(self.name)
        if cls.needs_path and not self.path:
            raise ConfigError(f"flow: the {self.name} model needs a file: --flow {self.name}:PATH")
        if self.path is not None and not isinstance(self.path, str):
            raise ConfigError(f"flow path: must be a string, got {show(self.path)}")
        if self.params is None and self.path is not None:
            object.__setattr__(self, "params", cls.default_params(self.path))
        object.__setattr__(self, "params", _params_of(lambda n: cls, self.name, self.params, "flow model"))

    @property
    def model_class(self) -> type:
        from lobkit.flows import flow_class

        return flow_class(self.name)

    @property
    def spec(self) -> str:
        """``name`` or ``name:path``, as ``--flow`` takes it."""
        return self.name if self.path is None else f"{self.name}:{self.path}"


@dataclass(frozen=True)
class AgentConfig:
    """The strategic agent of a run.

    name: a registered agent (``"momentum"``, ``"null"``, ``"strategic"``, see :func:`lobkit.agents.agent_names`)
        or a class path ``"package.module:Class"``.
    size: order size / target position in lots (1 to 1,000,000). max_position: the largest absolute inventory
        (lots, >= size); ``None`` (default) means ``size`` (see :attr:`position_limit`).
    interval_ns: decision interval (default 1 s, at least 1 ms).
    fee_per_lot: currency per lot traded; fee_bps: basis points of the traded notional (0 to 10,000). Both
        charged to the strategic agent on every fill (maker or taker); the background pays none.
    params: the agent's own parameters, an instance of its ``Params`` dataclass (``None``: its defaults), e.g.
        :class:`lobkit.agents.momentum.MomentumParams` (``short``, ``long``, ``order_type``, ``limit_offset``).
    """

    name: str = "momentum"
    size: int = 1
    max_position: int | None = None
    interval_ns: int = NS_PER_S
    fee_per_lot: float = 0.0
    fee_bps: float = 0.0
    params: Any = None

    def __post_init__(self):
        from lobkit.agents.registry import agent_class

        check_field(self, "name", "str")
        self._check_common(self.size, self.max_position, self.interval_ns, self.fee_per_lot, self.fee_bps)
        object.__setattr__(self, "params", _params_of(agent_class, self.name, self.params, "agent"))

    @staticmethod
    def _check_common(size, max_position, interval_ns, fee_per_lot, fee_bps) -> None:
        """The checks of the fields every agent has (also used by :class:`lobkit.agents.Agent` itself)."""
        check_value("size", size, "int", lo=1, hi=MAX_AGENT_LOTS, unit="lots")
        if max_position is not None:
            check_value("max_position", max_position, "int", lo=size, hi=MAX_AGENT_LOTS, unit="lots")
        if not is_int(interval_ns) or not 1_000_000 <= interval_ns <= MAX_DURATION_NS:
            raise ConfigError(f"interval_ns: must be an integer number of nanoseconds, at least 1 ms (give "
                              f"'interval' as a duration like '1s'), got {show(interval_ns)}")
        check_value("fee_per_lot", fee_per_lot, "number", lo=0.0, hi=1e12)
        check_value("fee_bps", fee_bps, "number", lo=0.0, hi=10_000.0)

    @property
    def position_limit(self) -> int:
        """``max_position``, or ``size`` when it is None."""
        return self.size if self.max_position is None else self.max_position

    @property
    def agent_class(self) -> type:
        from lobkit.agents.registry import agent_class

        return agent_class(self.name)


@dataclass(frozen=True)
class RunConfig:
    """One run: the market, the background flow, the strategic agent, and ``record`` (keep the per-order and
    per-trade logs). Without ``record`` a run keeps only the sampling grid (mid path, agent PnL): memory stays
    small however long the run, which is what sweeps want."""

    market: MarketConfig = field(default_factory=MarketConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    record: bool = False

    def __post_init__(self):
        for name, cls in (("market", MarketConfig), ("flow", FlowConfig), ("agent", AgentConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name}: must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        check_value("record", self.record, "bool")
        m = self.market
        if self.agent.interval_ns >= m.duration_ns - m.warmup_ns:
            raise ConfigError(f"interval_ns: the decision interval ({format_duration(self.agent.interval_ns)}) must "
                              f"be shorter than the run after warm-up ({format_duration(m.duration_ns - m.warmup_ns)})")
        self.flow.model_class.check_market(self.flow.params, m)

    def with_agent(self, **changes) -> RunConfig:
        """A copy with agent fields or parameters changed (``cfg.with_agent(name="null")``,
        ``cfg.with_agent(short=3, size=2)``): a new name takes that agent's default parameters."""
        from lobkit.sim.options import apply_options

        if "params" in changes:
            params = changes.pop("params")
            base = replace(self, agent=replace(self.agent, name=changes.pop("name", self.agent.name), params=params))
            return apply_options(base, {f"agent.{k}": v for k, v in changes.items()})
        name = changes.pop("name", None)
        return apply_options(self, {"agent": name, **{f"agent.{k}": v for k, v in changes.items()}})

    def with_market(self, **changes) -> RunConfig:
        """A copy with some market fields changed (validated with the flow model)."""
        return replace(self, market=replace(self.market, **changes))

    def with_flow(self, **changes) -> RunConfig:
        """A copy with some flow-model parameters changed (``cfg.with_flow(limit_rate=25)``)."""
        return replace(self, flow=replace(self.flow, params=replace(self.flow.params, **changes)))

    def as_dict(self) -> dict:
        """Flat, JSON-friendly view: ``market.x``, ``flow.name``, ``flow.x`` (parameters), ``agent.x``,
        ``agent.name``, ``record``."""
        out = {f"market.{f.name}": getattr(self.market, f.name) for f in fields(self.market)}
        out["flow.name"] = self.flow.name
        out["flow.path"] = self.flow.path
        out.update({f"flow.{f.name}": getattr(self.flow.params, f.name) for f in fields(self.flow.params)})
        out.update({f"agent.{f.name}": getattr(self.agent, f.name) for f in fields(self.agent) if f.name != "params"})
        out.update({f"agent.{f.name}": getattr(self.agent.params, f.name) for f in fields(self.agent.params)})
        out["record"] = self.record
        return out


def check_repeats(repeats: Any, name: str = "repeats") -> int:
    """An integer number of repeats in ``[1, 1,000,000]`` (ConfigError otherwise)."""
    check_value(name, repeats, "int", lo=1, hi=1_000_000)
    return int(repeats)



__all__ = ["AgentConfig", "FlowConfig", "MarketConfig", "RunConfig", "parse_duration", "format_duration",
           "check_repeats", "NS_PER_S", "MAX_AGENT_LOTS", "MAX_DURATION_NS"]
