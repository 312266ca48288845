"""Jitted LOBSTER replay: the per-message loop, the out-of-view level rules and the row check.

The rules are described in :mod:`lobkit.engine.lobster`; this module only implements them. Every kernel is
compiled like the engine's (``njit(cache=True, _nrt=False)``): they never allocate (scratch and output arrays
come from the caller) and never raise. Book changes go through the engine kernels of :mod:`lobkit.engine.nb`
(``limit_order``, ``reduce``, ``cancel``, ``execute``, ``top_levels``); the state arrays are only *read*
here (to walk the orders of one level), except for draining the fill buffer, which replay does not keep.

Inputs (all int64, prepared by :mod:`lobkit.engine.lobster`):

* ``typ``, ``oid``, ``size``, ``price`` (ticks), ``side`` (+1 buy / -1 sell): one entry per message;
* ``px``, ``sz``: ``(n, 2, L)`` the orderbook rows, side index 0 bids, 1 asks, best first, prices in ticks;
  an empty level has price ``NO_BID`` / ``NO_ASK`` and size 0;
* ``events``: ``(m, 8)`` the entry events, sorted by row (columns ``E_*``): one per level entering the window
  (a price of row i absent from row i-1) and one per side of a row whose price set changed and that has fewer
  than L levels. They are precomputed (vectorised) so that replay reads a compact stream instead of whole rows.
"""

from __future__ import annotations

import numpy as np

from lobkit._jit import kernel as _kernel  # noqa: E402  (no reference counting: see lobkit/_jit.py)
from lobkit._jit import kernel_inline as _kernel_inline  # noqa: E402
from lobkit.engine import nb
from lobkit.engine.messages import ERR_CAPACITY, ERR_DUPLICATE_ID, ERR_UNKNOWN_ID, FLAG_POST_ONLY, OK
from lobkit.engine.nb import NO_ASK, NO_BID  # noqa: E402
from lobkit.engine.state import LV_CNT, LV_HEAD, LV_VOL, M_BASE, M_FILLCAP, M_NFILLS, M_WIN, O_ID, O_NEXT, O_SIZE, O_TS

# The per-message and per-entry helpers are inlined at Numba-IR level: a call that is not inlined passes the
# state's six arrays as ~55 scalars on the stack, which cost more than the work itself (measured: 14 ms ->
# 8.7 ms for the 156k messages of AMZN level 5). Adds go through ``nb._limit`` (inline) for the same reason;
# cancels, partial cancels and executions through ``nb._cancel``, ``nb._reduce``, ``nb._execute``.
_ONES = 0xFFFFFFFFFFFFFFFF

# LOBSTER event types
T_ADD = 1
T_CANCEL = 2
T_DELETE = 3
T_EXEC = 4
T_HIDDEN = 5
T_CROSS = 6
T_HALT = 7

# owner id of placeholder orders (real orders have owner 0)
PLACEHOLDER_OWNER = -1

# counters written to ``ctr``
C_ROWS_MATCHED = 0
C_SEEDED = 1  # placeholder created for a level entering the window that the engine did not have
C_RECONCILED = 2  # a level entering the window whose engine volume differed (stale), or a stale level removed
C_INITIAL = 3  # levels seeded from orderbook row 0
C_PLACEHOLDER_HITS = 4  # cancels/executions of an unknown id served by a placeholder
C_UNAPPLIED = 5  # messages the engine could not apply (unknown id and no placeholder, bad size, ...)
C_UNRESOLVED = 6  # entering-level situations the rules could not fix (the check will show the rows)
C_MISMATCHES = 7  # rows that differ (under check)
C_DUP_IDS = 8  # adds whose id was already resting (old order replaced)
C_ROWS_CHECKED = 9
C_CAPACITY = 10  # the order pool was full: the caller reruns with a larger book
N_COUNTERS = 16

