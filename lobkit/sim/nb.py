"""The jitted simulation loop: background flow, agents, matching (engine kernels), accounting, recording.

One run's state is a :class:`SimState` (a NamedTuple of preallocated arrays) next to the engine's
:class:`~lobkit.engine.state.BookState`. :func:`run_until` advances the simulation in simulated time and returns
a reason code:

* ``R_DONE``: nothing is left before ``t_stop`` (the next item is at or after it; call again with a later stop);
* ``R_DECISION``: a Python agent (``ag[a, AG_KIND] == AG_PYTHON``) must decide now; ``sv[SV_PENDING]`` is its
  index. The caller runs its ``act``, submits its orders with :func:`agent_submit` / :func:`agent_cancel`,
  moves ``ag[a, AG_NEXT_DEC]`` on and calls again: the loop resumes exactly where it stopped;
* ``R_FLUSH``: the order or trade log is nearly full; the caller copies it out, resets the counters, calls again.

Where and how much it stops changes nothing: all state is in the arrays, so chunked runs (progress bars, Python
agents) give the same result to the bit as one call.

Order of simultaneous items at one nanosecond: grid sample, then agents' decisions (by agent index), then the
background event. Randomness: exactly six uniforms per background event (two for the next event's time, three
for its type and marks, one for its owner or the cancelled order), none for agents, so two runs with the same
seed share their background randomness event by event (common random numbers).

Background base rates depend on the book; they are evaluated at background events (an agent's action takes
effect on the rates from the next background event on).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lobkit._jit import kernel as _fn  # noqa: E402  (no reference counting: see lobkit/_jit.py)
from lobkit._jit import kernel_inline as _inline  # noqa: E402
from lobkit.agents.nb import (
    AG_INTERVAL,
    AG_KIND,
    AG_MOMENTUM,
    AG_NEXT_DEC,
    AG_NEXT_OID,
    AG_OFFSET,
    AG_OTYPE,
    AG_PYTHON,
    AG_RESTING,
    EV_CANCEL_BUY,
    EV_LIMIT_BUY,
    EV_LIMIT_SELL,
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    NO_TRADE,
    OTYPE_MARKET,
    flow_event,
    flow_next_dt,
    momentum_decide,
)
from lobkit.engine import nb as eng
from lobkit.engine.messages import BUY, OK, OP_CANCEL, OP_LIMIT, OP_MARKET, SELL
from lobkit.engine.state import (
    F_AGGR,
    F_MAKER_OWNER,
    F_PRICE,
    F_SIZE,
    F_TAKER_OWNER,
    F_TS,
    LV_VOL,
    M_BASE,
    M_BEST_ASK,
    M_BEST_BID,
    M_NASK,
    M_NBID,
    M_NFILLS,
    M_TOTAL_VOLUME,
    O_OWNER,
)
from lobkit.sim.rng import uniform

# reasons returned by run_until
R_DONE = 0
R_DECISION = 1
R_FLUSH = 2

# sv: the loop's integer scalars
SV_NOW = 0  # simulated time reached (ns)
SV_NEXT_EV = 1  # time of the pending background event
SV_LAST_EV = 2  # time of the last background event
SV_NEXT_OID = 3  # next background order id
SV_N_EVENTS = 4  # background events processed
SV_NEXT_SAMPLE = 5
SV_N_SAMPLES = 6
SV_SAMPLE_NS = 7
SV_LAST_MID2 = 8  # last two-sided mid, bid + ask (half-ticks)
SV_NLIVE_B = 9  # entries in live[0] (background bids; filled ones leave lazily)
SV_NLIVE_S = 10
SV_N_AGENTS = 11
SV_N_BG = 12
SV_RECORD = 13
SV_N_REC_O = 14
SV_N_REC_T = 15
SV_PENDING = 16  # index of the Python agent whose decision is due
SV_N_TRADES = 17  # fills since the start (also the recent-trades ring position)
SV_END = 18  # end of the run: no decisions at or after it
SV_N_REJECTED = 19  # background orders the engine rejected (capacity, price window)
SV_UNFILLED = 20  # market-order lots that found no liquidity (background and agents)
SV_FLOW_KIND = 21
SV_N_EMPTY = 22  # background events after which a side of the book was empty
SV_LEN = 32

# acc: int64 accounts per owner (agents first, then background accounts)
A_CASH = 0  # ticks x lots
A_INV = 1  # lots
A_NFILLS = 2
A_VOL = 3
A_COLS = 4
# accf: float64 accounts per owner
AF_FEES = 0  # ticks x lots
AF_REALISED = 1  # ticks x lots, average-cost method
AF_OPEN_COST = 2  # ticks x lots, signed cost of the open position
AF_COLS = 4
# agf: agents' fee parameters
GF_FEE_LOT = 0  # ticks per lot
GF_FEE_RATE = 1  # fraction of notional (bps x 1e-4)
GF_COLS = 2

# ro: order log rows (MESSAGE_DTYPE's fields, then status and lots filled / cancelled)
RO_TS, RO_OP, RO_SIDE, RO_FLAGS, RO_PRICE, RO_SIZE, RO_OID, RO_OWNER, RO_STATUS, RO_QTY = range(10)
RO_COLS = 10
# gi: market sampling grid
G_T, G_BID, G_ASK, G_BVOL, G_AVOL, G_NBID, G_NASK, G_NEVENTS, G_VOLUME, G_MID2 = range(10)
G_COLS = 10
# ga: per-agent sampling grid (float64): cash, inventory, fees, realised
GA_CASH, GA_INV, GA_FEES, GA_REALISED = range(4)
GA_COLS = 4
RECENT = 64  # the recent-trades ring: ts, price, size, aggressor
UNIFORMS_PER_EVENT = 6


class SimState(NamedTuple):
    """The loop's arrays (all preallocated; see the ``SV_*``, ``A_*``, ``AG_*``, ... column constants)."""

    sv: np.ndarray  # int64[SV_LEN]
    rng: np.ndarray  # uint64[4] xoshiro256** state of the background flow
    fp: np.ndarray  # float64[FP_LEN] flow parameters
    alpha: np.ndarray  # float64[6, 6] flow kernel jumps
    fs: np.ndarray  # float64[FS_LEN] flow state
    live: np.ndarray  # int64[2, L] ids of background orders that may be resting, per side
    acc: np.ndarray  # int64[n_owners, A_COLS]
    accf: np.ndarray  # float64[n_owners, AF_COLS]
    ag: np.ndarray  # int64[n_agents, AG_COLS]
    agf: np.ndarray  # float64[n_agents, GF_COLS]
    hist: np.ndarray  # int64[n_agents, H]
    ro: np.ndarray  # int64[R, RO_COLS]
    rt: np.ndarray  # int64[T, 8]
    gi: np.ndarray  # int64[G, G_COLS]
    ga: np.ndarray  # float64[G, n_agents, GA_COLS]
    recent: np.ndarray  # int64[RECENT, 4]


