"""The jitted simulation loop: background flow, agents, matching (engine kernels), accounting, recording.

One run's state is a :class:`SimState` (a NamedTuple of preallocated arrays) next to the engine's
:class:`~lobkit.engine.state.BookState` and the order-flow model's own state (a NamedTuple of its arrays, see
:mod:`lobkit.flows.nb`). :func:`run_until` advances the simulation in simulated time and returns a reason code:

* ``R_DONE``: nothing is left before ``t_stop`` (the next item is at or after it; call again with a later stop);
* ``R_DECISION``: a Python agent (kind ``AG_PYTHON``) must decide now; ``scalars[S_PENDING_AGENT]`` is its
  index. The caller runs its ``act``, submits its orders with :func:`agent_submit` / :func:`agent_cancel`,
  moves its next decision time on and calls again: the loop resumes exactly where it stopped;
* ``R_FLUSH``: the order or trade log is nearly full; the caller copies it out, resets the counters, calls again.

Where and how often it stops changes nothing: all state is in the arrays, so chunked runs (progress bars, Python
agents) give the same result to the bit as one call.

Order of simultaneous items at one nanosecond: grid sample, then agents' decisions (by agent index), then the
background event. After an agent changed the book the flow model is rescheduled (:func:`lobkit.flows.nb.
flow_reschedule`): the background rates react at once, and no random number is consumed, so a run with the agent
and one without it share their background randomness event by event (common random numbers, coupled).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lobkit._jit import kernel as _fn  # noqa: E402  (no reference counting: see lobkit/_jit.py)
from lobkit._jit import kernel_inline as _inline  # noqa: E402
from lobkit._jit import kernel_nogil as _fn_nogil  # noqa: E402
from lobkit.agents.nb import (
    AG_INTERVAL,
    AG_KIND,
    AG_N_REJECTED,
    AG_NEXT_DEC,
    AG_NEXT_OID,
    AG_OFFSET,
    AG_ORDER_TYPE,
    AG_PAPER,
    AG_PYTHON,
    AG_REPLAY,
    AG_RESTING,
    AG_SCHEDULE_END,
    AG_SCHEDULE_POS,
    NO_TRADE,
    ORDER_TYPE_MARKET,
    SCH_OP,
    SCH_PRICE,
    SCH_SIDE,
    SCH_SIZE,
    SCH_T,
    target_position,
)
from lobkit.engine import nb as eng
from lobkit.engine.messages import BUY, ERR_UNKNOWN_ID, OK, OP_CANCEL, OP_LIMIT, OP_MARKET, SELL
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
    O_SIDE,
)
from lobkit.flows.nb import (
    EV_CANCEL_BUY,
    EV_CANCEL_SELL,
    EV_LIMIT_BUY,
    EV_LIMIT_SELL,
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    flow_fire,
    flow_reschedule,
    flow_seed_order,
)

# reasons returned by run_until
R_DONE = 0
R_DECISION = 1
R_FLUSH = 2

# scalars: the loop's int64 scalars
S_NOW = 0  # simulated time reached (ns)
S_NEXT_EVENT = 1  # time of the next background event (ns)
S_NEXT_OID = 2  # next background order id
S_N_EVENTS = 3  # background events processed
S_NEXT_SAMPLE = 4  # time of the next row of the sampling grid
S_N_SAMPLES = 5  # rows of the grid written
S_SAMPLE_NS = 6  # the grid's step
S_LAST_MID2 = 7  # last two-sided mid, bid + ask (half-ticks)
S_N_AGENTS = 8
S_N_BACKGROUND = 9  # background accounts
S_RECORD = 10  # 1: keep the order and trade logs
S_N_LOGGED_ORDERS = 11  # rows of the order log in use
S_N_LOGGED_TRADES = 12  # rows of the trade log in use
S_PENDING_AGENT = 13  # index of the Python agent whose decision is due
S_N_TRADES = 14  # fills since the start (also the recent-trades ring position)
S_END = 15  # end of the run: no decisions at or after it
S_N_REJECTED = 16  # background orders the engine rejected (capacity, price)
S_UNFILLED_LOTS = 17  # market-order lots that found no liquidity (background and agents)
S_N_EMPTY_AFTER_EVENT = 18  # background events after which a side of the book was empty
S_BOOK_CHANGED = 19  # an agent changed the book since the flow was last rescheduled
S_ACCOUNT_OVERFLOW = 20  # 1: an account's cash left the range the int64 accounting keeps exact
S_N_CANCEL_GONE = 21  # background cancellations whose order no longer rested
S_AGENT_FLOW = 22  # signed lots the agents took as aggressors since the flow was last rescheduled
S_N_AGENT_LOGGED = 23  # rows of the agents' order log in use
S_LEN = 32

# accounts: int64[n_owners, ACCOUNT_COLS] per owner (agents first, then background accounts)
A_CASH = 0  # ticks x lots
A_INVENTORY = 1  # lots
A_FILLS = 2
A_VOLUME = 3  # lots traded
ACCOUNT_COLS = 4
# account_costs: float64[n_owners, COST_COLS]
C_FEES = 0  # ticks x lots
C_REALISED = 1  # ticks x lots, average-cost method
C_OPEN_COST = 2  # ticks x lots, signed cost of the open position
COST_COLS = 4
# agent_fees: float64[n_agents, FEE_COLS]
FEE_PER_LOT = 0  # ticks per lot
FEE_RATE = 1  # fraction of notional (bps x 1e-4)
FEE_COLS = 2

# order_log: int64[R, LOG_COLS] rows (MESSAGE_DTYPE's fields, then status and lots filled / cancelled)
LOG_TS, LOG_OP, LOG_SIDE, LOG_FLAGS, LOG_PRICE, LOG_SIZE, LOG_OID, LOG_OWNER, LOG_STATUS, LOG_QTY = range(10)
LOG_COLS = 10
ORDER_LOG_NAMES = ("ts", "op", "side", "flags", "price", "size", "oid", "owner", "status", "qty")
# agent_log: int64[K, LOG_COLS], the agents' own orders (the same columns), kept even without recording
# grid: int64[G, GRID_COLS], the market on the sampling grid
G_T, G_BID, G_ASK, G_BID_SIZE, G_ASK_SIZE, G_BID_ORDERS, G_ASK_ORDERS, G_EVENTS, G_VOLUME, G_MID2 = range(10)
GRID_COLS = 10
# agent_grid: float64[G, n_agents, AGENT_GRID_COLS]: cash, inventory, fees, realised (ticks x lots)
AG_GRID_CASH, AG_GRID_INVENTORY, AG_GRID_FEES, AG_GRID_REALISED = range(4)
AGENT_GRID_COLS = 4
# recent_trades: int64[RECENT, RECENT_COLS], a ring of the latest fills
RECENT = 64
RT_TS, RT_PRICE, RT_SIZE, RT_AGGRESSOR = range(4)
RECENT_COLS = 4

CASH_LIMIT = 1 << 62  # |cash| beyond this (ticks x lots) flags S_ACCOUNT_OVERFLOW


class SimState(NamedTuple):
    """The loop's arrays, all preallocated (columns: the ``S_*``, ``A_*``, ``C_*``, ``AG_*``, ``LOG_*``, ``G_*``
    constants of this module and of :mod:`lobkit.agents.nb`)."""

    scalars: np.ndarray  # int64[S_LEN]
    accounts: np.ndarray  # int64[n_owners, ACCOUNT_COLS]
    account_costs: np.ndarray  # float64[n_owners, COST_COLS]
    agents: np.ndarray  # int64[n_agents, AG_COLS]: the agent table
    agent_fees: np.ndarray  # float64[n_agents, FEE_COLS]
    mid_history: np.ndarray  # int64[n_agents, H]: each momentum agent's ring of sampled mids (half-ticks)
    order_log: np.ndarray  # int64[R, LOG_COLS]
    trade_log: np.ndarray  # int64[T, 8], FILL_DTYPE's columns
    grid: np.ndarray  # int64[G, GRID_COLS]
    agent_grid: np.ndarray  # float64[G, n_agents, AGENT_GRID_COLS]
    recent_trades: np.ndarray  # int64[RECENT, RECENT_COLS]
    agent_log: np.ndarray  # int64[K, LOG_COLS]: the agents' orders (always kept)
    schedule: np.ndarray  # int64[N, SCHEDULE_COLS]: the orders of replay agents


# ------------------------------------------------------------------------------------------------ accounting
@_inline
def _book_fill(sim, owner, q, price, fee):
    """Account a fill of ``q`` lots (signed: + bought) at ``price`` for ``owner``, with ``fee``."""
    accounts = sim.accounts
    costs = sim.account_costs
    inv = accounts[owner, A_INVENTORY]
    cash = accounts[owner, A_CASH] - q * price
    accounts[owner, A_CASH] = cash
    if cash > CASH_LIMIT or cash < -CASH_LIMIT:
        sim.scalars[S_ACCOUNT_OVERFLOW] = 1
    cost = costs[owner, C_OPEN_COST]
    new_inv = inv + q
    if inv == 0 or (inv > 0) == (q > 0):
        costs[owner, C_OPEN_COST] = cost + q * price
    else:
        avg = cost / inv
        close = min(abs(q), abs(inv))
        sgn = 1.0 if inv > 0 else -1.0
        costs[owner, C_REALISED] += (price - avg) * close * sgn
        if new_inv == 0:
            costs[owner, C_OPEN_COST] = 0.0
        elif (new_inv > 0) != (inv > 0):
            costs[owner, C_OPEN_COST] = new_inv * float(price)
        else:
            costs[owner, C_OPEN_COST] = avg * new_inv
    accounts[owner, A_INVENTORY] = new_inv
    accounts[owner, A_FILLS] += 1
    accounts[owner, A_VOLUME] += abs(q)
    costs[owner, C_FEES] += fee


@_inline
def _fee(sim, owner, size, price):
    if owner < sim.scalars[S_N_AGENTS]:
        return size * sim.agent_fees[owner, FEE_PER_LOT] + (size * price) * sim.agent_fees[owner, FEE_RATE]
    return 0.0


@_fn
def drain_fills(book, sim):
    """Account every fill in the engine's buffer, log it (if recording), and empty the buffer."""
    nf = book.meta[M_NFILLS]
    fills = book.fills
    scalars = sim.scalars
    record = scalars[S_RECORD] != 0
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
        _book_fill(sim, buyer, size, price, _fee(sim, buyer, size, price))
        _book_fill(sim, seller, -size, price, _fee(sim, seller, size, price))
        r = scalars[S_N_TRADES] % RECENT
        sim.recent_trades[r, RT_TS] = fills[i, F_TS]
        sim.recent_trades[r, RT_PRICE] = price
        sim.recent_trades[r, RT_SIZE] = size
        sim.recent_trades[r, RT_AGGRESSOR] = fills[i, F_AGGR]
        scalars[S_N_TRADES] += 1
        if record:
            k = scalars[S_N_LOGGED_TRADES]
            for c in range(8):
                sim.trade_log[k, c] = fills[i, c]
            scalars[S_N_LOGGED_TRADES] = k + 1
    book.meta[M_NFILLS] = 0


