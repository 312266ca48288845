"""The simulator: configs, the jitted loop, one run and counterfactual experiments.

* :mod:`lobkit.sim.config`: :class:`MarketConfig`, :class:`AgentConfig`, :class:`RunConfig`,
  :func:`parse_duration`;
* :mod:`lobkit.sim.runner`: :func:`simulate` (one run -> :class:`RunResult`), :func:`compare` (baseline vs
  experiment on common random numbers -> :class:`CompareResult`);
* :mod:`lobkit.sim.nb`: the jitted event loop; :mod:`lobkit.sim.output`: files and figures.
"""

from __future__ import annotations

from lobkit.sim.config import AgentConfig, MarketConfig, RunConfig, format_duration, parse_duration
from lobkit.sim.runner import CompareResult, RunResult, Simulation, compare, simulate

__all__ = ["AgentConfig", "MarketConfig", "RunConfig", "parse_duration", "format_duration", "simulate", "compare",
           "RunResult", "CompareResult", "Simulation"]