# columns of the entry events
E_ROW = 0
E_SIDE = 1  # side index: 0 bids, 1 asks
E_KIND = 2
E_PRICE = 3  # ticks
E_SIZE = 4
E_BOUND = 5  # E_ENTER: the row's next better price (NO_BID/NO_ASK: none); E_BEYOND: the row's last price
E_CLEAR = 6  # E_ENTER: 1 if the level may come from below (not message i's own add): clear up to E_BOUND
E_COLS = 8
E_ENTER = 0
E_BEYOND = 1


@_kernel_inline
def placeholder_id(s, p):
    """Synthetic id of the placeholder order of side index ``s`` at price ``p`` (ticks, > 0): negative, so it
    never collides with a LOBSTER order id (those are >= 0), and unique per (side, price)."""
    return -(2 * p + s + 1)


@_kernel_inline
def _drain(st):
    """Replay keeps no fill records: empty the fill buffer when it is full."""
    if st.meta[M_NFILLS] >= st.meta[M_FILLCAP]:
        st.meta[M_NFILLS] = 0


@_kernel_inline
def _add_placeholder(st, s, p, v, ctr):
    """Rest ``v`` lots of unknown ids at (s, p): grow the level's placeholder or create it."""
    side = 1 if s == 0 else -1
    pid = placeholder_id(s, p)
    slot = nb.order_slot(st, pid)
    if slot != -1:
        # same id again: cancel and re-enter with the sum (the placeholder's queue place does not matter)
        v += st.orders[slot, O_SIZE]
        nb.cancel(st, pid)
    status, _ = nb.limit_order(st, side, p, v, pid, PLACEHOLDER_OWNER, -1, FLAG_POST_ONLY)
    if status == ERR_CAPACITY:
        ctr[C_CAPACITY] += 1
    return status == OK


@_kernel_inline
def _consume_placeholder(st, s, p, v, execution, ctr):
    """A cancel/execution of ``v`` lots of an order id the book does not know, at (s, p): take it from the
    level's placeholder. Returns True if the placeholder covered it entirely."""
    pid = placeholder_id(s, p)
    slot = nb.order_slot(st, pid)
    if slot == -1:
        ctr[C_UNAPPLIED] += 1
        return False
    q = st.orders[slot, O_SIZE]
    take = v if v < q else q
    if execution:
        _drain(st)
        nb.execute(st, pid, take, 0, -1, -1)
    else:
        nb.reduce(st, pid, take)
    ctr[C_PLACEHOLDER_HITS] += 1
    if take < v:
        ctr[C_UNAPPLIED] += 1
        return False
    return True


@_kernel_inline
def apply_message(st, i, t, oid, size, price, side, ctr):
    """Apply LOBSTER message ``i`` (already validated) to the book."""
    if t == T_ADD:
        status, _ = nb._limit(st, side, price, size, oid, 0, i, FLAG_POST_ONLY)
        if status == ERR_DUPLICATE_ID:  # rare: a plain call, not a second inlined copy
            ctr[C_DUP_IDS] += 1
            nb.cancel(st, oid)
            status, _ = nb.limit_order(st, side, price, size, oid, 0, i, FLAG_POST_ONLY)
        if status == ERR_CAPACITY:
            ctr[C_CAPACITY] += 1
        elif status != OK:
            ctr[C_UNAPPLIED] += 1
    elif t in (T_CANCEL, T_DELETE):
        if t == T_CANCEL:
            status, _ = nb._reduce(st, oid, size)
        else:
            status, _ = nb._cancel(st, oid)
        if status == ERR_UNKNOWN_ID:
            _consume_placeholder(st, 0 if side == 1 else 1, price, size, False, ctr)
        elif status != OK:
            ctr[C_UNAPPLIED] += 1
    elif t == T_EXEC:
        _drain(st)
        status, _ = nb._execute(st, oid, size, i, -1, -1)
        if status == ERR_UNKNOWN_ID:
            _consume_placeholder(st, 0 if side == 1 else 1, price, size, True, ctr)
        elif status != OK:
            # larger than the resting order: take what there is
            ctr[C_UNAPPLIED] += 1
            nb.cancel(st, oid)
    # 5 hidden execution, 6 cross trade, 7 halt: no change to the visible book


