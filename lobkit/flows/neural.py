"""The learned order flow (``--flow nhp:nhp_background_trader.pth``): the neural Hawkes process of
:mod:`lobkit.training.nhp` generates the background events inside the jitted simulation loop.

The model's weights are exported to arrays (:func:`lobkit.training.nhp.export_arrays`) and its GRU step, intensity
and mark head run here in Numba, in float64, in the same operations as PyTorch's (``tests/flows/test_neural.py``
checks the jitted state against PyTorch's over 10,000 steps to 1e-5). After each event the state ``h`` gives the
intensities until the next one (times in seconds inside the model, ns in the simulator)::

    lambda_k(tau) = mu_k(h) + sum_m a_km(h) exp(-beta_km tau),
    Lambda(tau)   = sum_k mu_k tau + sum_km a_km (1 - exp(-beta_km tau)) / beta_km

Sampling, exact and with a fixed count of random numbers (the n-th background event takes the uniforms ``7n ..
7n + 6`` of one xoshiro256** stream, so that a baseline and an experiment share them):

* time: inversion of the compensator (Daley and Vere-Jones 2003, sec. 7.4): ``Lambda(tau) = E`` with ``E = -log
  u_0``, solved by Newton's method from the lower bound ``E / (sum mu + sum a)`` (``Lambda`` is increasing and
  concave, so the iterates increase to the root);
* type: ``k`` with probability ``lambda_k(tau) / sum lambda(tau)`` (``u_1``);
* marks from the mark head at the state before the event: the distance category (``u_2``; inverse of the softmax's
  cumulative sum) and the log-normal size (``u_3`` through the normal quantile);
* ``u_4``: the owner (one of the background accounts); ``u_5``: which resting order a cancellation takes;
  ``u_6``: the distance within an open-ended category: how far inside the spread (category 0) or how far beyond
  ``D - 2`` ticks (the last category), from the quantiles of the training data's distances in that category
  (recorded in the model's file by ``train-nhp``, :func:`lobkit.training.nhp_training.distance_quantiles`; the model
  itself only says which category).

Events become orders on the book:

* a limit order at distance category ``c`` rests ``c - 1`` ticks behind the best price of its side; ``c = 0`` (inside
  the spread) places it as far inside the spread as the training data's category-0 orders went (their quantiles,
  ``u_6``), at most one tick off the other side (at the touch when there is no tick between). It never crosses;
* a market order takes its size;
* a cancellation takes a background order from the level at its distance (the order at position ``u_5`` of the
  level's queue, or the nearest background order behind it), or from the nearest level that has one.

The anchor: placements and cancellations are decided on a *shadow book*, the book of the background's own
orders (the initial book and every background event, never an agent's order), kept by the flow with the engine's
kernels; the real book gets the same orders. Without the anchor the book is translation-invariant (every order
placed relative to the best), so a perturbation that moved the touch once would shift all later prices of an
experiment against its baseline: not the perturbation's impact, a reshuffled future. With it, an agent's trade
changes the background's placements only through the model's history (``agent_feedback``), which is how the learned
traders react to it, and its direct effect on the real book fades as the book turns over.

Sizes: the model's sizes are in the data's units; the simulator's lots are ``size / lot_size`` (the market's
``lot_size``), rounded, at least 1 lot.

The agent's trades: with ``agent_feedback`` (off by default, see :class:`NHPParams`), an agent's market order (the lots it took as an aggressor)
enters the model's history as a market event of its side, so the learned traders react to it as they did in the
data; the exponential threshold of the pending event is carried over (its remaining part, ``E - Lambda(elapsed)``,
which is exact by the memorylessness of the exponential: the random time change), so no random number is consumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba.extending import overload

from lobkit._jit import kernel as _kernel
from lobkit._jit import kernel_fast as _fast
from lobkit._jit import kernel_inline as _inline
from lobkit.agents.nb import AGENT_OID_BASE
from lobkit.engine import nb as eng
from lobkit.engine.messages import BUY, SELL
from lobkit.engine.state import (
    LV_CNT,
    LV_HEAD,
    M_BASE,
    M_BEST_ASK,
    M_BEST_BID,
    M_NASK,
    M_NBID,
    M_NFILLS,
    O_ID,
    O_NEXT,
    O_OWNER,
    O_PRICE,
    O_SIZE,
    BookState,
    alloc_state,
)
from lobkit.errors import ConfigError, InputFormatError
from lobkit.flows.base import FlowModel, flow_state_type, register_flow
from lobkit.flows.nb import (
    EV_CANCEL_BUY,
    EV_LIMIT_BUY,
    EV_LIMIT_SELL,
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    N_EVENT_TYPES,
    NEVER,
    flow_fire,
    flow_reschedule,
    flow_seed_order,
)
from lobkit.seeds import child
from lobkit.sim.rng import rng_state, uniform
from lobkit.validate import check_field

NS_PER_S = 1_000_000_000
UNIFORMS_PER_EVENT = 7
MAX_LOTS = 1_000_000  # largest background order (lots)
N_FEATURES = 8  # dt, log(dt + 1e-6), exp(-dt / 0.1), exp(-dt / 1), exp(-dt / 10), log1p|d|, sign d, log size
DT_SCALES = (0.1, 1.0, 10.0)  # the same as lobkit.training.nhp.DT_SCALES (a test checks)
SCAN_LEVELS = 4096  # a cancellation looks at most this many occupied price levels for a background order

# params: float64[P_LEN]
P_N_BACKGROUND = 0
P_LOT_SIZE = 1  # the data's size units per lot
P_FEEDBACK = 2  # 1.0: agents' market orders enter the model's history
P_LEN = 4

# times: int64[T_LEN]
T_LAST = 0  # time of the last event the model has seen (ns)
T_NEXT = 1  # time of the next background event (ns), NEVER if none
T_NEXT_TYPE = 2  # its type (decided when it fires)
T_NEED_DRAW = 3  # 1: the next event's uniforms are still to draw
T_LEN = 4

# pending: float64[PD_LEN], the next background event's random numbers and its exact time
PD_U = 0  # PD_U .. PD_U + 6: the seven uniforms
PD_E_LEFT = 7  # the part of its exponential threshold the compensator has not yet reached since T_LAST
PD_TAU = 8  # its time after T_LAST (seconds, exact: the ns time is rounded up)
PD_LEN = 9


@dataclass(frozen=True)
class NHPParams:
    """Parameters of the learned flow that are not in the model's file.

    agent_feedback: whether an agent's market orders enter the model's history (module docstring). Default false:
        with it, one 1-lot trade changes the model's history and the later events of an experiment diverge from
        its baseline's (the standard deviation of the mid difference 10 minutes after a 1-lot trade measured 6.5
        ticks on the test model, against 0.8 without), so a counterfactual would measure a reshuffled future rather
        than the trade's impact. Turn it on to study how the learned traders react to an agent.
    """

    agent_feedback: bool = False

    def __post_init__(self):
        check_field(self, "agent_feedback", "bool")


NHPState = flow_state_type("NHPState", [
    ("params", np.ndarray),  # float64[P_LEN]
    ("gi_type", np.ndarray),  # float64[K, 3H]
    ("w_feat", np.ndarray),  # float64[3H, F]
    ("w_hh", np.ndarray),  # float64[3H, H]
    ("b_hh", np.ndarray),  # float64[3H]
    ("w_base", np.ndarray),  # float64[K, H]
    ("b_base", np.ndarray),  # float64[K]
    ("w_jump", np.ndarray),  # float64[K*M, H]
    ("b_jump", np.ndarray),  # float64[K*M]
    ("beta", np.ndarray),  # float64[K, M] per second
    ("w_mark", np.ndarray),  # float64[H, H]
    ("mark_type", np.ndarray),  # float64[K, H]
    ("w_dist", np.ndarray),  # float64[D, H]
    ("b_dist", np.ndarray),  # float64[D]
    ("w_size", np.ndarray),  # float64[2, H]
    ("b_size", np.ndarray),  # float64[2]
    ("h", np.ndarray),  # float64[H]: the GRU state after the last event
    ("mu", np.ndarray),  # float64[K]: base intensities of the state (per second)
    ("a", np.ndarray),  # float64[K, M]: the exponentials' weights (per second)
    ("scratch", np.ndarray),  # float64[4, max(3H, D, F)]: gates and mark-head work space
    ("times", np.ndarray),  # int64[T_LEN]
    ("pending", np.ndarray),  # float64[PD_LEN]
    ("stream", np.ndarray),  # uint64[4]: the xoshiro256** state of the events' uniforms
    ("counts", np.ndarray),  # int64[6]: events of each type so far
    ("agent_events", np.ndarray),  # int64[1]: agents' market orders fed to the model
    ("last_marks", np.ndarray),  # float64[3]: the last background event's time after the one before (s), distance
    #                               (ticks) and size (data units), as the model drew them
    ("inside_q", np.ndarray),  # float64[Q]: quantiles of the ticks inside the spread of category-0 limit orders
    ("tail_q", np.ndarray),  # float64[Q]: quantiles of the distance beyond D - 2 ticks of the last category
    ("shadow", BookState),  # the book of the background's own orders only (module docstring: the anchor)
], __name__)


# ------------------------------------------------------------------------------------------------ kernels
@_inline
def _softplus(x):
    """PyTorch's softplus (beta 1, threshold 20)."""
    return x if x > 20.0 else math.log1p(math.exp(x))