# ------------------------------------------------------------------------------------------------ accounting
@_inline
def _book_fill(sm, owner, q, price, fee):
    """Account a fill of ``q`` lots (signed: + bought) at ``price`` for ``owner``, with ``fee``."""
    acc = sm.acc
    accf = sm.accf
    inv = acc[owner, A_INV]
    acc[owner, A_CASH] -= q * price
    cost = accf[owner, AF_OPEN_COST]
    new_inv = inv + q
    if inv == 0 or (inv > 0) == (q > 0):
        accf[owner, AF_OPEN_COST] = cost + q * price
    else:
        avg = cost / inv
        close = min(abs(q), abs(inv))
        sgn = 1.0 if inv > 0 else -1.0
        accf[owner, AF_REALISED] += (price - avg) * close * sgn
        if new_inv == 0:
            accf[owner, AF_OPEN_COST] = 0.0
        elif (new_inv > 0) != (inv > 0):
            accf[owner, AF_OPEN_COST] = new_inv * float(price)
        else:
            accf[owner, AF_OPEN_COST] = avg * new_inv
    acc[owner, A_INV] = new_inv
    acc[owner, A_NFILLS] += 1
    acc[owner, A_VOL] += abs(q)
    accf[owner, AF_FEES] += fee


@_inline
def _fee(sm, owner, size, price):
    if owner < sm.sv[SV_N_AGENTS]:
        return size * sm.agf[owner, GF_FEE_LOT] + (size * price) * sm.agf[owner, GF_FEE_RATE]
    return 0.0