@_inline
def _write_log_row(log, k, ts, op, side, flags, price, size, oid, owner, status, qty):
    log[k, LOG_TS] = ts
    log[k, LOG_OP] = op
    log[k, LOG_SIDE] = side
    log[k, LOG_FLAGS] = flags
    log[k, LOG_PRICE] = price
    log[k, LOG_SIZE] = size
    log[k, LOG_OID] = oid
    log[k, LOG_OWNER] = owner
    log[k, LOG_STATUS] = status
    log[k, LOG_QTY] = qty


@_inline
def _log_order(sim, ts, op, side, flags, price, size, oid, owner, status, qty):
    """Append to the order log (when recording)."""
    scalars = sim.scalars
    if scalars[S_RECORD] != 0:
        k = scalars[S_N_LOGGED_ORDERS]
        _write_log_row(sim.order_log, k, ts, op, side, flags, price, size, oid, owner, status, qty)
        scalars[S_N_LOGGED_ORDERS] = k + 1


@_inline
def _log_agent_order(sim, ts, op, side, flags, price, size, oid, owner, status, qty):
    """Append to the agents' order log (always)."""
    k = sim.scalars[S_N_AGENT_LOGGED]
    _write_log_row(sim.agent_log, k, ts, op, side, flags, price, size, oid, owner, status, qty)
    sim.scalars[S_N_AGENT_LOGGED] = k + 1