@_inline
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@_fast
def nhp_intensity_params(flow):
    """``mu`` and ``a`` of the state ``flow.h`` (softplus of the base and jump layers; ``mu`` gets PyTorch's +1e-9)."""
    h = flow.h
    H = h.shape[0]
    K, M = flow.a.shape
    for k in range(K):
        acc = flow.b_base[k]
        for j in range(H):
            acc += flow.w_base[k, j] * h[j]
        flow.mu[k] = _softplus(acc) + 1e-9
    for km in range(K * M):
        acc = flow.b_jump[km]
        for j in range(H):
            acc += flow.w_jump[km, j] * h[j]
        flow.a[km // M, km % M] = _softplus(acc)


@_fast
def nhp_step(flow, k, dt_s, distance, size):
    """The GRU step of one event (type ``k``, ``dt_s`` seconds after the last, ``distance`` ticks, ``size`` in the
    data's units), as ``torch.nn.GRU`` computes it (gates r, z, n), then the new state's intensity parameters."""
    h = flow.h
    H = h.shape[0]
    x = flow.scratch[0]
    dt = dt_s if dt_s > 0.0 else 0.0
    x[0] = dt
    x[1] = math.log(dt + 1e-6)
    x[2] = math.exp(-dt / 0.1)
    x[3] = math.exp(-dt / 1.0)
    x[4] = math.exp(-dt / 10.0)
    x[5] = math.log1p(abs(distance))
    x[6] = 1.0 if distance > 0 else (-1.0 if distance < 0 else 0.0)
    x[7] = math.log(size if size > 1e-12 else 1e-12)
    gi = flow.scratch[1]
    gh = flow.scratch[2]
    for g in range(3 * H):
        acc = flow.gi_type[k, g]
        for f in range(N_FEATURES):
            acc += flow.w_feat[g, f] * x[f]
        gi[g] = acc
        acc = flow.b_hh[g]
        for j in range(H):
            acc += flow.w_hh[g, j] * h[j]
        gh[g] = acc
    for j in range(H):
        r = _sigmoid(gi[j] + gh[j])
        z = _sigmoid(gi[H + j] + gh[H + j])
        n = math.tanh(gi[2 * H + j] + r * gh[2 * H + j])
        h[j] = (1.0 - z) * n + z * h[j]
    nhp_intensity_params(flow)


@_inline
def _compensator(flow, tau):
    """``Lambda(tau)`` summed over the types and its derivative, the total intensity ``lambda(tau)``."""
    K, M = flow.a.shape
    comp = 0.0
    lam = 0.0
    for k in range(K):
        comp += flow.mu[k] * tau
        lam += flow.mu[k]
        for m in range(M):
            b = flow.beta[k, m]
            e = math.exp(-b * tau)
            comp += flow.a[k, m] * (1.0 - e) / b
            lam += flow.a[k, m] * e
    return comp, lam


@_kernel
def nhp_time_to(flow, e):
    """The ``tau >= 0`` (seconds) at which the compensator of the current state reaches ``e`` (module docstring)."""
    if e <= 0.0:
        return 0.0
    K, M = flow.a.shape
    top = 0.0
    for k in range(K):
        top += flow.mu[k]
        for m in range(M):
            top += flow.a[k, m]
    tau = e / top
    for _ in range(200):
        comp, lam = _compensator(flow, tau)
        step = (e - comp) / lam
        tau += step
        if step <= 1e-13 * tau + 1e-15:
            break
    return tau


@_inline
def _normal_quantile(p):
    """The standard normal quantile (Acklam's rational approximation, refined by one Halley step on ``erfc``:
    double precision)."""
    a1, a2, a3 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
    a4, a5, a6 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
    b1, b2, b3 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
    b4, b5 = 6.680131188771972e01, -1.328068155288572e01
    c1, c2, c3 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
    c4, c5, c6 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
    d1, d2, d3, d4 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    elif p <= 1.0 - lo:
        q = p - 0.5
        r = q * q
        x = ((((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q
             / (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0))
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@_fast
def nhp_marks(flow, k, u_distance, u_size):
    """``(distance category, size)`` of an event of type ``k`` at the current state: the mark head's softmax over
    the categories inverted at ``u_distance``, its log-normal size at the quantile ``u_size`` (data units)."""
    h = flow.h
    H = h.shape[0]
    z = flow.scratch[1]
    for i in range(H):
        acc = flow.mark_type[k, i]
        for j in range(H):
            acc += flow.w_mark[i, j] * h[j]
        z[i] = math.tanh(acc)
    D = flow.b_dist.shape[0]
    logits = flow.scratch[2]
    top = -np.inf
    for c in range(D):
        acc = flow.b_dist[c]
        for j in range(H):
            acc += flow.w_dist[c, j] * z[j]
        logits[c] = acc
        if acc > top:
            top = acc
    total = 0.0
    for c in range(D):
        logits[c] = math.exp(logits[c] - top)
        total += logits[c]
    target = u_distance * total
    cat = D - 1
    run = 0.0
    for c in range(D):
        run += logits[c]
        if target < run:
            cat = c
            break
    loc = flow.b_size[0]
    s = flow.b_size[1]
    for j in range(H):
        loc += flow.w_size[0, j] * z[j]
        s += flow.w_size[1, j] * z[j]
    scale = _softplus(s) + 1e-3
    return cat, math.exp(loc + scale * _normal_quantile(u_size))


@_inline
def _quantile(q, u):
    """The quantile function given by ``q`` (values at 0, 1/(Q-1), ..., 1) at ``u``, linearly interpolated."""
    n = q.shape[0]
    if n == 1:
        return q[0]
    x = u * (n - 1)
    i = np.int64(x)
    if i >= n - 1:
        return q[n - 1]
    return q[i] + (x - i) * (q[i + 1] - q[i])


@_inline
def _lots(size, lot_size):
    q = size / lot_size
    if not q < MAX_LOTS:  # also NaN
        return MAX_LOTS
    n = np.int64(q + 0.5)
    return n if n >= 1 else 1


@_kernel
def _background_order_at(book, s, j, u):
    """A background order id at level index ``j`` of side ``s`` (the one at queue position ``u`` of the level, or
    the nearest background order behind it, wrapping round), or -1."""
    cnt = book.lv[LV_CNT, s, j]
    if cnt <= 0:
        return -1
    start = np.int64(u * cnt)
    slot = book.lv[LV_HEAD, s, j]
    for _ in range(start):
        slot = book.orders[slot, O_NEXT]
    for _ in range(cnt):
        oid = book.orders[slot, O_ID]
        if 0 <= oid < AGENT_OID_BASE:
            return oid
        slot = book.orders[slot, O_NEXT]
        if slot == -1:
            slot = book.lv[LV_HEAD, s, j]
    return -1


@_kernel
def _cancel_target(book, s, distance, u):
    """The background order a cancellation of side ``s`` at ``distance`` ticks behind the best takes (module
    docstring), or -1 when the side holds none within :data:`SCAN_LEVELS` occupied levels. Occupied levels are
    found with the book's occupancy bitmap (64 levels at a time)."""
    meta = book.meta
    if (meta[M_NBID] if s == 0 else meta[M_NASK]) == 0:
        return -1
    base = meta[M_BASE]
    width = book.lv.shape[2]
    best = meta[M_BEST_BID] - base if s == 0 else meta[M_BEST_ASK] - base
    j0 = best - distance if s == 0 else best + distance
    if distance <= 0:
        j0 = best
    if j0 < 0:
        j0 = 0
    elif j0 >= width:
        j0 = width - 1
    # from the level at the distance outwards (deeper), then back towards the touch
    j = eng.level_below(book, s, j0) if s == 0 else eng.level_above(book, s, j0)
    for _ in range(SCAN_LEVELS):
        if j < 0:
            break
        oid = _background_order_at(book, s, j, u)
        if oid >= 0:
            return oid
        j = eng.level_below(book, s, j - 1) if s == 0 else (eng.level_above(book, s, j + 1) if j + 1 < width else -1)
    j = eng.level_above(book, s, j0 + 1) if s == 0 else eng.level_below(book, s, j0 - 1)
    for _ in range(SCAN_LEVELS):
        if j < 0 or (j > best if s == 0 else j < best):
            break
        oid = _background_order_at(book, s, j, u)
        if oid >= 0:
            return oid
        if s == 0:
            j = eng.level_above(book, s, j + 1) if j + 1 < width else -1
        else:
            j = eng.level_below(book, s, j - 1) if j >= 1 else -1
    return -1


@_kernel
def nhp_reschedule(flow, book, now, agent_flow):
    """Bring the model to ``now`` and return the time of the next background event (lobkit.flows.nb): feeds an
    agent's market order to the model (``agent_feedback``), draws the next event's uniforms after a background event,
    and solves its time. Draws nothing on other calls."""
    t = flow.times
    pd = flow.pending
    solve = False
    if agent_flow != 0 and flow.params[P_FEEDBACK] > 0.0 and now >= t[T_LAST]:
        dt_s = (now - t[T_LAST]) / NS_PER_S
        if t[T_NEED_DRAW] == 0:
            comp, _ = _compensator(flow, dt_s)
            left = pd[PD_E_LEFT] - comp
            pd[PD_E_LEFT] = left if left > 0.0 else 0.0
        k = EV_MARKET_BUY if agent_flow > 0 else EV_MARKET_SELL
        lots = agent_flow if agent_flow > 0 else -agent_flow
        nhp_step(flow, k, dt_s, 0, lots * flow.params[P_LOT_SIZE])
        t[T_LAST] = now
        flow.agent_events[0] += 1
        solve = True
    if t[T_NEED_DRAW] != 0:
        for i in range(UNIFORMS_PER_EVENT):
            pd[PD_U + i] = uniform(flow.stream)
        pd[PD_E_LEFT] = -math.log(pd[PD_U])
        t[T_NEED_DRAW] = 0
        solve = True
    if solve:
        tau = nhp_time_to(flow, pd[PD_E_LEFT])
        pd[PD_TAU] = tau
        if tau * NS_PER_S >= 4.0e18:
            t[T_NEXT] = NEVER
        else:
            t[T_NEXT] = t[T_LAST] + np.int64(math.ceil(tau * NS_PER_S))
    return t[T_NEXT]


@_kernel
def nhp_fire(flow, book, now, next_oid, last_mid2):
    """The event due at ``now``: ``(type, price, size, owner, target_oid)`` (lobkit.flows.nb)."""
    t = flow.times
    pd = flow.pending
    tau = pd[PD_TAU]
    K, M = flow.a.shape
    # the type: lambda_k(tau) / sum lambda(tau)
    lam = flow.scratch[3]
    total = 0.0
    for k in range(K):
        v = flow.mu[k]
        for m in range(M):
            v += flow.a[k, m] * math.exp(-flow.beta[k, m] * tau)
        lam[k] = v
        total += v
    target_u = pd[PD_U + 1] * total
    typ = K - 1
    run = 0.0
    for k in range(K):
        run += lam[k]
        if target_u < run:
            typ = k
            break
    cat, size_units = nhp_marks(flow, typ, pd[PD_U + 2], pd[PD_U + 3])
    distance = cat - 1
    D = flow.b_dist.shape[0]
    if cat == D - 1:  # the last category, "D - 2 ticks or more": the data's excess distance
        distance += np.int64(_quantile(flow.tail_q, pd[PD_U + 6]) + 0.5)
    p = flow.params
    owner = np.int64(pd[PD_U + 4] * p[P_N_BACKGROUND])
    price = 0
    size = 0
    target = -1
    sb = flow.shadow
    meta = sb.meta
    ev = typ if typ < N_EVENT_TYPES else -1
    if ev == EV_LIMIT_BUY or ev == EV_LIMIT_SELL:
        size = _lots(size_units, p[P_LOT_SIZE])
        has_bid = meta[M_NBID] > 0
        has_ask = meta[M_NASK] > 0
        bid = meta[M_BEST_BID] if has_bid else (meta[M_BEST_ASK] - 1 if has_ask else last_mid2 // 2 - 1)
        ask = meta[M_BEST_ASK] if has_ask else (meta[M_BEST_BID] + 1 if has_bid else (last_mid2 + 1) // 2 + 1)
        # inside the spread (category 0): the data's distance inside it (u_6), at most to one tick off the other side
        inside = 0
        if ask - bid >= 2:
            inside = np.int64(_quantile(flow.inside_q, pd[PD_U + 6]) + 0.5)
            if inside < 1:
                inside = 1
            elif inside > ask - bid - 1:
                inside = ask - bid - 1
        if ev == EV_LIMIT_BUY:
            price = bid - distance if distance >= 0 else bid + inside
            if has_ask and price > ask - 1:
                price = ask - 1
        else:
            price = ask + distance if distance >= 0 else ask - inside
            if has_bid and price < bid + 1:
                price = bid + 1
        if price < 1:
            price = 1
    elif ev == EV_MARKET_BUY or ev == EV_MARKET_SELL:
        size = _lots(size_units, p[P_LOT_SIZE])
    elif ev >= EV_CANCEL_BUY:
        target = _cancel_target(sb, ev - EV_CANCEL_BUY, distance, pd[PD_U + 5])
    # the same event on the shadow book (the loop sends it to the real book)
    if ev == EV_LIMIT_BUY or ev == EV_LIMIT_SELL:
        eng.limit_order(sb, BUY if ev == EV_LIMIT_BUY else SELL, price, size, next_oid, owner, now, 0)
    elif ev == EV_MARKET_BUY or ev == EV_MARKET_SELL:
        eng.market_order(sb, BUY if ev == EV_MARKET_BUY else SELL, size, next_oid, owner, now)
    elif ev >= EV_CANCEL_BUY and target >= 0:
        eng.cancel(sb, target)
    sb.meta[M_NFILLS] = 0  # its fills are not needed
    # the model sees the event as it drew it (its own history), then waits for the next one's uniforms
    dt_s = (now - t[T_LAST]) / NS_PER_S
    flow.last_marks[0] = dt_s
    flow.last_marks[1] = distance
    flow.last_marks[2] = size_units
    nhp_step(flow, typ, dt_s, distance, size_units)
    t[T_LAST] = now
    t[T_NEED_DRAW] = 1
    t[T_NEXT_TYPE] = ev
    if ev >= 0:
        flow.counts[ev] += 1
    return ev, price, size, owner, target


@_kernel
def nhp_seed_order(flow, book, oid, side):
    """An order of the initial book rests: it rests on the shadow book too (as much of it as rests)."""
    slot = eng.order_slot(book, oid)
    if slot == -1:
        return
    o = book.orders
    eng.limit_order(flow.shadow, side, o[slot, O_PRICE], o[slot, O_SIZE], oid, o[slot, O_OWNER], 0, 0)
    flow.shadow.meta[M_NFILLS] = 0


def _is_mine(flow) -> bool:
    return getattr(flow, "instance_class", None) is NHPState


@overload(flow_reschedule, inline="always")
def _reschedule_overload(flow, book, now, agent_flow):
    if _is_mine(flow):
        return lambda flow, book, now, agent_flow: nhp_reschedule(flow, book, now, agent_flow)


@overload(flow_fire, inline="always")
def _fire_overload(flow, book, now, next_oid, last_mid2):
    if _is_mine(flow):
        return lambda flow, book, now, next_oid, last_mid2: nhp_fire(flow, book, now, next_oid, last_mid2)


@overload(flow_seed_order, inline="always")
def _seed_overload(flow, book, oid, side):
    if _is_mine(flow):
        return lambda flow, book, oid, side: nhp_seed_order(flow, book, oid, side)


# ------------------------------------------------------------------------------------------------ the model
_MODELS: dict[tuple, tuple] = {}


def load_model_arrays(path: str) -> tuple[dict, dict]:
    """``(arrays, file metadata)`` of an ``nhp_background_trader.pth`` (see
    :func:`lobkit.training.nhp.export_arrays`), cached per file (path, size, mtime).

    Raises :class:`InputFormatError` naming the file for a missing or damaged file, another kind of file, or a model
    of another event set (the simulator's six order-book types are required)."""
    from pathlib import Path

    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise InputFormatError(path, None, "no such model file (train one with `lobkit train-nhp`)") from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MODELS:
        from lobkit.training.nhp import export_arrays
        from lobkit.training.nhp_training import load_nhp

        model, doc = load_nhp(path)
        cfg = model.cfg
        if cfg.n_types != N_EVENT_TYPES:
            raise InputFormatError(path, None, f"the model has {cfg.n_types} event types; the simulator needs the "
                                               f"{N_EVENT_TYPES} order-book types (a model of another event set, "
                                               f"trained on {doc.get('source', 'another source')})")
        _MODELS[key] = (export_arrays(model), {k: v for k, v in doc.items() if k != "model"})
    return _MODELS[key]


@register_flow
class NeuralFlow(FlowModel):
    """The learned flow of a trained neural Hawkes model (module docstring); ``path``: its
    ``nhp_background_trader.pth``; ``params``: :class:`NHPParams`."""

    name = "nhp"
    Params = NHPParams
    needs_path = True

    @classmethod
    def default_params(cls, path: str | None = None) -> NHPParams:
        load_model_arrays(path)  # a bad file is refused when the configuration is made, not when it runs
        return NHPParams()

    @classmethod
    def market_defaults(cls, path: str | None = None) -> dict:
        """The tick and lot size of the model's training data, when its file records them."""
        _, doc = load_model_arrays(path)
        return dict(doc.get("market") or {})

    @property
    def lot_size(self) -> float:
        """The data's size units per lot: the market's ``lot_size`` (1.0 without a market)."""
        return float(self.market.lot_size) if self.market is not None else 1.0

    def state(self, seed: np.random.SeedSequence, *, n_background: int, capacity: int, tick_size: float,
              initial_mid_ticks: float):
        arrays, _ = load_model_arrays(self.path)
        w = {k: v.copy() for k, v in arrays.items()}
        H = w["h0"].shape[0]
        K, M = w["beta"].shape
        D = w["b_dist"].shape[0]
        window = int(self.market.window) if self.market is not None else 1 << 13
        quantiles = load_model_arrays(self.path)[1].get("distance_quantiles") or {}
        params = np.zeros(P_LEN)
        params[P_N_BACKGROUND] = n_background
        params[P_LOT_SIZE] = self.lot_size
        params[P_FEEDBACK] = 1.0 if self.params.agent_feedback else 0.0
        times = np.zeros(T_LEN, np.int64)
        times[T_NEED_DRAW] = 1
        times[T_NEXT] = NEVER
        times[T_NEXT_TYPE] = -1
        state = NHPState(
            params=params, gi_type=w["gi_type"], w_feat=w["w_feat"], w_hh=w["w_hh"], b_hh=w["b_hh"],
            w_base=w["w_base"], b_base=w["b_base"], w_jump=w["w_jump"], b_jump=w["b_jump"], beta=w["beta"],
            w_mark=w["w_mark"], mark_type=w["mark_type"], w_dist=w["w_dist"], b_dist=w["b_dist"],
            w_size=w["w_size"], b_size=w["b_size"], h=w["h0"].copy(), mu=np.zeros(K), a=np.zeros((K, M)),
            scratch=np.zeros((4, max(3 * H, D, N_FEATURES, K))), times=times, pending=np.zeros(PD_LEN),
            stream=rng_state(child(seed, 0)), counts=np.zeros(N_EVENT_TYPES, np.int64),
            agent_events=np.zeros(1, np.int64), last_marks=np.zeros(3),
            inside_q=np.asarray(quantiles.get("inside", [1.0]), np.float64),
            tail_q=np.asarray(quantiles.get("tail", [0.0]), np.float64),
            shadow=alloc_state(capacity, window, capacity + 64, base_price=int(initial_mid_ticks) - window // 2))
        nhp_intensity_params(state)
        return state

    def initial_sizes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Sizes of a generated initial book: the model's limit-order sizes at its initial state, in lots."""
        arrays, _ = load_model_arrays(self.path)
        z = np.tanh(arrays["w_mark"] @ arrays["h0"] + arrays["mark_type"][EV_LIMIT_BUY])
        loc, s = arrays["w_size"] @ z + arrays["b_size"]
        scale = float(np.logaddexp(0.0, s)) + 1e-3
        units = np.exp(loc + scale * rng.standard_normal(n))
        return np.clip(np.rint(units / self.lot_size), 1, MAX_LOTS).astype(np.int64)

    def summary(self, state) -> dict:
        from lobkit.flows.nb import EVENT_NAMES

        out = {f"events_{name}": int(state.counts[k]) for k, name in enumerate(EVENT_NAMES)}
        out["agent_events_fed"] = int(state.agent_events[0])
        return out