@_fn
def drain_fills(st, sm):
    """Account every fill in the engine's buffer, log it (if recording), and empty the buffer."""
    nf = st.meta[M_NFILLS]
    fills = st.fills
    sv = sm.sv
    record = sv[SV_RECORD] != 0
    for i in range(nf):
        price = fills[i, F_PRICE]
        size = fills[i, F_SIZE]
        maker = fills[i, F_MAKER_OWNER]
        taker = fills[i, F_TAKER_OWNER]
        if fills[i, F_AGGR] == BUY:
            buyer = taker
            seller = maker
        else:
            buyer = maker
            seller = taker
        _book_fill(sm, buyer, size, price, _fee(sm, buyer, size, price))
        _book_fill(sm, seller, -size, price, _fee(sm, seller, size, price))
        r = sv[SV_N_TRADES] % RECENT
        sm.recent[r, 0] = fills[i, F_TS]
        sm.recent[r, 1] = price
        sm.recent[r, 2] = size
        sm.recent[r, 3] = fills[i, F_AGGR]
        sv[SV_N_TRADES] += 1
        if record:
            k = sv[SV_N_REC_T]
            for c in range(8):
                sm.rt[k, c] = fills[i, c]
            sv[SV_N_REC_T] = k + 1
    st.meta[M_NFILLS] = 0


@_inline
def _log_order(sm, ts, op, side, flags, price, size, oid, owner, status, qty):
    sv = sm.sv
    if sv[SV_RECORD] != 0:
        k = sv[SV_N_REC_O]
        ro = sm.ro
        ro[k, RO_TS] = ts
        ro[k, RO_OP] = op
        ro[k, RO_SIDE] = side
        ro[k, RO_FLAGS] = flags
        ro[k, RO_PRICE] = price
        ro[k, RO_SIZE] = size
        ro[k, RO_OID] = oid
        ro[k, RO_OWNER] = owner
        ro[k, RO_STATUS] = status
        ro[k, RO_QTY] = qty
        sv[SV_N_REC_O] = k + 1


@_inline
def mid2_of(st, sm):
    """Bid + ask in half-ticks; the last two-sided value when a side is empty."""
    if st.meta[M_NBID] > 0 and st.meta[M_NASK] > 0:
        return st.meta[M_BEST_BID] + st.meta[M_BEST_ASK]
    return sm.sv[SV_LAST_MID2]


# ------------------------------------------------------------------------------------------------ agents' orders
@_fn
def agent_submit(st, sm, a, op, side, price, size, flags, t):
    """Send one order of agent ``a`` (``OP_MARKET`` or ``OP_LIMIT``) at time ``t``. Returns (status, filled, oid).

    The order id comes from the agent's own counter, fills are accounted at once (fees included), and the order
    is logged when recording. The same function serves jitted and Python agents, so both give identical books.
    """
    oid = sm.ag[a, AG_NEXT_OID]
    sm.ag[a, AG_NEXT_OID] = oid + 1
    if op == OP_MARKET:
        status, q = eng.market_order(st, side, size, oid, a, t)
        if status == OK:
            sm.sv[SV_UNFILLED] += size - q
    else:
        status, q = eng.limit_order(st, side, price, size, oid, a, t, flags)
    _log_order(sm, t, op, side, flags, price, size, oid, a, status, q)
    drain_fills(st, sm)
    _after_change(st, sm)
    return status, q, oid