@_inline
def _two_sided(book):
    return book.meta[M_NBID] > 0 and book.meta[M_NASK] > 0


@_inline
def mid2_of(book, sim):
    """Bid + ask in half-ticks; the last two-sided value when a side is empty."""
    if _two_sided(book):
        return book.meta[M_BEST_BID] + book.meta[M_BEST_ASK]
    return sim.scalars[S_LAST_MID2]


@_inline
def _remember_mid(book, sim):
    if _two_sided(book):
        sim.scalars[S_LAST_MID2] = book.meta[M_BEST_BID] + book.meta[M_BEST_ASK]


# ------------------------------------------------------------------------------------------------ agents' orders
@_fn
def agent_submit(book, sim, a, op, side, price, size, flags, t):
    """Send one order of agent ``a`` (``OP_MARKET`` or ``OP_LIMIT``) at time ``t``. Returns (status, filled, oid).

    The order id comes from the agent's own counter, fills are accounted at once (fees included), the order is
    logged when recording, a refused order is counted in the agent's ``AG_N_REJECTED``, and the flow model is
    told the book changed. The same function serves jitted and Python agents, so both give identical books.
    """
    oid = sim.agents[a, AG_NEXT_OID]
    sim.agents[a, AG_NEXT_OID] = oid + 1
    if sim.agents[a, AG_PAPER] != 0:
        q = paper_fill(book, sim, a, side, price if op == OP_LIMIT else (PAPER_NO_LIMIT if side == BUY else
                                                                          -PAPER_NO_LIMIT), size)
        _log_order(sim, t, op, side, flags, price, size, oid, a, OK, q)
        _log_agent_order(sim, t, op, side, flags, price, size, oid, a, OK, q)
        return OK, q, oid
    if op == OP_MARKET:
        status, q = eng.market_order(book, side, size, oid, a, t)
        if status == OK:
            sim.scalars[S_UNFILLED_LOTS] += size - q
    else:
        status, q = eng.limit_order(book, side, price, size, oid, a, t, flags)
    if status == OK:
        sim.scalars[S_AGENT_FLOW] += side * q
    _log_order(sim, t, op, side, flags, price, size, oid, a, status, q)
    _log_agent_order(sim, t, op, side, flags, price, size, oid, a, status, q)
    if status == OK:
        drain_fills(book, sim)
        _remember_mid(book, sim)
        sim.scalars[S_BOOK_CHANGED] = 1
    else:
        sim.agents[a, AG_N_REJECTED] += 1
    return status, q, oid