@_kernel_inline
def _in_row(px, i, s, L, p):
    for j in range(L):  # noqa: SIM110 (a jitted loop, not a generator)
        if px[i, s, j] == p:
            return True
    return False


@_kernel_inline
def _better(s, a, b):
    """Is price ``a`` better than ``b`` on side index s (0 bids: higher; 1 asks: lower)?"""
    if s == 0:
        return a > b
    return a < b


@_kernel_inline
def _drop_uncertain(st, s, p, i):
    """Cancel every order at (s, p) that did not arrive with message ``i`` (placeholders included).

    Returns (lots cancelled, orders cancelled, lots kept)."""
    idx = p - st.meta[M_BASE]
    slot = st.lv[LV_HEAD, s, idx]
    gone = 0
    n = 0
    kept = 0
    while slot != -1:
        nxt = st.orders[slot, O_NEXT]
        q = st.orders[slot, O_SIZE]
        if st.orders[slot, O_TS] < i:
            nb.cancel(st, st.orders[slot, O_ID])
            gone += q
            n += 1
        else:
            kept += q
        slot = nxt
    return gone, n, kept


@_kernel_inline
def _needs_convert(st, s, p, i, vol, target):
    """Does the entering level (s, p) hold a different volume, or real orders of uncertain existence?"""
    if vol != target:
        return True
    slot = st.lv[LV_HEAD, s, p - st.meta[M_BASE]]
    while slot != -1:
        if st.orders[slot, O_TS] < i and st.orders[slot, O_ID] >= 0:
            return True
        slot = st.orders[slot, O_NEXT]
    return False


@_kernel
def reconcile_side(st, s, i, px, sz, L, ep, ev, ec, ctr):
    """Bring side ``s`` of the book's top L in line with orderbook row ``i`` for levels entering the window.

    Walks the engine's top L against the row. Only levels whose price is absent from row ``i - 1`` (they were
    out of view before message i) are touched: a level of the row the engine lacks gets a placeholder of the
    row's size (seeded); a level the engine holds but the row does not is stale: its orders are removed
    (reconciled); a level both hold is re-based: orders of uncertain existence (all but message i's) become
    one placeholder so that the level has the row's size (reconciled if the size differed). A difference at a
    level that was in view before is never "fixed": the check reports it. Returns True if the book changed.
    """
    changed = False
    for _ in range(4 * L + 8):
        n = nb.top_levels(st, s, L, ep, ev, ec)
        act = False
        stop = False
        for j in range(L):
            rv = sz[i, s, j]
            rp = px[i, s, j]
            row_has = rv > 0
            e_has = j < n
            if not row_has and not e_has:
                break
            if e_has and (not row_has or _better(s, ep[j], rp)):
                q = ep[j]
                if _in_row(px, i - 1, s, L, q):
                    ctr[C_UNRESOLVED] += 1
                    stop = True
                    break
                gone, k, kept = _drop_uncertain(st, s, q, i)
                if k == 0:
                    ctr[C_UNRESOLVED] += 1
                    stop = True
                    break
                ctr[C_RECONCILED] += 1
                act = True
                break
            if not e_has or _better(s, rp, ep[j]):
                if _in_row(px, i - 1, s, L, rp) or not _add_placeholder(st, s, rp, rv, ctr):
                    ctr[C_UNRESOLVED] += 1
                    stop = True
                    break
                ctr[C_SEEDED] += 1
                act = True
                break
            # same price
            if not _in_row(px, i - 1, s, L, rp) and _needs_convert(st, s, rp, i, ev[j], rv):
                gone, k, kept = _drop_uncertain(st, s, rp, i)
                need = rv - kept
                if need > 0:
                    _add_placeholder(st, s, rp, need, ctr)
                elif need < 0:
                    ctr[C_UNRESOLVED] += 1
                    stop = True
                    break
                if ev[j] != rv:
                    ctr[C_RECONCILED] += 1
                if k > 0 or need > 0:
                    act = True
                    break
        if act:
            changed = True
        if stop or not act:
            break
    return changed