@_fn
def agent_cancel(st, sm, a, oid, t):
    """Cancel a resting order of agent ``a``. Returns (status, lots cancelled); unknown ids change nothing."""
    status, q = eng.cancel(st, oid)
    if status == OK:
        _log_order(sm, t, OP_CANCEL, 0, 0, 0, q, oid, a, status, q)
        _after_change(st, sm)
    return status, q


@_inline
def _after_change(st, sm):
    if st.meta[M_NBID] > 0 and st.meta[M_NASK] > 0:
        sm.sv[SV_LAST_MID2] = st.meta[M_BEST_BID] + st.meta[M_BEST_ASK]


@_fn
def trade_to(st, sm, a, target, t):
    """Move agent ``a`` toward position ``target``: cancel its resting order, then one market or marketable
    limit order for the difference (limit: ``AG_OFFSET`` ticks through the touch; the rest rests)."""
    ag = sm.ag
    if ag[a, AG_RESTING] != -1:
        agent_cancel(st, sm, a, ag[a, AG_RESTING], t)
        ag[a, AG_RESTING] = -1
    q = target - sm.acc[a, A_INV]
    if q == 0:
        return
    side = BUY if q > 0 else SELL
    size = abs(q)
    if ag[a, AG_OTYPE] == OTYPE_MARKET:
        agent_submit(st, sm, a, OP_MARKET, side, 0, size, 0, t)
        return
    meta = st.meta
    if side == BUY:
        if meta[M_NASK] == 0:
            return
        price = meta[M_BEST_ASK] + ag[a, AG_OFFSET]
    else:
        if meta[M_NBID] == 0:
            return
        price = meta[M_BEST_BID] - ag[a, AG_OFFSET]
    status, filled, oid = agent_submit(st, sm, a, OP_LIMIT, side, price, size, 0, t)
    if status == OK and filled < size:
        ag[a, AG_RESTING] = oid


# ------------------------------------------------------------------------------------------------ grid
@_fn
def take_sample(st, sm, t):
    """Write one row of the sampling grid at time ``t``."""
    sv = sm.sv
    k = sv[SV_N_SAMPLES]
    gi = sm.gi
    meta = st.meta
    gi[k, G_T] = t
    gi[k, G_BID] = meta[M_BEST_BID]
    gi[k, G_ASK] = meta[M_BEST_ASK]
    base = meta[M_BASE]
    gi[k, G_BVOL] = st.lv[LV_VOL, 0, meta[M_BEST_BID] - base] if meta[M_NBID] > 0 else 0
    gi[k, G_AVOL] = st.lv[LV_VOL, 1, meta[M_BEST_ASK] - base] if meta[M_NASK] > 0 else 0
    gi[k, G_NBID] = meta[M_NBID]
    gi[k, G_NASK] = meta[M_NASK]
    gi[k, G_NEVENTS] = sv[SV_N_EVENTS]
    gi[k, G_VOLUME] = meta[M_TOTAL_VOLUME]
    gi[k, G_MID2] = mid2_of(st, sm)
    for a in range(sv[SV_N_AGENTS]):
        sm.ga[k, a, GA_CASH] = sm.acc[a, A_CASH]
        sm.ga[k, a, GA_INV] = sm.acc[a, A_INV]
        sm.ga[k, a, GA_FEES] = sm.accf[a, AF_FEES]
        sm.ga[k, a, GA_REALISED] = sm.accf[a, AF_REALISED]
    sv[SV_N_SAMPLES] = k + 1


