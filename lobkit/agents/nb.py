"""The jitted forms of the built-in agents and of the background order flow.

Everything here is a pure function of arrays, called by the simulation loop (:mod:`lobkit.sim.nb`):

* agents' state lives in rows of ``ag`` (int64[n_agents, AG_COLS], columns ``AG_*``) and ``hist``
  (int64[n_agents, H], each momentum agent's ring of sampled mids in half-ticks);
* :func:`momentum_decide` is the momentum rule, integer-exact, so that its Python form
  (:class:`lobkit.agents.MomentumAgent`) gives the same decisions to the bit;
* the background flow is reached only through :func:`flow_next_dt` and :func:`flow_event`: the loop asks the
  flow model for the next event's time, then for its type and marks. A learned model (a neural Hawkes
  process, later) is another ``kind`` behind these two functions, with its weights in ``fp``/``alpha`` and its
  hidden state in ``fs``; the loop does not change.

Event types: ``EV_LIMIT_BUY``, ``EV_LIMIT_SELL``, ``EV_MARKET_BUY``, ``EV_MARKET_SELL``, ``EV_CANCEL_BUY``,
``EV_CANCEL_SELL``. Marks: the limit order's distance in ticks from the opposite best price (>= 1, so a
background limit order never crosses) and the size in lots.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from lobkit._jit import kernel_inline as _inline  # noqa: E402
from lobkit.engine.state import M_NASK, M_NBID

# ------------------------------------------------------------------------------------------------ agents
AG_NULL = 0  # does nothing
AG_MOMENTUM = 1  # moving-average crossover, jitted
AG_PYTHON = 2  # any agent whose act() runs in Python (the loop returns at its decision times)

AG_KIND = 0
AG_SIZE = 1
AG_MAXPOS = 2
AG_INTERVAL = 3
AG_SHORT = 4
AG_LONG = 5
AG_OTYPE = 6  # 0 market, 1 marketable limit
AG_OFFSET = 7  # ticks through the touch for marketable limit orders
AG_NEXT_DEC = 8  # time (ns) of the next decision
AG_NSAMP = 9  # mids sampled so far
AG_LAST_SIG = 10  # last non-zero signal (+1 short above long, -1 below), 0 before the first
AG_RESTING = 11  # id of the agent's resting limit order (momentum, limit mode), -1 if none
AG_NEXT_OID = 12  # next order id of this agent
AG_N_DECISIONS = 13
AG_N_CROSSOVERS = 14
AG_COLS = 16

OTYPE_MARKET = 0
OTYPE_LIMIT = 1

NO_TRADE = np.iinfo(np.int64).min  # momentum_decide: no crossover, keep the position

# agent order ids: a high range per agent, far from the background's sequential ids
AGENT_OID_BASE = 1 << 48


@_inline
def momentum_decide(ag, hist, a, mid2):
    """Record one mid sample (``mid2`` = bid + ask, in half-ticks) for momentum agent ``a``.

    Returns the target position when a *new* crossover happened (the short moving average moved to the other
    side of the long one, compared with the last time they differed), else ``NO_TRADE``. The first regime
    seen (the first time the long window is full and the averages differ) is recorded without trading: the
    agent trades only on crossovers. Equal averages keep the previous regime. Integer-exact: the averages are
    compared as ``sum_short * long`` vs ``sum_long * short``.
    """
    short = ag[a, AG_SHORT]
    long_ = ag[a, AG_LONG]
    n = ag[a, AG_NSAMP]
    hist[a, n % long_] = mid2
    n += 1
    ag[a, AG_NSAMP] = n
    ag[a, AG_N_DECISIONS] += 1
    if n < long_:
        return NO_TRADE
    s_short = 0
    s_long = 0
    for j in range(long_):
        v = hist[a, (n - 1 - j) % long_]
        s_long += v
        if j < short:
            s_short += v
    diff = s_short * long_ - s_long * short
    if diff == 0:
        return NO_TRADE
    sig = 1 if diff > 0 else -1
    last = ag[a, AG_LAST_SIG]
    ag[a, AG_LAST_SIG] = sig
    if last == 0 or last == sig:
        return NO_TRADE
    ag[a, AG_N_CROSSOVERS] += 1
    target = sig * ag[a, AG_SIZE]
    m = ag[a, AG_MAXPOS]
    if target > m:
        target = m
    elif target < -m:
        target = -m
    return target


# ------------------------------------------------------------------------------------------------ background flow
EV_LIMIT_BUY = 0
EV_LIMIT_SELL = 1
EV_MARKET_BUY = 2
EV_MARKET_SELL = 3
EV_CANCEL_BUY = 4
EV_CANCEL_SELL = 5
N_EVENT_TYPES = 6
EVENT_NAMES = ("limit_buy", "limit_sell", "market_buy", "market_sell", "cancel_buy", "cancel_sell")

FLOW_HAWKES = 0  # the parametric multivariate Hawkes flow (the only kind so far)

# fp: the flow's parameters (float64[FP_LEN])
FP_MU_LIMIT = 0
FP_MU_MARKET = 1
FP_NU_CANCEL = 2
FP_BETA = 3  # per ns
FP_LOG1M_DEPTH = 4  # log(1 - 1/limit_depth_mean): geometric distance
FP_LOG1M_LSIZE = 5
FP_LOG1M_MSIZE = 6
FP_MAX_DEPTH = 7
FP_MAX_MKT = 8
FP_TARGET = 9
FP_BOOST = 10
FP_MIN_ORDERS = 11
FP_KAPPA = 12  # activity coupling: market-order excitation scales the limit and cancel base rates
FP_EBAR = 13  # stationary mean market-order excitation (normalises the coupling)
FP_LEN = 16

# fs: the flow's state (float64[FS_LEN]): excitation of each type at the last event, then scratch rates
FS_EXC = 0  # 6 values
FS_MU = 8  # 6 values: state-dependent base rates (scratch)
FS_LEN = 16


@_inline
def _geometric(u, log1m):
    """1 + Geometric: a draw >= 1 with mean 1/p from a uniform ``u`` (``log1m = log(1-p)``; p = 1 gives 1)."""
    if log1m == -np.inf:
        return 1
    return 1 + np.int64(math.log(u) / log1m)


@_inline
def _base_rates(fp, fs, st):
    """State-dependent base rates per ns into ``fs[FS_MU:FS_MU+6]``; returns their sum."""
    nbid = st.meta[M_NBID]
    nask = st.meta[M_NASK]
    mu_l = fp[FP_MU_LIMIT]
    target = fp[FP_TARGET]
    boost = fp[FP_BOOST]
    rb = 1.0
    ra = 1.0
    if target > 0:
        if nbid < target:
            rb += boost * (1.0 - nbid / target)
        if nask < target:
            ra += boost * (1.0 - nask / target)
    fs[FS_MU + 0] = mu_l * rb
    fs[FS_MU + 1] = mu_l * ra
    fs[FS_MU + 2] = fp[FP_MU_MARKET]
    fs[FS_MU + 3] = fp[FP_MU_MARKET]
    mo = fp[FP_MIN_ORDERS]
    fs[FS_MU + 4] = fp[FP_NU_CANCEL] * nbid if nbid > mo else 0.0
    fs[FS_MU + 5] = fp[FP_NU_CANCEL] * nask if nask > mo else 0.0
    tot = 0.0
    for k in range(N_EVENT_TYPES):
        tot += fs[FS_MU + k]
    return tot


@_inline
def _coupling(fp, fs):
    """kappa x (market-order excitation) / (its stationary mean): the excited share of limit and cancel rates."""
    return fp[FP_KAPPA] * (fs[FS_EXC + EV_MARKET_BUY] + fs[FS_EXC + EV_MARKET_SELL]) / fp[FP_EBAR]


@_inline
def flow_next_dt(kind, fp, fs, st, u1, u2):
    """Time (ns, >= 0) from the event just processed to the next background event, from two uniforms.

    Exact for a Hawkes process with one decay rate: the intensity after the event is ``mu + E exp(-beta t)``
    (base rates frozen at the current book state); the next event is the first of a Poisson(mu) arrival
    (``u1``) and of the decaying part's arrival (``u2``, Dassios & Zhao 2013). Always two uniforms.
    """
    mu = _base_rates(fp, fs, st)
    e = 0.0
    for k in range(N_EVENT_TYPES):
        e += fs[FS_EXC + k]
    # activity coupling: the limit and cancel base rates are scaled by (1 - kappa) + kappa x e_m / mean(e_m); the
    # second part decays like the excitation itself, so the sampling stays exact
    kappa = fp[FP_KAPPA]
    if kappa > 0.0:
        mu_lc = mu - fs[FS_MU + EV_MARKET_BUY] - fs[FS_MU + EV_MARKET_SELL]
        mu -= kappa * mu_lc
        e += _coupling(fp, fs) * mu_lc
    s = -math.log(u1) / mu
    if e > 0.0:
        beta = fp[FP_BETA]
        d = 1.0 + beta * math.log(u2) / e
        if d > 0.0:
            s2 = -math.log(d) / beta
            if s2 < s:
                s = s2
    if s > 9.0e18:
        s = 9.0e18
    return np.int64(s)


@_inline
def flow_event(kind, fp, alpha, fs, st, dt_ns, u3, u4, u5):
    """The type and marks of the background event due now, ``dt_ns`` after the previous one.

    Decays the excitation over ``dt_ns``, picks the type with probability proportional to its intensity
    (base rate at the current book state + excitation) with ``u3``, draws the distance (``u4``) and the size
    (``u5``), and adds the event's kernel jump ``alpha[:, type]``. Returns ``(type, distance_ticks, size)``.
    Always three uniforms, whatever the type.
    """
    decay = math.exp(-fp[FP_BETA] * dt_ns)
    _base_rates(fp, fs, st)
    for k in range(N_EVENT_TYPES):
        fs[FS_EXC + k] *= decay
    scale = 1.0 - fp[FP_KAPPA] + _coupling(fp, fs)
    for k in (EV_LIMIT_BUY, EV_LIMIT_SELL, EV_CANCEL_BUY, EV_CANCEL_SELL):
        fs[FS_MU + k] *= scale
    tot = 0.0
    for k in range(N_EVENT_TYPES):
        tot += fs[FS_MU + k] + fs[FS_EXC + k]
    x = u3 * tot
    typ = N_EVENT_TYPES - 1
    acc = 0.0
    for k in range(N_EVENT_TYPES):
        acc += fs[FS_MU + k] + fs[FS_EXC + k]
        if x < acc:
            typ = k
            break
    dist = _geometric(u4, fp[FP_LOG1M_DEPTH])
    maxd = np.int64(fp[FP_MAX_DEPTH])
    if dist > maxd:
        dist = maxd
    if typ in (EV_MARKET_BUY, EV_MARKET_SELL):
        size = _geometric(u5, fp[FP_LOG1M_MSIZE])
        maxm = np.int64(fp[FP_MAX_MKT])
        if size > maxm:
            size = maxm
    else:
        size = _geometric(u5, fp[FP_LOG1M_LSIZE])
        if size > 1_000_000:
            size = 1_000_000
    for k in range(N_EVENT_TYPES):
        fs[FS_EXC + k] += alpha[k, typ]
    return typ, dist, size


def hawkes_params(market) -> tuple[np.ndarray, np.ndarray]:
    """``(fp, alpha)`` of the parametric Hawkes flow from a :class:`lobkit.sim.config.MarketConfig`.

    Rates are converted to per nanosecond. ``alpha[k, j]`` is the jump of type k's intensity after an event
    of type j: a branching ratio times ``beta`` (the kernel ``alpha exp(-beta t)`` integrates to
    ``alpha / beta``).
    """
    ns = 1e-9
    fp = np.zeros(FP_LEN, np.float64)
    fp[FP_MU_LIMIT] = market.limit_rate * ns
    fp[FP_MU_MARKET] = market.market_rate * ns
    fp[FP_NU_CANCEL] = market.cancel_rate * ns
    beta = market.hawkes_beta * ns
    fp[FP_BETA] = beta

    def log1m(mean):
        p = 1.0 / mean
        return -np.inf if p >= 1.0 else math.log1p(-p)

    fp[FP_LOG1M_DEPTH] = log1m(market.limit_depth_mean)
    fp[FP_LOG1M_LSIZE] = log1m(market.limit_size_mean)
    fp[FP_LOG1M_MSIZE] = log1m(market.market_size_mean)
    fp[FP_MAX_DEPTH] = market.max_depth
    fp[FP_MAX_MKT] = market.max_market_size
    fp[FP_TARGET] = market.target_orders
    fp[FP_BOOST] = market.refill_boost
    fp[FP_MIN_ORDERS] = market.min_orders
    fp[FP_KAPPA] = market.activity_coupling
    a = np.zeros((N_EVENT_TYPES, N_EVENT_TYPES), np.float64)
    a[EV_MARKET_BUY, EV_MARKET_BUY] = market.excite_market_same * beta
    a[EV_MARKET_SELL, EV_MARKET_SELL] = market.excite_market_same * beta
    a[EV_MARKET_SELL, EV_MARKET_BUY] = market.excite_market_cross * beta
    a[EV_MARKET_BUY, EV_MARKET_SELL] = market.excite_market_cross * beta
    a[EV_LIMIT_SELL, EV_MARKET_BUY] = market.excite_limit_refill * beta  # a buy eats asks: asks refill
    a[EV_LIMIT_BUY, EV_MARKET_SELL] = market.excite_limit_refill * beta
    a[EV_LIMIT_BUY, EV_LIMIT_BUY] = market.excite_limit_limit * beta
    a[EV_LIMIT_SELL, EV_LIMIT_SELL] = market.excite_limit_limit * beta
    return fp, a


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