PAPER_NO_LIMIT = 1 << 62  # the price limit of a market order filled on paper


@_fn
def paper_fill(book, sim, a, side, limit, size):
    """Fill an order of agent ``a`` on paper: walk the opposite side from its best price up to ``limit`` and
    account the lots the book shows there, without changing the book (each paper order sees the whole book: the
    agent's earlier paper fills do not deplete it). Returns the lots filled; the rest is dropped."""
    meta = book.meta
    base = meta[M_BASE]
    if side == BUY:
        if meta[M_NASK] == 0:
            return 0
        price = meta[M_BEST_ASK]
    else:
        if meta[M_NBID] == 0:
            return 0
        price = meta[M_BEST_BID]
    contra = 1 - eng.side_index(side)
    left = size
    while left > 0:
        if (side == BUY and price > limit) or (side == SELL and price < limit):
            break
        q = min(left, book.lv[LV_VOL, contra, price - base])
        if q > 0:
            _book_fill(sim, a, q if side == BUY else -q, price, _fee(sim, a, q, price))
            left -= q
        if side == BUY:
            nxt = eng.level_above(book, 1, price - base + 1)
        else:
            nxt = eng.level_below(book, 0, price - base - 1)
        if nxt == -1:
            break
        price = base + nxt
    return size - left