# ------------------------------------------------------------------------------------------------ background
@_inline
def _add_live(st, sm, s, oid):
    sv = sm.sv
    live = sm.live
    n = sv[SV_NLIVE_B + s]
    if n == live.shape[1]:  # full of dead entries: keep those still resting
        m = 0
        for i in range(n):
            if eng.order_slot(st, live[s, i]) != -1:
                live[s, m] = live[s, i]
                m += 1
        n = m
    live[s, n] = oid
    sv[SV_NLIVE_B + s] = n + 1


@_inline
def _cancel_random(st, sm, s, u, t):
    """Cancel a uniformly chosen resting background order of side index s (filled entries leave as found)."""
    sv = sm.sv
    live = sm.live
    n = sv[SV_NLIVE_B + s]
    while n > 0:
        i = np.int64(u * n)
        oid = live[s, i]
        n -= 1
        live[s, i] = live[s, n]
        slot = eng.order_slot(st, oid)
        if slot != -1:
            owner = st.orders[slot, O_OWNER]
            status, q = eng.cancel(st, oid)
            _log_order(sm, t, OP_CANCEL, BUY if s == 0 else SELL, 0, 0, q, oid, owner, status, q)
            break
    sv[SV_NLIVE_B + s] = n


@_fn
def background_event(st, sm, t):
    """Process the pending background event at time ``t`` and sample the time of the next one."""
    sv = sm.sv
    rng = sm.rng
    u3 = uniform(rng)
    u4 = uniform(rng)
    u5 = uniform(rng)
    u6 = uniform(rng)
    kind = sv[SV_FLOW_KIND]
    typ, dist, size = flow_event(kind, sm.fp, sm.alpha, sm.fs, st, t - sv[SV_LAST_EV], u3, u4, u5)
    meta = st.meta
    owner = sv[SV_N_AGENTS] + np.int64(u6 * sv[SV_N_BG])
    if typ <= EV_LIMIT_SELL:
        if typ == EV_LIMIT_BUY:
            side = BUY
            s = 0
            opp = meta[M_BEST_ASK] if meta[M_NASK] > 0 else (sv[SV_LAST_MID2] + 1) // 2 + 1
            price = opp - dist
        else:
            side = SELL
            s = 1
            opp = meta[M_BEST_BID] if meta[M_NBID] > 0 else sv[SV_LAST_MID2] // 2 - 1
            price = opp + dist
        oid = sv[SV_NEXT_OID]
        sv[SV_NEXT_OID] = oid + 1
        status, q = eng.limit_order(st, side, price, size, oid, owner, t, 0)
        _log_order(sm, t, OP_LIMIT, side, 0, price, size, oid, owner, status, q)
        if status == OK:
            _add_live(st, sm, s, oid)
            if q > 0:
                drain_fills(st, sm)
        else:
            sv[SV_N_REJECTED] += 1
    elif typ <= EV_MARKET_SELL:
        side = BUY if typ == EV_MARKET_BUY else SELL
        oid = sv[SV_NEXT_OID]
        sv[SV_NEXT_OID] = oid + 1
        status, q = eng.market_order(st, side, size, oid, owner, t)
        _log_order(sm, t, OP_MARKET, side, 0, 0, size, oid, owner, status, q)
        if status == OK:
            sv[SV_UNFILLED] += size - q
            drain_fills(st, sm)
        else:
            sv[SV_N_REJECTED] += 1
    else:
        s = 0 if typ == EV_CANCEL_BUY else 1
        _cancel_random(st, sm, s, u6, t)
    if meta[M_NBID] > 0 and meta[M_NASK] > 0:
        sv[SV_LAST_MID2] = meta[M_BEST_BID] + meta[M_BEST_ASK]
    else:
        sv[SV_N_EMPTY] += 1
    sv[SV_N_EVENTS] += 1
    sv[SV_LAST_EV] = t
    u1 = uniform(rng)
    u2 = uniform(rng)
    sv[SV_NEXT_EV] = t + flow_next_dt(kind, sm.fp, sm.fs, st, u1, u2)


