"""The parametric order flow (``--flow hawkes``): a six-dimensional Hawkes process with book-dependent base
rates around an efficient price, sampled so that a baseline and an experiment stay coupled.

Event types: limit buy/sell, market buy/sell, cancel buy/sell (:mod:`lobkit.flows.nb`). Intensities, with
``e_m(t)`` the market-order excitation and ``c(t) = 1 - kappa + kappa e_m(t) / mean(e_m)`` the activity
coupling::

    limit  (side s):  lambda = limit_rate * boost_s(book) * c(t) + excitation_s(t)
    market (side s):  lambda = market_rate + excitation_s(t)
    cancel (side s):  each resting background order of side s is cancelled at rate cancel_rate * c(t)
                      (none while the side holds min_orders orders or fewer)

``boost_s = 1 + refill_boost (1 - n_s / target_orders)`` while side s holds fewer than ``target_orders`` orders (a
thin book replenishes). Excitation kernels are ``alpha exp(-beta t)`` with branching ratios: a market order
excites market orders of its side (``excite_market_same``) and of the other (``excite_market_cross``) and limit
orders of the side it consumed (``excite_limit_refill``); a limit order excites limit orders of its side
(``excite_limit_limit``). Sizes are geometric (means ``limit_size_mean``, ``market_size_mean``).

Prices: the efficient price. Liquidity providers quote around a common *efficient price* ``P`` (Hasbrouck's
efficient price; Glosten & Milgrom 1985): a share ``efficient_price_share`` of limit orders rests ``d >= 1`` ticks
from ``P`` (a buy at ``ceil(P) - d``, a sell at ``floor(P) + d``; never crossing: at worst one tick inside the
opposite best), the others ``d`` ticks from the *opposite* best price (zero-intelligence traders, Santa Fe style);
``d`` is geometric with mean ``limit_depth_mean``. ``P`` moves with the unpredictable part of every market order,
background or agent, with a square-root impact (Toth et al. 2011)::

    P += efficient_price_impact * (sign * sqrt(size) - E[sign * sqrt(size) | the market-order intensities now])

(in ticks; an agent's order counts whole, it is not predicted by the background's intensities). ``P`` is a
martingale, so it carries no trend a strategy could exploit; a trade's permanent impact is
``efficient_price_impact * sqrt(size)`` ticks and the book's own (transient) response decays as the book refills
around ``P``.

Sampling: the next-reaction method on internal clocks (Kurtz's random time change; Gibson & Bruck 2000,
Anderson 2007), which is what couples two runs that share a seed (the "common reaction path" of Rathinam,
Sheppard & Khammash 2010):

* each of the four order types k has its own random stream and its own clock ``C_k(t) = integral of lambda_k``;
  its n-th event happens when ``C_k`` reaches the sum of n unit exponentials of stream k. Between events the
  book is frozen, so ``lambda_k(t0 + s) = a_k + b_k exp(-beta s)`` and ``C_k`` has a closed form; the next time
  is found by Newton's method on it (monotone, from a lower bound). The n-th event of type k takes its marks
  (distance, size, owner, the new order's lifetime, where it is placed) from the n-th draws of stream k: six
  uniforms an event;
* a cancellation is an order's death: every background limit order draws a unit-exponential lifetime when it is
  placed and is cancelled when the side's per-order hazard clock ``H_s(t) = integral of cancel_rate c(t)`` has
  grown by that much (Santa Fe's uniform choice among resting orders, in an equivalent memoryless form). A
  min-heap per side holds the death levels; orders filled in the meantime leave it when they reach the top;
* no random number is drawn to find a time, and an agent's trade only moves the clocks by the (small)
  difference it makes to the rates. So an experiment that perturbs the book still sees the same sequence of
  events of each type, at nearly the same times, with the same marks, and the same orders die; orders placed
  around the efficient price do not inherit the book's differences. The difference between the runs is the
  perturbation's impact, not a reshuffled future (:func:`lobkit.sim.impulse_response` measures it).

The process starts at its stationary mean excitation, ``(I - B)^-1 mu - mu`` with ``B = alpha / beta`` at the
nominal book (``target_orders`` a side), so the market is in its steady state from the first second; the
efficient price starts at the initial mid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lobkit._jit import kernel as _kernel  # noqa: E402  (no reference counting: see lobkit/_jit.py)
from lobkit._jit import kernel_inline as _inline  # noqa: E402
from lobkit.engine import nb as eng
from lobkit.engine.state import M_BEST_ASK, M_BEST_BID, M_NASK, M_NBID
from lobkit.errors import ConfigError
from lobkit.flows.base import FlowModel, flow_state_type, implement_flow, register_flow
from lobkit.flows.nb import (
    EV_CANCEL_BUY,
    EV_LIMIT_BUY,
    EV_LIMIT_SELL,
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    N_EVENT_TYPES,
    NEVER,
)
from lobkit.seeds import child
from lobkit.sim.rng import fill_uniform, rng_state, uniform
from lobkit.validate import check_field

NS_PER_S = 1_000_000_000
N_ORDER_TYPES = 4  # limit buy/sell, market buy/sell: the types with their own stream and exponential thresholds
STREAM_INITIAL_BOOK = N_ORDER_TYPES  # the stream of the initial book's lifetimes
N_STREAMS = N_ORDER_TYPES + 1
UNIFORMS_PER_EVENT = 6  # threshold, distance, size, owner, lifetime, reference price: the same for every event
MAX_LIMIT_LOTS = 1_000_000

# params: float64[P_LEN] (rates per ns)
P_MU_LIMIT = 0
P_MU_MARKET = 1
P_NU_CANCEL = 2
P_BETA = 3
P_LOG1M_DEPTH = 4  # log(1 - 1 / limit_depth_mean): geometric distance
P_LOG1M_LIMIT_SIZE = 5
P_LOG1M_MARKET_SIZE = 6
P_MAX_DEPTH = 7
P_MAX_MARKET_SIZE = 8
P_TARGET_ORDERS = 9
P_REFILL_BOOST = 10
P_MIN_ORDERS = 11
P_KAPPA = 12  # activity coupling
P_MEAN_MARKET_EXCITATION = 13  # stationary mean of the market-order excitation (normalises the coupling)
P_N_BACKGROUND = 14
P_EFFICIENT_SHARE = 15  # share of limit orders placed around the efficient price
P_EFFICIENT_IMPACT = 16  # ticks per sqrt(lot) of unexpected market-order flow
P_MARKET_SQRT_SIZE_MEAN = 17  # E[sqrt(size)] of a background market order
P_LEN = 20

# times: int64[T_LEN]
T_LAST = 0  # the time the clocks and the excitation refer to (ns)
T_NEXT = 1  # time of the next event (ns), NEVER if none
T_NEXT_TYPE = 2  # its type
T_LEN = 4


@dataclass(frozen=True)
class HawkesParams:
    """Parameters of the parametric flow (rates per second, distances in ticks, sizes in lots).

    limit_rate: base rate of limit orders per side. market_rate: base rate of market orders per side.
    cancel_rate: cancellation rate per resting background order (depth mean-reverts to about
    ``limit_rate / cancel_rate`` orders a side). hawkes_beta: decay rate of the kernels.
    excite_market_same / excite_market_cross: branching ratios of a market order onto later market orders of the
    same / the other side. excite_limit_refill: of a market order onto limit orders of the side it consumed.
    excite_limit_limit: of a limit order onto limit orders of its side. activity_coupling: kappa in [0, 1].
    limit_depth_mean: mean distance of a new limit order from the opposite best price (geometric, >= 1);
    max_depth: largest distance. limit_size_mean / market_size_mean: mean sizes (geometric, >= 1 lot);
    max_market_size. target_orders / refill_boost: a side with fewer orders than ``target_orders`` gets up to
    ``1 + refill_boost`` times the limit rate. min_orders: cancellations never take a side below this.
    efficient_price_share: the share of limit orders placed around the efficient price (the rest around the
    opposite best price), in [0, 1]. efficient_price_impact: how far the efficient price moves per square root
    of a lot of unexpected market-order flow (ticks).

    Defaults: a liquid generic market (about 150 events a second, a two-tick spread); see docs/simulator.md.
    """

    limit_rate: float = 20.0
    market_rate: float = 0.3
    cancel_rate: float = 0.15
    hawkes_beta: float = 0.2
    excite_market_same: float = 0.75
    excite_market_cross: float = 0.2
    excite_limit_refill: float = 2.0
    excite_limit_limit: float = 0.2
    activity_coupling: float = 0.9
    limit_depth_mean: float = 14.0
    max_depth: int = 100
    limit_size_mean: float = 3.0
    market_size_mean: float = 5.0
    max_market_size: int = 100
    target_orders: int = 150
    refill_boost: float = 4.0
    min_orders: int = 10
    efficient_price_share: float = 0.9
    efficient_price_impact: float = 0.15

    def __post_init__(self):
        for name in ("limit_rate", "market_rate", "cancel_rate", "hawkes_beta"):
            check_field(self, name, "number", lo=0.0, lo_open=True, unit="per second")
        for name in ("excite_market_same", "excite_market_cross", "excite_limit_refill", "excite_limit_limit",
                     "refill_boost"):
            check_field(self, name, "number", lo=0.0)
        check_field(self, "activity_coupling", "number", lo=0.0, hi=1.0)
        check_field(self, "efficient_price_share", "number", lo=0.0, hi=1.0)
        check_field(self, "efficient_price_impact", "number", lo=0.0, hi=1000.0, unit="ticks per sqrt(lot)")
        for name in ("limit_depth_mean", "limit_size_mean", "market_size_mean"):
            check_field(self, name, "number", lo=1.0)
        check_field(self, "max_depth", "int", lo=1, hi=1_000_000, unit="ticks")
        check_field(self, "max_market_size", "int", lo=1, hi=MAX_LIMIT_LOTS, unit="lots")
        check_field(self, "target_orders", "int", lo=0, hi=1 << 24)
        check_field(self, "min_orders", "int", lo=0, hi=1 << 24)
        if self.limit_depth_mean > self.max_depth:
            raise ConfigError(f"limit_depth_mean: must be <= max_depth ({self.max_depth}), got "
                              f"{self.limit_depth_mean:g}")
        rho = self.excite_market_same + self.excite_market_cross
        if rho >= 1.0:
            raise ConfigError(f"excite_market_same: excite_market_same + excite_market_cross = {rho:g} makes the "
                              "Hawkes process explosive (must be < 1)")
        if self.excite_limit_limit >= 1.0:
            raise ConfigError(f"excite_limit_limit: must be < 1 (else the Hawkes process is explosive), got "
                              f"{self.excite_limit_limit:g}")


HawkesState = flow_state_type("HawkesState", [
    ("params", np.ndarray),  # float64[P_LEN]
    ("alpha", np.ndarray),  # float64[6, 6]: jump of type k's intensity (per ns) after an event of type j
    ("clock", np.ndarray),  # float64[6]: integrated intensity (order types) / per-order hazard (cancel sides)
    ("threshold", np.ndarray),  # float64[4]: the level of clock[k] at which order type k fires next
    ("excitation", np.ndarray),  # float64[6]: excitation (per ns) at times[T_LAST]
    ("rate_const", np.ndarray),  # float64[6]: a_k, lambda_k(T_LAST + s) = a_k + b_k exp(-beta s)
    ("rate_decay", np.ndarray),  # float64[6]: b_k
    ("times", np.ndarray),  # int64[T_LEN]
    ("death_level", np.ndarray),  # float64[2, C]: min-heap per side of the orders' death levels on H_s
    ("death_oid", np.ndarray),  # int64[2, C]: the order ids of the heap entries
    ("heap_len", np.ndarray),  # int64[2]
    ("streams", np.ndarray),  # uint64[5, 4]: xoshiro256** states, one per order type + the initial book's
    ("counts", np.ndarray),  # int64[6]: events of each type so far
    ("scratch", np.ndarray),  # float64[2, 6]: clock distance to the next firing, and its lower time bound
    ("efficient_price", np.ndarray),  # float64[1]: the efficient price (ticks)
], __name__)


# ------------------------------------------------------------------------------------------------ kernels
@_inline
def _geometric(u, log1m):
    """1 + Geometric: a draw >= 1 with mean 1/p from a uniform ``u`` (``log1m = log(1 - p)``; p = 1 gives 1)."""
    if log1m == -np.inf:
        return 1
    return 1 + np.int64(math.log(u) / log1m)


@_inline
def _rates(flow, book):
    """a_k and b_k of every type for the book as it is now and the excitation at times[T_LAST]."""
    p = flow.params
    exc = flow.excitation
    a = flow.rate_const
    b = flow.rate_decay
    n_bid = book.meta[M_NBID]
    n_ask = book.meta[M_NASK]
    kappa = p[P_KAPPA]
    market_share = (exc[EV_MARKET_BUY] + exc[EV_MARKET_SELL]) / p[P_MEAN_MARKET_EXCITATION]
    target = p[P_TARGET_ORDERS]
    boost_bid = 1.0
    boost_ask = 1.0
    if target > 0:
        if n_bid < target:
            boost_bid += p[P_REFILL_BOOST] * (1.0 - n_bid / target)
        if n_ask < target:
            boost_ask += p[P_REFILL_BOOST] * (1.0 - n_ask / target)
    mu_bid = p[P_MU_LIMIT] * boost_bid
    mu_ask = p[P_MU_LIMIT] * boost_ask
    a[EV_LIMIT_BUY] = mu_bid * (1.0 - kappa)
    b[EV_LIMIT_BUY] = mu_bid * kappa * market_share + exc[EV_LIMIT_BUY]
    a[EV_LIMIT_SELL] = mu_ask * (1.0 - kappa)
    b[EV_LIMIT_SELL] = mu_ask * kappa * market_share + exc[EV_LIMIT_SELL]
    a[EV_MARKET_BUY] = p[P_MU_MARKET]
    b[EV_MARKET_BUY] = exc[EV_MARKET_BUY]
    a[EV_MARKET_SELL] = p[P_MU_MARKET]
    b[EV_MARKET_SELL] = exc[EV_MARKET_SELL]
    nu = p[P_NU_CANCEL]
    min_orders = p[P_MIN_ORDERS]
    for s in range(2):
        k = EV_CANCEL_BUY + s
        if (n_bid if s == 0 else n_ask) > min_orders:
            a[k] = nu * (1.0 - kappa)
            b[k] = nu * kappa * market_share
        else:
            a[k] = 0.0
            b[k] = 0.0


@_inline
def _integral(a, b, beta, s):
    """The integral of ``a + b exp(-beta u)`` over ``u`` in ``[0, s]``."""
    return a * s - b * math.expm1(-beta * s) / beta


@_inline
def _advance(flow, dt):
    """Move the clocks and the excitation ``dt`` ns forward under the rates of the last :func:`_rates`."""
    if dt <= 0:
        return
    beta = flow.params[P_BETA]
    for k in range(N_EVENT_TYPES):
        flow.clock[k] += _integral(flow.rate_const[k], flow.rate_decay[k], beta, float(dt))
    decay = math.exp(-beta * dt)
    for k in range(N_EVENT_TYPES):
        flow.excitation[k] *= decay
    flow.times[T_LAST] += dt


@_inline
def time_to_level(a, b, beta, r):
    """The ``s >= 0`` at which ``a s + b (1 - exp(-beta s)) / beta`` reaches ``r`` (``inf`` if never).

    Newton's method from the lower bound ``r / (a + b)``: the function is increasing and concave, so the
    iterates increase monotonically to the root (quadratic convergence; a few steps)."""
    if r <= 0.0:
        return 0.0
    if b <= 0.0:
        return r / a if a > 0.0 else np.inf
    if a <= 0.0:
        x = beta * r / b
        if x >= 1.0:
            return np.inf
        return -math.log1p(-x) / beta
    s = r / (a + b)
    for _ in range(100):
        e = math.exp(-beta * s)
        f = a * s + b * (1.0 - e) / beta - r
        step = f / (a + b * e)
        s -= step
        if -step <= 1e-12 * s + 1e-6:
            break
    return s


# --- the per-side min-heaps of death levels ---------------------------------------------------------------
@_inline
def _heap_sift_up(key, oid, s, i):
    k = key[s, i]
    o = oid[s, i]
    while i > 0:
        parent = (i - 1) >> 1
        if key[s, parent] <= k:
            break
        key[s, i] = key[s, parent]
        oid[s, i] = oid[s, parent]
        i = parent
    key[s, i] = k
    oid[s, i] = o


@_inline
def _heap_sift_down(key, oid, s, i, n):
    k = key[s, i]
    o = oid[s, i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and key[s, c + 1] < key[s, c]:
            c += 1
        if key[s, c] >= k:
            break
        key[s, i] = key[s, c]
        oid[s, i] = oid[s, c]
        i = c
    key[s, i] = k
    oid[s, i] = o


@_kernel
def _heap_compact(flow, book, s):
    """Drop the entries of orders that no longer rest and re-heapify (when the heap is full)."""
    key = flow.death_level
    oid = flow.death_oid
    n = flow.heap_len[s]
    m = 0
    for i in range(n):
        if eng.order_slot(book, oid[s, i]) != -1:
            key[s, m] = key[s, i]
            oid[s, m] = oid[s, i]
            m += 1
    for i in range(m // 2 - 1, -1, -1):
        _heap_sift_down(key, oid, s, i, m)
    flow.heap_len[s] = m


@_inline
def _heap_push(flow, s, level, order_id):
    n = flow.heap_len[s]
    flow.death_level[s, n] = level
    flow.death_oid[s, n] = order_id
    _heap_sift_up(flow.death_level, flow.death_oid, s, n)
    flow.heap_len[s] = n + 1


@_inline
def _heap_pop(flow, s):
    n = flow.heap_len[s] - 1
    flow.heap_len[s] = n
    if n > 0:
        flow.death_level[s, 0] = flow.death_level[s, n]
        flow.death_oid[s, 0] = flow.death_oid[s, n]
        _heap_sift_down(flow.death_level, flow.death_oid, s, 0, n)


@_inline
def _add_order(flow, book, s, level, order_id):
    if flow.heap_len[s] == flow.death_level.shape[1]:
        _heap_compact(flow, book, s)
    _heap_push(flow, s, level, order_id)


# --- the three functions of lobkit.flows.nb ----------------------------------------------------------------
@_kernel
def hawkes_reschedule(flow, book, now, agent_flow):
    """Bring the flow to ``now`` for the book as it is and return the time of the next event (ns).
    ``agent_flow``: signed lots the agents took as aggressors since the last call (they move the efficient price)."""
    _advance(flow, now - flow.times[T_LAST])
    if agent_flow != 0:
        flow.efficient_price[0] += flow.params[P_EFFICIENT_IMPACT] * (math.sqrt(agent_flow) if agent_flow > 0 else
                                                                       -math.sqrt(-agent_flow))
    _rates(flow, book)
    beta = flow.params[P_BETA]
    a = flow.rate_const
    b = flow.rate_decay
    # remaining clock distance of every type to its next firing level
    left = flow.scratch[0]
    for k in range(N_ORDER_TYPES):
        left[k] = flow.threshold[k] - flow.clock[k]
    for s in range(2):
        while flow.heap_len[s] > 0 and eng.order_slot(book, flow.death_oid[s, 0]) == -1:
            _heap_pop(flow, s)  # filled since it was placed
        k = EV_CANCEL_BUY + s
        left[k] = flow.death_level[s, 0] - flow.clock[k] if flow.heap_len[s] > 0 else np.inf
    # the earliest firing: exact times only for the types whose lower bound can beat the best so far
    lower = flow.scratch[1]
    first = -1
    for k in range(N_EVENT_TYPES):
        top = a[k] + b[k]
        lower[k] = np.inf if (top <= 0.0 or left[k] == np.inf) else max(left[k], 0.0) / top
        if first == -1 or lower[k] < lower[first]:
            first = k
    best = -1
    best_s = np.inf
    if lower[first] < np.inf:
        best = first
        best_s = time_to_level(a[first], b[first], beta, left[first])
        for k in range(N_EVENT_TYPES):
            if k != first and lower[k] < best_s:
                s_k = time_to_level(a[k], b[k], beta, left[k])
                if s_k < best_s or (s_k == best_s and k < best):
                    best = k
                    best_s = s_k
    t = flow.times
    if best == -1 or best_s >= 4.0e18:
        t[T_NEXT] = NEVER
        t[T_NEXT_TYPE] = -1
    else:
        t[T_NEXT] = now + np.int64(math.ceil(best_s))
        t[T_NEXT_TYPE] = best
    return t[T_NEXT]


@_kernel
def hawkes_fire(flow, book, now, next_oid, last_mid2):
    """The event scheduled for ``now``: ``(type, price, size, owner, target_oid)`` (see lobkit.flows.nb)."""
    t = flow.times
    k = t[T_NEXT_TYPE]
    _advance(flow, now - t[T_LAST])
    p = flow.params
    price = 0
    size = 0
    owner = -1
    target = -1
    if k < N_ORDER_TYPES:
        flow.clock[k] = flow.threshold[k]  # exactly at its level (the ns rounding of the time is not carried)
        st = flow.streams[k]
        u_threshold = uniform(st)
        u_distance = uniform(st)
        u_size = uniform(st)
        u_owner = uniform(st)
        u_life = uniform(st)
        u_reference = uniform(st)
        flow.threshold[k] += -math.log(u_threshold)
        owner = np.int64(u_owner * p[P_N_BACKGROUND])
        meta = book.meta
        if k <= EV_LIMIT_SELL:
            dist = _geometric(u_distance, p[P_LOG1M_DEPTH])
            max_depth = np.int64(p[P_MAX_DEPTH])
            if dist > max_depth:
                dist = max_depth
            size = _geometric(u_size, p[P_LOG1M_LIMIT_SIZE])
            if size > MAX_LIMIT_LOTS:
                size = MAX_LIMIT_LOTS
            at_efficient = u_reference < p[P_EFFICIENT_SHARE]
            efficient = flow.efficient_price[0]
            if k == EV_LIMIT_BUY:
                opposite = meta[M_BEST_ASK] if meta[M_NASK] > 0 else (last_mid2 + 1) // 2 + 1
                if at_efficient:
                    price = np.int64(math.ceil(efficient)) - dist
                    if price > opposite - 1:
                        price = opposite - 1
                else:
                    price = opposite - dist
            else:
                opposite = meta[M_BEST_BID] if meta[M_NBID] > 0 else last_mid2 // 2 - 1
                if at_efficient:
                    price = np.int64(math.floor(efficient)) + dist
                    if price < opposite + 1:
                        price = opposite + 1
                else:
                    price = opposite + dist
            s = k - EV_LIMIT_BUY
            _add_order(flow, book, s, flow.clock[EV_CANCEL_BUY + s] - math.log(u_life), next_oid)
        else:
            size = _geometric(u_size, p[P_LOG1M_MARKET_SIZE])
            max_size = np.int64(p[P_MAX_MARKET_SIZE])
            if size > max_size:
                size = max_size
            # the efficient price moves with the unpredictable part of the flow: sign * sqrt(size) less its
            # expectation given the current market-order intensities (a martingale: no trend to exploit)
            lam_buy = flow.rate_const[EV_MARKET_BUY] + flow.excitation[EV_MARKET_BUY]
            lam_sell = flow.rate_const[EV_MARKET_SELL] + flow.excitation[EV_MARKET_SELL]
            expected = p[P_MARKET_SQRT_SIZE_MEAN] * (lam_buy - lam_sell) / (lam_buy + lam_sell)
            root = math.sqrt(size)
            flow.efficient_price[0] += p[P_EFFICIENT_IMPACT] * ((root if k == EV_MARKET_BUY else -root) - expected)
    elif k >= 0:
        s = k - EV_CANCEL_BUY
        flow.clock[k] = flow.death_level[s, 0]
        target = flow.death_oid[s, 0]
        _heap_pop(flow, s)
    if k >= 0:
        for j in range(N_EVENT_TYPES):
            flow.excitation[j] += flow.alpha[j, k]
        flow.counts[k] += 1
    return k, price, size, owner, target


@_kernel
def hawkes_seed_order(flow, book, oid, side):
    """An order of the initial book rests: give it a lifetime from the initial book's stream."""
    s = eng.side_index(side)
    u = uniform(flow.streams[STREAM_INITIAL_BOOK])
    _add_order(flow, book, s, flow.clock[EV_CANCEL_BUY + s] - math.log(u), oid)


