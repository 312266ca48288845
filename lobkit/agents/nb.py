"""The jitted forms of the built-in agents: pure functions of arrays, called by the simulation loop.

* every agent of a run has a row of the loop's agent table (int64[n_agents, AG_COLS], columns ``AG_*``): its
  kind, size, position limit, decision interval, next decision time, order id counter, counters; a momentum
  agent also has a row of the mid history (int64[n_agents, H], a ring of sampled mids in half-ticks);
* :func:`target_position` is the one place the loop asks a jitted agent for a decision: it dispatches on the
  agent's kind. :func:`momentum_decide` is the momentum rule, integer-exact, so that its Python form
  (:class:`lobkit.agents.MomentumAgent`) gives the same decisions to the bit.

Agents without a jitted form (``AG_PYTHON``) make the loop return to Python at their decision times.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lobkit._jit import kernel_inline as _inline  # noqa: E402

# ------------------------------------------------------------------------------------------------ agents
AG_NULL = 0  # does nothing
AG_MOMENTUM = 1  # moving-average crossover, jitted
AG_PYTHON = 2  # any agent whose act() runs in Python (the loop returns at its decision times)
AG_REPLAY = 3  # sends the rows of its schedule at their times (the paper baseline of a counterfactual)

AG_KIND = 0
AG_SIZE = 1
AG_MAXPOS = 2
AG_INTERVAL = 3
AG_SHORT = 4
AG_LONG = 5
AG_ORDER_TYPE = 6  # ORDER_TYPE_MARKET or ORDER_TYPE_LIMIT (marketable limit)
AG_OFFSET = 7  # ticks through the touch for marketable limit orders
AG_NEXT_DEC = 8  # time (ns) of the next decision
AG_NSAMP = 9  # mids sampled so far
AG_LAST_SIG = 10  # last non-zero signal (+1 short above long, -1 below), 0 before the first
AG_RESTING = 11  # id of the agent's resting limit order (momentum, limit mode), -1 if none
AG_NEXT_OID = 12  # next order id of this agent
AG_N_DECISIONS = 13
AG_N_CROSSOVERS = 14
AG_N_REJECTED = 15  # orders of the agent that the engine refused (status != OK)
AG_PAPER = 16  # 1: paper trading: orders are filled against the book as shown, which they never change
AG_SCHEDULE_POS = 17  # replay agents: the next row of the schedule to send
AG_SCHEDULE_END = 18  # replay agents: one past the agent's last row
AG_COLS = 20

# schedule: int64[N, SCHEDULE_COLS], the orders replay agents send (rows of one agent contiguous, by time)
SCH_T = 0  # ns
SCH_OP = 1  # OP_MARKET or OP_LIMIT
SCH_SIDE = 2
SCH_PRICE = 3  # ticks (limit orders)
SCH_SIZE = 4  # lots
SCHEDULE_COLS = 5

ORDER_TYPE_MARKET = 0
ORDER_TYPE_LIMIT = 1

NO_TRADE = np.iinfo(np.int64).min  # target_position: keep the position

# agent order ids: a high range per agent, far from the background's sequential ids
AGENT_OID_BASE = 1 << 48


@_inline
def momentum_decide(agents, mid_history, a, mid2):
    """Record one mid sample (``mid2`` = bid + ask, in half-ticks) for momentum agent ``a``.

    Returns the target position when a *new* crossover happened (the short moving average moved to the other
    side of the long one, compared with the last time they differed), else ``NO_TRADE``. The first regime
    seen (the first time the long window is full and the averages differ) is recorded without trading: the
    agent trades only on crossovers. Equal averages keep the previous regime. Integer-exact: the averages are
    compared as ``sum_short * long`` vs ``sum_long * short``.
    """
    short = agents[a, AG_SHORT]
    long_ = agents[a, AG_LONG]
    n = agents[a, AG_NSAMP]
    mid_history[a, n % long_] = mid2
    n += 1
    agents[a, AG_NSAMP] = n
    agents[a, AG_N_DECISIONS] += 1
    if n < long_:
        return NO_TRADE
    s_short = 0
    s_long = 0
    for j in range(long_):
        v = mid_history[a, (n - 1 - j) % long_]
        s_long += v
        if j < short:
            s_short += v
    diff = s_short * long_ - s_long * short
    if diff == 0:
        return NO_TRADE
    sig = 1 if diff > 0 else -1
    last = agents[a, AG_LAST_SIG]
    agents[a, AG_LAST_SIG] = sig
    if last == 0 or last == sig:
        return NO_TRADE
    agents[a, AG_N_CROSSOVERS] += 1
    target = sig * agents[a, AG_SIZE]
    m = agents[a, AG_MAXPOS]
    if target > m:
        target = m
    elif target < -m:
        target = -m
    return target


@_inline
def target_position(agents, mid_history, a, mid2):
    """The position jitted agent ``a`` wants now (``NO_TRADE``: keep it), after recording the mid ``mid2``.

    The one dispatch on the agent's kind: a new jitted agent adds its ``AG_*`` kind and a branch here."""
    kind = agents[a, AG_KIND]
    if kind == AG_MOMENTUM:
        return momentum_decide(agents, mid_history, a, mid2)
    return NO_TRADE


@njit(cache=True)
def momentum_targets(mid2, short, long_, size, max_position):
    """The jitted rule on a hand-made path: the target after each sample (``NO_TRADE`` when none)."""
    ag = np.zeros((1, AG_COLS), np.int64)
    ag[0, AG_SHORT] = short
    ag[0, AG_LONG] = long_
    ag[0, AG_SIZE] = size
    ag[0, AG_MAXPOS] = max_position
    hist = np.zeros((1, long_), np.int64)
    out = np.empty(mid2.shape[0], np.int64)
    for i in range(mid2.shape[0]):
        out[i] = momentum_decide(ag, hist, 0, mid2[i])
    return out