@_kernel_inline
def _clear_range(st, s, a, b, px, i, L, ctr):
    """Remove the stale levels of side ``s`` at window indices a..b (inclusive): levels the engine holds where
    the row shows none. Only levels out of view in row i-1 may be removed; returns False when another one is
    found (the general :func:`reconcile_side` then decides)."""
    W = st.meta[M_WIN]
    if a < 0:
        a = 0
    if b > W - 1:
        b = W - 1
    if a > b:
        return True
    base = st.meta[M_BASE]
    for w in range(a >> 6, (b >> 6) + 1):
        lo = max(a, w << 6)
        hi = min(b, (w << 6) + 63)
        mask = (np.uint64(_ONES) >> np.uint64(63 - (hi & 63))) & (np.uint64(_ONES) << np.uint64(lo & 63))
        if st.occ[s, w] & mask == 0:
            continue
        for idx in range(lo, hi + 1):
            if st.lv[LV_CNT, s, idx] > 0:
                q = base + idx
                if _in_row(px, i - 1, s, L, q):
                    return False
                gone, k, kept = _drop_uncertain(st, s, q, i)
                if k == 0 or st.lv[LV_CNT, s, idx] > 0:
                    return False
                ctr[C_RECONCILED] += 1
    return True


@_kernel_inline
def entry_event(st, i, ev_row, px, L, ctr):
    """Apply one precomputed entry event of row ``i`` (a row of ``events``, see :mod:`lobkit.engine.lobster`).

    ``E_ENTER``: a level enters the window at price p with the row's size rv: seeded when the engine has no
    such level, re-based when it has (orders of uncertain existence become one placeholder); when it may have
    come from below, the engine's levels strictly between it and ``bound`` (the row's next better level, or
    everything better when p is the best) are stale and removed. ``E_BEYOND``: the row's side has fewer than
    L levels: the engine's levels worse than ``bound`` (its last level; all if the side is empty) are stale.
    Returns False when a case falls outside these rules (the general :func:`reconcile_side` then runs).
    """
    s = ev_row[E_SIDE]
    p = ev_row[E_PRICE]
    bound = ev_row[E_BOUND]
    base = st.meta[M_BASE]
    W = st.meta[M_WIN]
    if ev_row[E_KIND] == E_BEYOND:
        if s == 0:
            hi = W - 1 if bound == NO_BID else bound - base - 1
            return _clear_range(st, s, 0, hi, px, i, L, ctr)
        lo = 0 if bound == NO_ASK else bound - base + 1
        return _clear_range(st, s, lo, W - 1, px, i, L, ctr)
    rv = ev_row[E_SIZE]
    idx = p - base
    cnt = st.lv[LV_CNT, s, idx]
    vol = st.lv[LV_VOL, s, idx]
    if cnt == 0:
        if not _add_placeholder(st, s, p, rv, ctr):
            return False
        ctr[C_SEEDED] += 1
    elif _needs_convert(st, s, p, i, vol, rv):
        gone, k, kept = _drop_uncertain(st, s, p, i)
        need = rv - kept
        if need < 0:
            return False
        if need > 0 and not _add_placeholder(st, s, p, need, ctr):
            return False
        if vol != rv:
            ctr[C_RECONCILED] += 1
    if ev_row[E_CLEAR] == 0:
        return True
    if s == 0:
        hi = W - 1 if bound == NO_BID else bound - base - 1
        return _clear_range(st, s, idx + 1, hi, px, i, L, ctr)
    lo = 0 if bound == NO_ASK else bound - base + 1
    return _clear_range(st, s, lo, idx - 1, px, i, L, ctr)