implement_flow(HawkesState, hawkes_reschedule, hawkes_fire, hawkes_seed_order)


# ------------------------------------------------------------------------------------------------ the model
def hawkes_arrays(params: HawkesParams) -> tuple[np.ndarray, np.ndarray]:
    """``(params array, alpha)`` of :class:`HawkesParams`: rates per ns; ``alpha[k, j]`` is the jump of type k's
    intensity after an event of type j, a branching ratio times ``beta`` (``alpha exp(-beta t)`` integrates to
    ``alpha / beta``)."""
    ns = 1e-9
    p = np.zeros(P_LEN, np.float64)
    p[P_MU_LIMIT] = params.limit_rate * ns
    p[P_MU_MARKET] = params.market_rate * ns
    p[P_NU_CANCEL] = params.cancel_rate * ns
    beta = params.hawkes_beta * ns
    p[P_BETA] = beta

    def log1m(mean):
        q = 1.0 / mean
        return -np.inf if q >= 1.0 else math.log1p(-q)

    p[P_LOG1M_DEPTH] = log1m(params.limit_depth_mean)
    p[P_LOG1M_LIMIT_SIZE] = log1m(params.limit_size_mean)
    p[P_LOG1M_MARKET_SIZE] = log1m(params.market_size_mean)
    p[P_MAX_DEPTH] = params.max_depth
    p[P_MAX_MARKET_SIZE] = params.max_market_size
    p[P_TARGET_ORDERS] = params.target_orders
    p[P_REFILL_BOOST] = params.refill_boost
    p[P_MIN_ORDERS] = params.min_orders
    p[P_KAPPA] = params.activity_coupling
    alpha = np.zeros((N_EVENT_TYPES, N_EVENT_TYPES), np.float64)
    alpha[EV_MARKET_BUY, EV_MARKET_BUY] = params.excite_market_same * beta
    alpha[EV_MARKET_SELL, EV_MARKET_SELL] = params.excite_market_same * beta
    alpha[EV_MARKET_SELL, EV_MARKET_BUY] = params.excite_market_cross * beta
    alpha[EV_MARKET_BUY, EV_MARKET_SELL] = params.excite_market_cross * beta
    alpha[EV_LIMIT_SELL, EV_MARKET_BUY] = params.excite_limit_refill * beta  # a buy eats asks: asks refill
    alpha[EV_LIMIT_BUY, EV_MARKET_SELL] = params.excite_limit_refill * beta
    alpha[EV_LIMIT_BUY, EV_LIMIT_BUY] = params.excite_limit_limit * beta
    alpha[EV_LIMIT_SELL, EV_LIMIT_SELL] = params.excite_limit_limit * beta
    return p, alpha


