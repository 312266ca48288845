"""Order-flow models: what makes the background market (see :mod:`lobkit.flows.base`).

* :class:`FlowModel` (subclass it), :func:`register_flow`, :func:`flow_class`, :data:`FLOWS`;
* ``hawkes``: :class:`lobkit.flows.hawkes.HawkesFlow`, the parametric Hawkes flow (the default);
* ``nhp:PATH``: :class:`lobkit.flows.neural.NeuralFlow`, the learned flow of a trained neural Hawkes model;
* ``calibrated:PATH.toml``: :class:`lobkit.flows.calibrated.CalibratedFlow`, the same flow fitted to real data;
* the jitted interface the simulation loop calls: :mod:`lobkit.flows.nb`.
"""

from __future__ import annotations

from lobkit.flows.base import (
    FLOWS,
    FlowModel,
    flow_class,
    flow_state_type,
    implement_flow,
    parse_flow_spec,
    register_flow,
)
from lobkit.flows.calibrated import CalibratedFlow  # noqa: E402  (registers "calibrated")
from lobkit.flows.hawkes import HawkesFlow, HawkesParams
from lobkit.flows.nb import EVENT_NAMES, N_EVENT_TYPES
from lobkit.flows.neural import NeuralFlow, NHPParams  # noqa: E402  (registers "nhp")

__all__ = ["FLOWS", "FlowModel", "flow_class", "flow_state_type", "implement_flow", "parse_flow_spec", "register_flow",
           "HawkesFlow",
           "HawkesParams", "CalibratedFlow", "NeuralFlow", "NHPParams", "EVENT_NAMES", "N_EVENT_TYPES", "flow_names"]


def flow_names() -> list[str]:
    """The registered order-flow models."""
    return FLOWS.names()