@_fn
def schedule_first_event(st, sm, t):
    """Sample the first background event's time after ``t`` (two uniforms)."""
    sv = sm.sv
    sv[SV_LAST_EV] = t
    u1 = uniform(sm.rng)
    u2 = uniform(sm.rng)
    sv[SV_NEXT_EV] = t + flow_next_dt(sv[SV_FLOW_KIND], sm.fp, sm.fs, st, u1, u2)


# ------------------------------------------------------------------------------------------------ the loop
@_fn
def run_until(st, sm, t_stop):
    """Advance the simulation through every item strictly before ``t_stop``. Returns a reason code (see top)."""
    sv = sm.sv
    ag = sm.ag
    n_agents = sv[SV_N_AGENTS]
    end = sv[SV_END]
    rec = sv[SV_RECORD] != 0
    cap_o = sm.ro.shape[0]
    cap_t = sm.rt.shape[0]
    # the next decision time over all agents (recomputed only after a decision)
    t_dec = end
    for a in range(n_agents):
        if ag[a, AG_NEXT_DEC] < t_dec:
            t_dec = ag[a, AG_NEXT_DEC]
    while True:
        t_ev = sv[SV_NEXT_EV]
        t_smp = sv[SV_NEXT_SAMPLE]
        t = t_ev
        if t_dec < t:
            t = t_dec
        if t_smp < t:
            t = t_smp
        if t >= t_stop:
            sv[SV_NOW] = t_stop
            return R_DONE
        sv[SV_NOW] = t
        if t_smp == t:
            take_sample(st, sm, t)
            sv[SV_NEXT_SAMPLE] = t_smp + sv[SV_SAMPLE_NS]  # the row at the end is taken by the caller
            continue
        if rec and (
            sv[SV_N_REC_O] + 4 > cap_o or sv[SV_N_REC_T] + st.meta[M_NBID] + st.meta[M_NASK] + 2 > cap_t
        ):
            return R_FLUSH
        if t_dec == t:
            for a in range(n_agents):
                if ag[a, AG_NEXT_DEC] != t:
                    continue
                kind = ag[a, AG_KIND]
                if kind == AG_PYTHON:
                    sv[SV_PENDING] = a
                    return R_DECISION
                if kind == AG_MOMENTUM:
                    target = momentum_decide(ag, sm.hist, a, mid2_of(st, sm))
                    if target != NO_TRADE:
                        trade_to(st, sm, a, target, t)
                ag[a, AG_NEXT_DEC] = t + ag[a, AG_INTERVAL]
                if rec and (sv[SV_N_REC_O] + 4 > cap_o or sv[SV_N_REC_T] + st.meta[M_NBID] + st.meta[M_NASK] + 2
                            > cap_t):
                    break
            t_dec = end
            for a in range(n_agents):
                if ag[a, AG_NEXT_DEC] < t_dec:
                    t_dec = ag[a, AG_NEXT_DEC]
            continue
        background_event(st, sm, t)


@_fn
def seed_book(st, sm, side, price, size, owner):
    """Place the initial book (background limit orders at t = 0). Returns how many the engine rejected."""
    bad = 0
    for i in range(side.shape[0]):
        oid = sm.sv[SV_NEXT_OID]
        sm.sv[SV_NEXT_OID] = oid + 1
        status, q = eng.limit_order(st, side[i], price[i], size[i], oid, owner[i], 0, 0)
        _log_order(sm, 0, OP_LIMIT, side[i], 0, price[i], size[i], oid, owner[i], status, q)
        if status == OK:
            if q < size[i]:
                _add_live(st, sm, 0 if side[i] == BUY else 1, oid)
            if q > 0:
                drain_fills(st, sm)
        else:
            bad += 1
    _after_change(st, sm)
    return bad