def mean_sqrt_market_size(params: HawkesParams) -> float:
    """E[sqrt(size)] of a background market order (geometric sizes >= 1 with mean ``market_size_mean``, capped at
    ``max_market_size``): the expectation subtracted from the efficient price's moves (module docstring)."""
    k = np.arange(1, params.max_market_size + 1, dtype=np.float64)
    q = 1.0 / params.market_size_mean
    pmf = q * (1.0 - q) ** (k - 1)
    pmf[-1] += max(0.0, 1.0 - pmf.sum())  # the cap takes the tail
    return float((np.sqrt(k) * pmf).sum())


def stationary_excitation(params: HawkesParams) -> np.ndarray:
    """Mean excitation (per ns) of each type in the stationary process at the nominal book (``target_orders``
    orders a side): ``lambda = (I - B)^-1 mu`` with ``B = alpha / beta``; the excitation is ``lambda - mu``."""
    p, alpha = hawkes_arrays(params)
    mu = np.array([p[P_MU_LIMIT], p[P_MU_LIMIT], p[P_MU_MARKET], p[P_MU_MARKET],
                   p[P_NU_CANCEL] * params.target_orders, p[P_NU_CANCEL] * params.target_orders])
    lam = np.linalg.solve(np.eye(N_EVENT_TYPES) - alpha / p[P_BETA], mu)
    return np.maximum(lam - mu, 0.0)