@_fn
def agent_cancel(book, sim, a, oid, t):
    """Cancel a resting order of agent ``a``. Returns (status, lots cancelled). Only the agent's own orders can
    be cancelled; an unknown id, or another owner's order, changes nothing."""
    slot = eng.order_slot(book, oid)
    if slot == -1 or book.orders[slot, O_OWNER] != a:
        return ERR_UNKNOWN_ID, 0
    side = book.orders[slot, O_SIDE]
    status, q = eng.cancel(book, oid)
    if status == OK:
        _log_order(sim, t, OP_CANCEL, side, 0, 0, q, oid, a, status, q)
        _log_agent_order(sim, t, OP_CANCEL, side, 0, 0, q, oid, a, status, q)
        _remember_mid(book, sim)
        sim.scalars[S_BOOK_CHANGED] = 1
    return status, q


@_fn
def trade_to(book, sim, a, target, t):
    """Move agent ``a`` toward position ``target``: cancel its resting order, then one market or marketable
    limit order for the difference (limit: ``AG_OFFSET`` ticks through the touch; the rest rests)."""
    agents = sim.agents
    if agents[a, AG_RESTING] != -1:
        agent_cancel(book, sim, a, agents[a, AG_RESTING], t)
        agents[a, AG_RESTING] = -1
    q = target - sim.accounts[a, A_INVENTORY]
    if q == 0:
        return
    side = BUY if q > 0 else SELL
    size = abs(q)
    if agents[a, AG_ORDER_TYPE] == ORDER_TYPE_MARKET:
        agent_submit(book, sim, a, OP_MARKET, side, 0, size, 0, t)
        return
    meta = book.meta
    if side == BUY:
        if meta[M_NASK] == 0:
            return
        price = meta[M_BEST_ASK] + agents[a, AG_OFFSET]
    else:
        if meta[M_NBID] == 0:
            return
        price = meta[M_BEST_BID] - agents[a, AG_OFFSET]
    status, filled, oid = agent_submit(book, sim, a, OP_LIMIT, side, price, size, 0, t)
    if status == OK and filled < size:
        agents[a, AG_RESTING] = oid


# ------------------------------------------------------------------------------------------------ grid
@_fn
def take_sample(book, sim, t):
    """Write one row of the sampling grid at time ``t``."""
    scalars = sim.scalars
    k = scalars[S_N_SAMPLES]
    grid = sim.grid
    meta = book.meta
    base = meta[M_BASE]
    grid[k, G_T] = t
    grid[k, G_BID] = meta[M_BEST_BID]
    grid[k, G_ASK] = meta[M_BEST_ASK]
    grid[k, G_BID_SIZE] = book.lv[LV_VOL, 0, meta[M_BEST_BID] - base] if meta[M_NBID] > 0 else 0
    grid[k, G_ASK_SIZE] = book.lv[LV_VOL, 1, meta[M_BEST_ASK] - base] if meta[M_NASK] > 0 else 0
    grid[k, G_BID_ORDERS] = meta[M_NBID]
    grid[k, G_ASK_ORDERS] = meta[M_NASK]
    grid[k, G_EVENTS] = scalars[S_N_EVENTS]
    grid[k, G_VOLUME] = meta[M_TOTAL_VOLUME]
    grid[k, G_MID2] = mid2_of(book, sim)
    for a in range(scalars[S_N_AGENTS]):
        sim.agent_grid[k, a, AG_GRID_CASH] = sim.accounts[a, A_CASH]
        sim.agent_grid[k, a, AG_GRID_INVENTORY] = sim.accounts[a, A_INVENTORY]
        sim.agent_grid[k, a, AG_GRID_FEES] = sim.account_costs[a, C_FEES]
        sim.agent_grid[k, a, AG_GRID_REALISED] = sim.account_costs[a, C_REALISED]
    scalars[S_N_SAMPLES] = k + 1


