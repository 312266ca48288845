"""The jitted kernels of the learned order flow (``--flow nhp:PATH``): the neural Hawkes model's GRU step, intensity,
sampler and mark head in Numba, and the three functions of :mod:`lobkit.flows.nb` for its state. The model class
that loads a trained file and builds the state is :mod:`lobkit.flows.neural` (read its docstring for the model, the
sampling and the mapping of events to orders)."""

from __future__ import annotations

import math

import numpy as np

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
)
from lobkit.flows.base import flow_state_type, implement_flow
from lobkit.flows.nb import (
    EV_CANCEL_BUY,
    EV_LIMIT_BUY,
    EV_LIMIT_SELL,
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    N_EVENT_TYPES,
    NEVER,
)
from lobkit.sim.rng import uniform

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
P_LEN = 3

# times: int64[T_LEN]
T_LAST = 0  # time of the last event the model has seen (ns)
T_NEXT = 1  # time of the next background event (ns), NEVER if none
T_NEED_DRAW = 2  # 1: the next event's uniforms are still to draw
T_LEN = 3

# pending: float64[PD_LEN], the next background event's random numbers and its exact time
PD_U = 0  # PD_U .. PD_U + 6: the seven uniforms
PD_E_LEFT = 7  # the part of its exponential threshold the compensator has not yet reached since T_LAST
PD_TAU = 8  # its time after T_LAST (seconds, exact: the ns time is rounded up)
PD_LEN = 9


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
    cat = _categorical(logits, D, u_distance * total)
    loc = flow.b_size[0]
    s = flow.b_size[1]
    for j in range(H):
        loc += flow.w_size[0, j] * z[j]
        s += flow.w_size[1, j] * z[j]
    scale = _softplus(s) + 1e-3
    return cat, math.exp(loc + scale * _normal_quantile(u_size))


@_inline
def _categorical(weights, n, target):
    """The first index ``i < n`` whose running sum of ``weights`` passes ``target`` (inversion of a categorical
    distribution: ``target`` is a uniform times the total); ``n - 1`` if rounding leaves it short."""
    run = 0.0
    for i in range(n):
        run += weights[i]
        if target < run:
            return i
    return n - 1


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
    away = -1 if s == 0 else 1  # the direction away from the touch
    j0 = min(max(best + away * max(distance, 0), 0), width - 1)
    # from the level at the distance outwards (deeper), then back towards the touch (the level searches return -1
    # past either end of the window)
    j = _occupied_from(book, s, j0, away)
    for _ in range(SCAN_LEVELS):
        if j < 0:
            break
        oid = _background_order_at(book, s, j, u)
        if oid >= 0:
            return oid
        j = _occupied_from(book, s, j + away, away)
    j = _occupied_from(book, s, j0 - away, -away)
    for _ in range(SCAN_LEVELS):
        if j < 0 or (j - best) * away < 0:
            break
        oid = _background_order_at(book, s, j, u)
        if oid >= 0:
            return oid
        j = _occupied_from(book, s, j - away, -away)
    return -1


@_inline
def _occupied_from(book, s, j, step):
    """The first occupied level index of side ``s`` from ``j`` in the direction ``step`` (+1 up, -1 down), or -1."""
    return eng.level_above(book, s, j) if step > 0 else eng.level_below(book, s, j)


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
    typ = _categorical(lam, K, pd[PD_U + 1] * total)
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
    if EV_LIMIT_BUY <= ev <= EV_LIMIT_SELL:
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
    elif EV_MARKET_BUY <= ev <= EV_MARKET_SELL:
        size = _lots(size_units, p[P_LOT_SIZE])
    elif ev >= EV_CANCEL_BUY:
        target = _cancel_target(sb, ev - EV_CANCEL_BUY, distance, pd[PD_U + 5])
    # the same event on the shadow book (the loop sends it to the real book)
    if EV_LIMIT_BUY <= ev <= EV_LIMIT_SELL:
        eng.limit_order(sb, BUY if ev == EV_LIMIT_BUY else SELL, price, size, next_oid, owner, now, 0)
    elif EV_MARKET_BUY <= ev <= EV_MARKET_SELL:
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


implement_flow(NHPState, nhp_reschedule, nhp_fire, nhp_seed_order)