@register_flow
class HawkesFlow(FlowModel):
    """The parametric Hawkes flow (module docstring); ``params`` a :class:`HawkesParams`."""

    name = "hawkes"
    Params = HawkesParams

    @classmethod
    def check_market(cls, params: HawkesParams, market) -> None:
        """The price window must hold four times ``max_depth`` ticks, and the initial mid must be that far above
        zero (limit orders are placed up to ``max_depth`` ticks from the opposite best)."""
        need = 4 * params.max_depth
        if market.window < need:
            raise ConfigError(f"window: must be at least 4 x max_depth = {need} ticks, got {market.window}")
        if market.initial_mid / market.tick_size < need:
            raise ConfigError(f"initial_mid: must be at least 4 x max_depth = {need} ticks above zero, got "
                              f"{market.initial_mid / market.tick_size:g} ticks")

    def state(self, seed: np.random.SeedSequence, *, n_background: int, capacity: int, tick_size: float,
              initial_mid_ticks: float):
        p, alpha = hawkes_arrays(self.params)
        exc = stationary_excitation(self.params)
        p[P_MEAN_MARKET_EXCITATION] = max(exc[EV_MARKET_BUY] + exc[EV_MARKET_SELL], 1e-300)
        p[P_N_BACKGROUND] = n_background
        p[P_EFFICIENT_SHARE] = self.params.efficient_price_share
        p[P_EFFICIENT_IMPACT] = self.params.efficient_price_impact
        p[P_MARKET_SQRT_SIZE_MEAN] = mean_sqrt_market_size(self.params)
        streams = np.empty((N_STREAMS, 4), np.uint64)
        for i in range(N_STREAMS):
            streams[i] = rng_state(child(seed, i))
        threshold = np.empty(N_ORDER_TYPES, np.float64)
        u = np.empty(1, np.float64)
        for k in range(N_ORDER_TYPES):
            fill_uniform(streams[k], u)
            threshold[k] = -math.log(u[0])
        return HawkesState(
            params=p, alpha=alpha, clock=np.zeros(N_EVENT_TYPES), threshold=threshold, excitation=exc,
            rate_const=np.zeros(N_EVENT_TYPES), rate_decay=np.zeros(N_EVENT_TYPES),
            times=np.zeros(T_LEN, np.int64), death_level=np.zeros((2, capacity)),
            death_oid=np.zeros((2, capacity), np.int64), heap_len=np.zeros(2, np.int64), streams=streams,
            counts=np.zeros(N_EVENT_TYPES, np.int64), scratch=np.zeros((2, N_EVENT_TYPES)),
            efficient_price=np.array([float(initial_mid_ticks)]),
        )

    def initial_sizes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        q = 1.0 / self.params.limit_size_mean
        return rng.geometric(q, n).astype(np.int64) if q < 1 else np.ones(n, np.int64)

    def summary(self, state) -> dict:
        from lobkit.flows.nb import EVENT_NAMES

        return {f"events_{name}": int(state.counts[k]) for k, name in enumerate(EVENT_NAMES)}
