"""The agent that does nothing: the baseline of every counterfactual experiment."""

from __future__ import annotations

import numpy as np

from lobkit.agents.base import Agent, MarketView, Order
from lobkit.agents.nb import AG_COLS, AG_INTERVAL, AG_KIND, AG_NULL, AG_RESTING
from lobkit.agents.registry import register_agent


@register_agent
class NullAgent(Agent):
    """Never trades. A run with a NullAgent is the market as it would have been without the strategy; with the
    same seed, it equals the baseline of :func:`lobkit.sim.compare` to the bit."""

    name = "null"
    has_jitted_form = True

    def __init__(self, params=None, *, jit: bool = True, **kw):
        super().__init__(params, **kw)
        self.jitted = bool(jit)

    def act(self, view: MarketView) -> list[Order]:
        return []

    def jit_row(self) -> np.ndarray:
        row = np.zeros(AG_COLS, np.int64)
        row[AG_KIND] = AG_NULL
        row[AG_INTERVAL] = self.interval_ns
        row[AG_RESTING] = -1
        return row
