"""Order-flow models: the base class, the registry and the state type every model's kernels receive.

An order-flow model makes the background market: it decides when the next background event happens and what it
is (a limit, market or cancel order of either side). Its Python class (a :class:`FlowModel` subclass) holds the
model's parameters (a frozen dataclass, :attr:`FlowModel.Params`) and builds its jitted state (a NamedTuple of
arrays, made with :func:`flow_state_type`); its kernels implement the three functions of
:mod:`lobkit.flows.nb` for that state type. The simulation loop is compiled once per state type.

Models are chosen by name (``--flow hawkes``, ``MarketConfig``-independent ``FlowConfig(name="hawkes")``);
:func:`register_flow` adds one. A model that reads a file takes it as ``NAME:PATH`` (``--flow nhp:model.pth``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from lobkit.errors import ConfigError
from lobkit.registry import Registry


class FlowModel:
    """Base class of order-flow models. A subclass sets :attr:`name` and :attr:`Params` and implements
    :meth:`state` (and usually :meth:`initial_book`); its module registers jitted overloads of the functions
    of :mod:`lobkit.flows.nb` for the state type it builds.

    ``params``: an instance of :attr:`Params`; ``path``: the model's file when :attr:`needs_path`; ``market``: the
    run's :class:`~lobkit.sim.config.MarketConfig` (``None`` outside a simulation).
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type]
    needs_path: ClassVar[bool] = False

    def __init__(self, params: Any, path: str | None = None, market: Any = None):
        self.params = params
        self.path = path
        self.market = market  # the run's MarketConfig (tick and lot size), when a simulation builds the model

    @classmethod
    def default_params(cls, path: str | None = None) -> Any:
        """The parameters used when none are given (read from ``path`` for models that need a file)."""
        return cls.Params()

    @classmethod
    def market_defaults(cls, path: str | None = None) -> dict:
        """Market fields (``tick_size``, ``lot_size``, ...) that the model's file implies, applied by
        :func:`lobkit.sim.options.apply_options` to the fields a user did not set (default none)."""
        return {}

    @classmethod
    def check_market(cls, params: Any, market: Any) -> None:
        """Raise :class:`ConfigError` if ``params`` cannot run in ``market`` (a
        :class:`~lobkit.sim.config.MarketConfig`); default: anything goes."""

    def state(self, seed: np.random.SeedSequence, *, n_background: int, capacity: int, tick_size: float,
              initial_mid_ticks: float) -> NamedTuple:
        """The jitted state of a fresh run: arrays only, seeded from ``seed`` (never a global generator).

        ``n_background``: background accounts (owner indices ``0..n_background-1``); ``capacity``: most resting
        orders the book holds; ``tick_size``: currency per tick; ``initial_mid_ticks``: the initial book's mid.
        """
        raise NotImplementedError

    def initial_book(self, rng: np.random.Generator, mid_ticks: int, levels: int, orders_per_level: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A generated starting book around ``mid_ticks``: ``(side, price, size)`` int64 arrays (BUY/SELL,
        ticks, lots), ``levels`` levels a side from one tick off the mid, ``orders_per_level`` orders each."""
        n = 2 * levels * orders_per_level
        side = np.repeat(np.array([1, -1], np.int64), levels * orders_per_level)
        dist = np.tile(np.repeat(np.arange(1, levels + 1, dtype=np.int64), orders_per_level), 2)
        price = np.where(side == 1, mid_ticks - dist, mid_ticks + dist).astype(np.int64)
        return side, price, self.initial_sizes(rng, n)

    def initial_sizes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Sizes (lots) of ``n`` generated initial orders; default one lot each."""
        return np.ones(n, np.int64)

    def summary(self, state: NamedTuple) -> dict:
        """Extra numbers of a finished run for the run's summary (default none)."""
        return {}


def _check_flow_class(cls: type) -> None:
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and dataclasses.is_dataclass(params)):
        raise ConfigError(f"flow model {cls.__name__}: Params must be a dataclass")
    if not params.__dataclass_params__.frozen:
        raise ConfigError(f"flow model {cls.__name__}: Params must be a frozen dataclass")


#: Registered order-flow models by name.
FLOWS = Registry("flow model", base=FlowModel, check=_check_flow_class)


def register_flow(cls: type | None = None, *, name: str | None = None, replace: bool = False):
    """Register an order-flow model class (a decorator, or ``register_flow(MyFlow)``)."""
    return FLOWS.register(cls, name=name, replace=replace)


def flow_class(name: str) -> type[FlowModel]:
    """The model registered as ``name`` (or at the dotted path ``package.module:Class``)."""
    return FLOWS.get(name)


def parse_flow_spec(spec: str) -> tuple[str, str | None]:
    """``"hawkes"`` -> ``("hawkes", None)``; ``"nhp:model.pth"`` -> ``("nhp", "model.pth")`` (a registered name and
    its file); anything else with a colon is a class path: ``"my_flows:PoissonFlow"`` is a name,
    ``"my_flows:PoissonFlow:params.toml"`` a name and a path."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"flow: expected NAME or NAME:PATH, got {spec!r}")
    spec = spec.strip()
    head, sep, rest = spec.partition(":")
    if not sep or head in FLOWS:
        return head, (rest or None) if sep else None
    cls_name, sep2, path = rest.partition(":")
    return f"{head}:{cls_name}", (path or None) if sep2 else None


def implement_flow(state_type: type, reschedule, fire, seed_order) -> None:
    """Register jitted kernels as a model's implementation of the three functions of :mod:`lobkit.flows.nb` for
    ``state_type`` (its :func:`flow_state_type` class): ``reschedule(flow, book, now, agent_flow)``,
    ``fire(flow, book, now, next_oid, last_mid2)`` and ``seed_order(flow, book, oid, side)``. They are inlined into
    the simulation loop (Numba overloads selected by the state's type)."""
    from numba.extending import overload

    from lobkit.flows.nb import flow_fire, flow_reschedule, flow_seed_order

    def mine(flow) -> bool:
        return getattr(flow, "instance_class", None) is state_type

    @overload(flow_reschedule, inline="always")
    def _reschedule(flow, book, now, agent_flow):
        if mine(flow):
            return lambda flow, book, now, agent_flow: reschedule(flow, book, now, agent_flow)

    @overload(flow_fire, inline="always")
    def _fire(flow, book, now, next_oid, last_mid2):
        if mine(flow):
            return lambda flow, book, now, next_oid, last_mid2: fire(flow, book, now, next_oid, last_mid2)

    @overload(flow_seed_order, inline="always")
    def _seed(flow, book, oid, side):
        if mine(flow):
            return lambda flow, book, oid, side: seed_order(flow, book, oid, side)


def flow_state_type(name: str, fields: list[tuple[str, Any]], module: str) -> type:
    """A NamedTuple class for a model's jitted state (``fields``: ``(name, np.ndarray)`` pairs); ``module`` is the
    defining module's ``__name__``.

    The class is registered in :mod:`lobkit.flows.types` under a unique name (the module, the class name and, for
    a module outside lobkit, a hash of its source), which is what the simulation loop's cache index refers to:
    see that module for why.
    """
    from lobkit.flows import types as registry

    key = f"{module.replace('.', '_')}__{name}"
    if not module.startswith("lobkit."):
        mod = sys.modules[module]
        src = Path(mod.__file__).read_bytes() if getattr(mod, "__file__", None) else b""
        key += "__" + hashlib.sha256(src).hexdigest()[:12]
    cls = NamedTuple(key, fields)
    cls.__module__ = registry.__name__
    cls.__qualname__ = key
    setattr(registry, key, cls)
    return cls