# ------------------------------------------------------------------------------------------------ background
@_fn
def background_event(book, sim, flow, t):
    """Apply the flow model's event due at ``t`` to the book, then ask the model for the next event's time."""
    scalars = sim.scalars
    typ, price, size, owner_index, target = flow_fire(flow, book, t, scalars[S_NEXT_OID], scalars[S_LAST_MID2])
    owner = scalars[S_N_AGENTS] + owner_index
    if EV_LIMIT_BUY <= typ <= EV_LIMIT_SELL:
        side = BUY if typ == EV_LIMIT_BUY else SELL
        oid = scalars[S_NEXT_OID]
        scalars[S_NEXT_OID] = oid + 1
        status, q = eng.limit_order(book, side, price, size, oid, owner, t, 0)
        _log_order(sim, t, OP_LIMIT, side, 0, price, size, oid, owner, status, q)
        if status == OK:
            if q > 0:
                drain_fills(book, sim)
        else:
            scalars[S_N_REJECTED] += 1
    elif EV_MARKET_BUY <= typ <= EV_MARKET_SELL:
        side = BUY if typ == EV_MARKET_BUY else SELL
        oid = scalars[S_NEXT_OID]
        scalars[S_NEXT_OID] = oid + 1
        status, q = eng.market_order(book, side, size, oid, owner, t)
        _log_order(sim, t, OP_MARKET, side, 0, 0, size, oid, owner, status, q)
        if status == OK:
            scalars[S_UNFILLED_LOTS] += size - q
            drain_fills(book, sim)
        else:
            scalars[S_N_REJECTED] += 1
    elif EV_CANCEL_BUY <= typ <= EV_CANCEL_SELL:
        slot = eng.order_slot(book, target) if target >= 0 else -1
        if slot != -1:
            owner = book.orders[slot, O_OWNER]
            side = book.orders[slot, O_SIDE]
            status, q = eng.cancel(book, target)
            _log_order(sim, t, OP_CANCEL, side, 0, 0, q, target, owner, status, q)
        else:
            scalars[S_N_CANCEL_GONE] += 1
    if typ >= 0:
        if _two_sided(book):
            scalars[S_LAST_MID2] = book.meta[M_BEST_BID] + book.meta[M_BEST_ASK]
        else:
            scalars[S_N_EMPTY_AFTER_EVENT] += 1
        scalars[S_N_EVENTS] += 1
    scalars[S_NEXT_EVENT] = flow_reschedule(flow, book, t, 0)


# ------------------------------------------------------------------------------------------------ the loop
@_inline
def _log_nearly_full(book, sim):
    """Could the next item overflow a log? (A decision may send several orders: room for AGENT_ORDERS_ROOM.)"""
    scalars = sim.scalars
    if scalars[S_N_AGENT_LOGGED] + AGENT_ORDERS_ROOM > sim.agent_log.shape[0]:
        return True
    if scalars[S_RECORD] == 0:
        return False
    return (scalars[S_N_LOGGED_ORDERS] + AGENT_ORDERS_ROOM > sim.order_log.shape[0]
            or scalars[S_N_LOGGED_TRADES] + book.meta[M_NBID] + book.meta[M_NASK] + 2 > sim.trade_log.shape[0])


AGENT_ORDERS_ROOM = 8  # log rows a jitted decision may take (cancel + one order, with margin)


@_fn
def replay_due(book, sim, a, t):
    """Send replay agent ``a``'s schedule rows due at ``t``; its next decision is the next row's time."""
    agents = sim.agents
    sched = sim.schedule
    pos = agents[a, AG_SCHEDULE_POS]
    end = agents[a, AG_SCHEDULE_END]
    while pos < end and sched[pos, SCH_T] <= t:
        agent_submit(book, sim, a, sched[pos, SCH_OP], sched[pos, SCH_SIDE], sched[pos, SCH_PRICE],
                     sched[pos, SCH_SIZE], 0, t)
        pos += 1
        if sim.scalars[S_N_AGENT_LOGGED] + AGENT_ORDERS_ROOM > sim.agent_log.shape[0]:
            break  # the caller flushes; the rest at this time is sent on the next call
    agents[a, AG_SCHEDULE_POS] = pos
    if pos < end:
        return max(sched[pos, SCH_T], t)
    return sim.scalars[S_END]