@_kernel
def seed_row0(st, px, sz, L, ctr):
    """Start from orderbook row 0: every level it shows becomes one placeholder order."""
    for s in range(2):
        for j in range(L):
            if sz[0, s, j] > 0:
                _add_placeholder(st, s, px[0, s, j], sz[0, s, j], ctr)
                ctr[C_INITIAL] += 1


@_kernel_inline
def check_row(st, i, px, sz, Lc, ep, ev, ec):
    """Does the engine's top ``Lc`` (both sides) equal orderbook row ``i``?"""
    for s in range(2):
        n = nb.top_levels(st, s, Lc, ep, ev, ec)
        for j in range(Lc):
            if j < n:
                if ep[j] != px[i, s, j] or ev[j] != sz[i, s, j]:
                    return False
            elif sz[i, s, j] != 0:
                return False
    return True


@_kernel
def _record(st, i, Lc, ep, ev, ec, mm_rows, mm_lv, k):
    """Keep the engine's top levels at mismatching row ``i`` (slot ``k``) for the report."""
    mm_rows[k] = i
    for s in range(2):
        n = nb.top_levels(st, s, Lc, ep, ev, ec)
        for j in range(Lc):
            if j < n:
                mm_lv[k, s, 0, j] = ep[j]
                mm_lv[k, s, 1, j] = ev[j]
            else:
                mm_lv[k, s, 0, j] = NO_BID if s == 0 else NO_ASK
                mm_lv[k, s, 1, j] = 0


@_kernel
def replay_kernel(st, typ, oid, size, price, side, px, sz, events, L, check, Lc, ctr, ep, ev, ec, mm_rows, mm_lv):
    """Replay messages 1..n-1 from orderbook row 0, applying the entering-level rules after each message.

    With ``check``, compares the top ``Lc`` levels with every row and records the first ``len(mm_rows)``
    mismatching rows (and the engine's levels there) in ``mm_rows`` / ``mm_lv``. Counters go to ``ctr``.
    """
    n = typ.shape[0]
    m = events.shape[0]
    e = 0
    while e < m and events[e, E_ROW] < 1:
        e += 1
    seed_row0(st, px, sz, L, ctr)
    if ctr[C_CAPACITY] != 0:
        return 0
    kmax = mm_rows.shape[0]
    if check:
        ctr[C_ROWS_CHECKED] += 1
        if check_row(st, 0, px, sz, Lc, ep, ev, ec):
            ctr[C_ROWS_MATCHED] += 1
        else:
            if ctr[C_MISMATCHES] < kmax:
                _record(st, 0, Lc, ep, ev, ec, mm_rows, mm_lv, ctr[C_MISMATCHES])
            ctr[C_MISMATCHES] += 1
    for i in range(1, n):
        apply_message(st, i, typ[i], oid[i], size[i], price[i], side[i], ctr)
        if e < m and events[e, E_ROW] == i:
            ok = True
            while e < m and events[e, E_ROW] == i:
                ok = entry_event(st, i, events[e], px, L, ctr) and ok
                e += 1
            if not ok:
                for _ in range(3):
                    a = reconcile_side(st, 0, i, px, sz, L, ep, ev, ec, ctr)
                    a = reconcile_side(st, 1, i, px, sz, L, ep, ev, ec, ctr) or a
                    if not a:
                        break
        if ctr[C_CAPACITY] != 0:
            return i
        if check:
            ctr[C_ROWS_CHECKED] += 1
            if check_row(st, i, px, sz, Lc, ep, ev, ec):
                ctr[C_ROWS_MATCHED] += 1
            else:
                if ctr[C_MISMATCHES] < kmax:
                    _record(st, i, Lc, ep, ev, ec, mm_rows, mm_lv, ctr[C_MISMATCHES])
                ctr[C_MISMATCHES] += 1
    return n


def scratch(L: int):
    """Scratch arrays for the kernels' level queries (allocated by the caller: the kernels never allocate)."""
    return (np.zeros(max(L, 1), np.int64), np.zeros(max(L, 1), np.int64), np.zeros(max(L, 1), np.int64))
