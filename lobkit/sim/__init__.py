"""The simulator: configs, the jitted loop, one run, counterfactual and impulse-response experiments.

* :mod:`lobkit.sim.config`: :class:`MarketConfig`, :class:`FlowConfig`, :class:`AgentConfig`,
  :class:`RunConfig`, :func:`parse_duration`; :mod:`lobkit.sim.options`: flat options -> configuration (the one
  route of the CLI, the API and sweep grids);
* :mod:`lobkit.sim.experiments`: :func:`simulate` (one run -> :class:`RunResult`), :func:`compare` (baseline vs
  experiment on common random numbers -> :class:`CompareResult`), :func:`impulse_response`
  (-> :class:`ImpactResult`);
* :mod:`lobkit.sim.simulation`: :class:`Simulation` (one run in progress), :mod:`lobkit.sim.bridge` (agents
  deciding in Python), :mod:`lobkit.sim.results` (result frames), :mod:`lobkit.sim.metrics` (summaries);
* :mod:`lobkit.sim.nb`: the jitted event loop; :mod:`lobkit.sim.output`: files and figures.
"""

from __future__ import annotations

from lobkit.sim.config import AgentConfig, FlowConfig, MarketConfig, RunConfig, format_duration, parse_duration
from lobkit.sim.experiments import ImpactResult, compare, impulse_response, simulate
from lobkit.sim.results import CompareResult, RunResult
from lobkit.sim.simulation import Simulation

__all__ = ["AgentConfig", "FlowConfig", "MarketConfig", "RunConfig", "parse_duration", "format_duration",
           "simulate", "compare", "impulse_response", "RunResult", "CompareResult", "ImpactResult", "Simulation"]