@_inline
def _next_decision(sim):
    agents = sim.agents
    t_dec = sim.scalars[S_END]
    for a in range(sim.scalars[S_N_AGENTS]):
        if agents[a, AG_NEXT_DEC] < t_dec:
            t_dec = agents[a, AG_NEXT_DEC]
    return t_dec


@_fn_nogil
def run_until(book, sim, flow, t_stop):
    """Advance the simulation through every item strictly before ``t_stop``. Returns a reason code (see top)."""
    scalars = sim.scalars
    agents = sim.agents
    n_agents = scalars[S_N_AGENTS]
    t_dec = _next_decision(sim)
    while True:
        if scalars[S_BOOK_CHANGED] != 0:  # an agent (jitted or Python) changed the book at S_NOW
            scalars[S_NEXT_EVENT] = flow_reschedule(flow, book, scalars[S_NOW], scalars[S_AGENT_FLOW])
            scalars[S_BOOK_CHANGED] = 0
            scalars[S_AGENT_FLOW] = 0
        t_ev = scalars[S_NEXT_EVENT]
        t_smp = scalars[S_NEXT_SAMPLE]
        t = t_ev
        if t_dec < t:
            t = t_dec
        if t_smp < t:
            t = t_smp
        if t >= t_stop:
            scalars[S_NOW] = t_stop if t_stop > scalars[S_NOW] else scalars[S_NOW]
            return R_DONE
        scalars[S_NOW] = t
        if t_smp == t:
            take_sample(book, sim, t)
            scalars[S_NEXT_SAMPLE] = t_smp + scalars[S_SAMPLE_NS]  # the row at the end is taken by the caller
            continue
        if _log_nearly_full(book, sim):
            return R_FLUSH
        if t_dec == t:
            for a in range(n_agents):
                if agents[a, AG_NEXT_DEC] != t:
                    continue
                kind = agents[a, AG_KIND]
                if kind == AG_PYTHON:
                    scalars[S_PENDING_AGENT] = a
                    return R_DECISION
                if kind == AG_REPLAY:
                    agents[a, AG_NEXT_DEC] = replay_due(book, sim, a, t)
                else:
                    target = target_position(agents, sim.mid_history, a, mid2_of(book, sim))
                    if target != NO_TRADE:
                        trade_to(book, sim, a, target, t)
                    agents[a, AG_NEXT_DEC] = t + agents[a, AG_INTERVAL]
                if _log_nearly_full(book, sim):
                    break
            t_dec = _next_decision(sim)
            continue
        background_event(book, sim, flow, t)


@_fn
def seed_book(book, sim, flow, side, price, size, owner):
    """Place the initial book (background limit orders at t = 0) and hand the resting ones to the flow model.
    Returns how many the engine rejected."""
    bad = 0
    for i in range(side.shape[0]):
        oid = sim.scalars[S_NEXT_OID]
        sim.scalars[S_NEXT_OID] = oid + 1
        status, q = eng.limit_order(book, side[i], price[i], size[i], oid, owner[i], 0, 0)
        _log_order(sim, 0, OP_LIMIT, side[i], 0, price[i], size[i], oid, owner[i], status, q)
        if status == OK:
            if q < size[i]:
                flow_seed_order(flow, book, oid, side[i])
            if q > 0:
                drain_fills(book, sim)
        else:
            bad += 1
    _remember_mid(book, sim)
    return bad


@_fn
def start_flow(book, sim, flow):
    """Schedule the first background event (after the initial book is in place)."""
    sim.scalars[S_NEXT_EVENT] = flow_reschedule(flow, book, 0, 0)
