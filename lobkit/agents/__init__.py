"""Agents: the :class:`Agent` base class, the built-in strategies and the background order flow.

* :class:`Agent` (subclass it: override ``act(view) -> list[Order]``), :class:`Order`, :class:`MarketView`;
* :class:`NullAgent` (does nothing: the counterfactual baseline), :class:`MomentumAgent` (moving-average
  crossover), :class:`StrategicAgent` (the placeholder to edit);
* :class:`BackgroundTrader` (the parametric Hawkes order flow that makes the market).

:func:`make_agent` builds the agent of an :class:`~lobkit.sim.config.AgentConfig`.
"""

from __future__ import annotations

from lobkit.agents.background import BackgroundTrader
from lobkit.agents.base import BUY, SELL, Agent, MarketView, OpenOrder, Order
from lobkit.agents.momentum import MomentumAgent
from lobkit.agents.null import NullAgent
from lobkit.agents.strategic import StrategicAgent

__all__ = ["Agent", "Order", "MarketView", "OpenOrder", "BUY", "SELL", "NullAgent", "MomentumAgent",
           "StrategicAgent", "BackgroundTrader", "make_agent"]


def make_agent(cfg, jit: bool = True) -> Agent:
    """The agent described by an :class:`~lobkit.sim.config.AgentConfig` (``jit=False``: Python forms)."""
    common = dict(size=cfg.size, max_position=cfg.max_position, interval_ns=cfg.interval_ns,
                  fee_per_lot=cfg.fee_per_lot, fee_bps=cfg.fee_bps)
    if cfg.name == "momentum":
        return MomentumAgent(short=cfg.short, long=cfg.long, order_type=cfg.order_type,
                             limit_offset=cfg.limit_offset, jit=jit, **common)
    if cfg.name == "null":
        return NullAgent(jit=jit, **common)
    if cfg.name == "strategic":
        return StrategicAgent(imbalance=cfg.imbalance, **common)
    from lobkit.errors import ConfigError

    raise ConfigError(f"name: unknown agent {cfg.name!r}")
