"""Agents: the :class:`Agent` base class, the built-in strategies and the agent registry.

* :class:`Agent` (subclass it: ``Params`` dataclass + ``act(view) -> list[Order]``), :class:`Order`,
  :class:`MarketView`;
* :class:`NullAgent` (does nothing: the counterfactual baseline), :class:`MomentumAgent` (moving-average
  crossover), :class:`StrategicAgent` (the placeholder to edit);
* :func:`register_agent`, :func:`agent_class`, :func:`agent_names`: strategies by name;
* :func:`make_agent`: the agent of an :class:`~lobkit.sim.config.AgentConfig`.

The background order flow that makes the market is an order-flow model: :mod:`lobkit.flows`.
"""

from __future__ import annotations

from lobkit.agents.base import BUY, SELL, Agent, MarketView, NoParams, OpenOrder, Order
from lobkit.agents.impulse import ImpulseAgent, ImpulseParams
from lobkit.agents.momentum import MomentumAgent, MomentumParams
from lobkit.agents.null import NullAgent
from lobkit.agents.registry import AGENTS, agent_class, agent_names, register_agent
from lobkit.agents.strategic import StrategicAgent, StrategicParams

__all__ = ["Agent", "Order", "MarketView", "OpenOrder", "NoParams", "BUY", "SELL", "NullAgent", "MomentumAgent",
           "MomentumParams", "StrategicAgent", "StrategicParams", "ImpulseAgent", "ImpulseParams", "AGENTS",
           "register_agent", "agent_class", "agent_names", "make_agent"]


def make_agent(cfg, jit: bool = True) -> Agent:
    """The agent described by an :class:`~lobkit.sim.config.AgentConfig` (``jit=False``: Python forms)."""
    return cfg.agent_class.from_config(cfg, jit=jit)
