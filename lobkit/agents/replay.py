"""The replay agent: sends a given list of orders at given times (jitted). A counterfactual's paper baseline
replays the experiment's own orders on paper (:func:`lobkit.sim.compare`)."""

from __future__ import annotations

import numpy as np

from lobkit.agents.base import Agent
from lobkit.agents.nb import AG_COLS, AG_KIND, AG_REPLAY, AG_RESTING, SCH_T, SCHEDULE_COLS
from lobkit.errors import ConfigError


class ReplayAgent(Agent):
    """Sends the rows of ``schedule`` (int64[N, SCHEDULE_COLS]: time ns, op ``OP_MARKET``/``OP_LIMIT``, side,
    price ticks, size lots; sorted by time) at their times, inside the jitted loop. Not registered by name: it is
    built from another run's orders (see :func:`lobkit.sim.experiments.compare`)."""

    name = "replay"
    has_jitted_form = True

    def __init__(self, schedule: np.ndarray, **kw):
        super().__init__(**kw)
        sched = np.ascontiguousarray(schedule, dtype=np.int64)
        if sched.ndim != 2 or sched.shape[1] != SCHEDULE_COLS:
            raise ConfigError(f"schedule: expected an int64 array of shape (N, {SCHEDULE_COLS}), got {sched.shape}")
        if len(sched) > 1 and np.any(np.diff(sched[:, SCH_T]) < 0):
            raise ConfigError("schedule: rows must be sorted by time")
        self._schedule = sched
        self.jitted = True

    def jit_row(self) -> np.ndarray:
        row = np.zeros(AG_COLS, np.int64)
        row[AG_KIND] = AG_REPLAY
        row[AG_RESTING] = -1
        return row

    def schedule(self) -> np.ndarray:
        return self._schedule
