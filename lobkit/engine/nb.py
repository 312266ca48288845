"""Jitted order-book kernels. No validation beyond status codes, no allocation per message, no raising.

Every kernel takes a :class:`lobkit.engine.state.BookState` first and returns a status code (see
:mod:`lobkit.engine.messages`); the facade :class:`lobkit.engine.book.OrderBook` turns codes into
exceptions. The simulator's jitted loop calls these kernels directly, so the kernels check what would corrupt
the book themselves, in this order: flag bits (``ERR_BAD_FLAGS``), side (``ERR_BAD_SIDE``), price in
``[1, PRICE_LIMIT]`` ticks (``ERR_BAD_PRICE``), size in ``[1, MAX_SIZE]`` lots (``ERR_BAD_SIZE``), then the id: a
new order's (limit, IOC, post-only or market) must not be resting (``ERR_DUPLICATE_ID``), a target's must be
(``ERR_UNKNOWN_ID``). A rejected call changes nothing.

Side index: the kernels keep the bid side at index 0 and the ask side at index 1 of their arrays
(:func:`side_index` maps ``BUY``/``SELL`` to it, :func:`side_of` back).

Matching is price-time priority. Self-matching is allowed: an order may trade against a resting order of the
same owner; the fill is recorded like any other (``maker_owner == taker_owner``), so accounting nets it out.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# compiled without reference counting, hot path inlined: see lobkit/_jit.py
from lobkit._jit import kernel as _kernel  # noqa: E402
from lobkit._jit import kernel_inline as _kernel_inline  # noqa: E402
from lobkit.engine.messages import (
    BUY,
    ERR_BAD_FLAGS,
    ERR_BAD_OP,
    ERR_BAD_PRICE,
    ERR_BAD_SIDE,
    ERR_BAD_SIZE,
    ERR_CAPACITY,
    ERR_DUPLICATE_ID,
    ERR_PRICE_WINDOW,
    ERR_UNKNOWN_ID,
    FILLS_FULL,
    FLAG_IOC,
    FLAG_POST_ONLY,
    KNOWN_FLAGS,
    MAX_SIZE,
    NO_ASK,
    NO_BID,
    OK,
    OP_CANCEL,
    OP_EXECUTE,
    OP_LIMIT,
    OP_MARKET,
    OP_MODIFY,
    OP_REDUCE,
    POST_ONLY_REJECTED,
    PRICE_LIMIT,
    SELL,
)
from lobkit.engine.state import (
    F_AGGR,
    F_MAKER_OID,
    F_MAKER_OWNER,
    F_PRICE,
    F_SIZE,
    F_TAKER_OID,
    F_TAKER_OWNER,
    F_TS,
    LV_CNT,
    LV_HEAD,
    LV_TAIL,
    LV_VOL,
    M_BASE,
    M_BEST_ASK,
    M_BEST_BID,
    M_FILLCAP,
    M_FREE,
    M_HMASK,
    M_HSHIFT,
    M_NASK,
    M_NBID,
    M_NFILLS,
    M_RECENTRES,
    M_TOTAL_FILLS,
    M_TOTAL_VOLUME,
    M_WIN,
    O_ID,
    O_NEXT,
    O_OWNER,
    O_PREV,
    O_PRICE,
    O_SIDE,
    O_SIZE,
    O_TS,
)

# Limit prices used for market orders: beyond any real price, far enough from the int64 ends not to overflow.
MARKET_BUY_LIMIT = 2**62
MARKET_SELL_LIMIT = -(2**62)
_ONES = 0xFFFFFFFFFFFFFFFF


# ---------------------------------------------------------------------------------------------- bit tricks
@intrinsic
def _cttz(typingctx, x):
    """Count trailing zeros of a non-zero uint64 (LLVM cttz)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return x(x), codegen


@intrinsic
def _ctlz(typingctx, x):
    """Count leading zeros of a non-zero uint64 (LLVM ctlz)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 1))

    return x(x), codegen


@_kernel_inline
def _set_bit(occ, s, idx):
    occ[s, idx >> 6] |= np.uint64(1) << np.uint64(idx & 63)


@_kernel_inline
def _clear_bit(occ, s, idx):
    occ[s, idx >> 6] &= ~(np.uint64(1) << np.uint64(idx & 63))


@_kernel
def _next_up(occ, s, start):
    """Lowest non-empty level index >= start on side s, or -1."""
    nw = occ.shape[1]
    w = start >> 6
    if start < 0:
        w = 0
        start = 0
    if w >= nw:
        return -1
    word = occ[s, w] & (np.uint64(_ONES) << np.uint64(start & 63))
    while word == 0:
        w += 1
        if w >= nw:
            return -1
        word = occ[s, w]
    return (w << 6) + np.int64(_cttz(word))


@_kernel
def _next_down(occ, s, start):
    """Highest non-empty level index <= start on side s, or -1."""
    nw = occ.shape[1]
    if start < 0:
        return -1
    w = start >> 6
    if w >= nw:
        w = nw - 1
        start = (nw << 6) - 1
    b = start & 63
    mask = np.uint64(_ONES) >> np.uint64(63 - b)
    word = occ[s, w] & mask
    while word == 0:
        w -= 1
        if w < 0:
            return -1
        word = occ[s, w]
    return (w << 6) + 63 - np.int64(_ctlz(word))


# ---------------------------------------------------------------------------------------------- sides, bounds
@_kernel_inline
def level_above(st, s, idx):
    """The lowest non-empty level index ``>= idx`` of side ``s`` (0 bids, 1 asks), or -1 (window-relative)."""
    return _next_up(st.occ, s, idx)


@_kernel_inline
def level_below(st, s, idx):
    """The highest non-empty level index ``<= idx`` of side ``s`` (0 bids, 1 asks), or -1 (window-relative)."""
    return _next_down(st.occ, s, idx)


@_kernel_inline
def side_index(side):
    """The side index of a valid order side: 0 for ``BUY`` (the bid side), 1 for ``SELL`` (the ask side).

    Only 0 or 1, never a negative index (which would make every array access that uses it pay for Numba's
    wraparound of negative indices): an incoming side is tested with :func:`_bad_side` first."""
    return 0 if side == BUY else 1


@_kernel_inline
def _bad_side(side):
    """Is ``side`` neither ``BUY`` nor ``SELL``?"""
    return side != BUY and side != SELL


@_kernel_inline
def side_of(s):
    """The order side (``BUY`` or ``SELL``) of side index s."""
    return BUY if s == 0 else SELL


@_kernel_inline
def _bad_price(price):
    """Is ``price`` outside ``[1, PRICE_LIMIT]`` ticks? (One unsigned compare: ``price - 1`` wraps below 0.)"""
    return np.uint64(price - 1) >= np.uint64(PRICE_LIMIT)


@_kernel_inline
def _bad_size(size):
    """Is ``size`` outside ``[1, MAX_SIZE]`` lots? (One unsigned compare, as for prices.)"""
    return np.uint64(size - 1) >= np.uint64(MAX_SIZE)


# ---------------------------------------------------------------------------------------------- id index
@_kernel_inline
def _hpos(key, bits, mask):
    """Home bucket of an id: its low bits xor-folded with the higher ones (locality for sequential ids)."""
    return (key ^ (key >> bits) ^ (key >> (2 * bits))) & mask


@_kernel_inline
def _hpos_of(st, key):
    """Bucket holding id ``key``, or -1. Robin Hood order lets a miss stop early."""
    mask = st.meta[M_HMASK]
    bits = st.meta[M_HSHIFT]
    htab = st.htab
    i = _hpos(key, bits, mask)
    d = 0
    while True:
        if htab[i, 1] == -1:
            return -1
        k = htab[i, 0]
        if k == key:
            return i
        if ((i - _hpos(k, bits, mask)) & mask) < d:
            return -1
        i = (i + 1) & mask
        d += 1


@_kernel_inline
def _hfind(st, key):
    """Pool slot of order id ``key``, or -1."""
    i = _hpos_of(st, key)
    if i == -1:
        return -1
    return st.htab[i, 1]


@_kernel_inline
def _hinsert(st, key, slot):
    """Insert an id that is not present (Robin Hood: the entry farther from home keeps the bucket)."""
    mask = st.meta[M_HMASK]
    bits = st.meta[M_HSHIFT]
    htab = st.htab
    i = _hpos(key, bits, mask)
    d = 0
    while True:
        if htab[i, 1] == -1:
            htab[i, 0] = key
            htab[i, 1] = slot
            return
        k = htab[i, 0]
        dk = (i - _hpos(k, bits, mask)) & mask
        if dk < d:
            v = htab[i, 1]
            htab[i, 0] = key
            htab[i, 1] = slot
            key = k
            slot = v
            d = dk
        i = (i + 1) & mask
        d += 1


@_kernel_inline
def _hdelete(st, key):
    """Remove ``key`` (present) by backward shift: stops at an empty bucket or an entry at its home."""
    mask = st.meta[M_HMASK]
    bits = st.meta[M_HSHIFT]
    htab = st.htab
    i = _hpos_of(st, key)
    j = (i + 1) & mask
    while htab[j, 1] != -1 and ((j - _hpos(htab[j, 0], bits, mask)) & mask) != 0:
        htab[i, 0] = htab[j, 0]
        htab[i, 1] = htab[j, 1]
        i = j
        j = (j + 1) & mask
    htab[i, 1] = -1


@_kernel
def order_slot(st, oid):
    """Pool slot of the resting order ``oid``, or -1 (order look-ups; the market order's id check)."""
    return _hfind(st, oid)



# ---------------------------------------------------------------------------------------------- levels
@_kernel
def _lowest_price(st, s):
    """Lowest resting price on side s (the side must be non-empty)."""
    return st.meta[M_BASE] + _next_up(st.occ, s, 0)


@_kernel
def _highest_price(st, s):
    return st.meta[M_BASE] + _next_down(st.occ, s, st.meta[M_WIN] - 1)


@_kernel
def _recentre(st, price):
    """Move the price window so that it holds every resting level and ``price``. False if impossible."""
    meta = st.meta
    W = meta[M_WIN]
    lo = price
    hi = price
    if meta[M_NBID] > 0:
        lo = min(lo, _lowest_price(st, 0))
        hi = max(hi, meta[M_BEST_BID])
    if meta[M_NASK] > 0:
        lo = min(lo, meta[M_BEST_ASK])
        hi = max(hi, _highest_price(st, 1))
    span = hi - lo + 1
    if span > W:
        return False
    new_base = lo - (W - span) // 2
    shift = new_base - meta[M_BASE]
    if shift == 0:
        return True
    lv = st.lv
    for s in range(2):
        for f in range(4):
            empty = -1 if f in (LV_HEAD, LV_TAIL) else 0
            if shift > 0:
                for i in range(W):
                    j = i + shift
                    lv[f, s, i] = lv[f, s, j] if j < W else empty
            else:
                for i in range(W - 1, -1, -1):
                    j = i + shift
                    lv[f, s, i] = lv[f, s, j] if j >= 0 else empty
        for w in range(st.occ.shape[1]):
            st.occ[s, w] = 0
        for i in range(W):
            if lv[LV_CNT, s, i] > 0:
                _set_bit(st.occ, s, i)
    meta[M_BASE] = new_base
    meta[M_RECENTRES] += 1
    return True


@_kernel_inline
def _in_window(st, price):
    idx = price - st.meta[M_BASE]
    return idx >= 0 and idx < st.meta[M_WIN]


@_kernel_inline
def _crosses(s, best_contra, price):
    """Does an order of side index s at ``price`` cross the contra side's best price?"""
    if s == 0:
        return best_contra <= price
    return best_contra >= price


@_kernel_inline
def _contra_nonempty(st, s):
    if s == 0:
        return st.meta[M_NASK] > 0
    return st.meta[M_NBID] > 0


@_kernel_inline
def _best_contra(st, s):
    if s == 0:
        return st.meta[M_BEST_ASK]
    return st.meta[M_BEST_BID]


@_kernel_inline
def _detach(st, slot):
    """Take a resting order out of its level (list, volume, count, bitmap, best price). Its slot and id-index
    entry stay: the caller frees them (:func:`_free`) or re-attaches the slot elsewhere (:func:`_attach`)."""
    meta = st.meta
    s = side_index(st.orders[slot, O_SIDE])
    price = st.orders[slot, O_PRICE]
    idx = price - meta[M_BASE]
    prv = st.orders[slot, O_PREV]
    nxt = st.orders[slot, O_NEXT]
    if prv == -1:
        st.lv[LV_HEAD, s, idx] = nxt
    else:
        st.orders[prv, O_NEXT] = nxt
    if nxt == -1:
        st.lv[LV_TAIL, s, idx] = prv
    else:
        st.orders[nxt, O_PREV] = prv
    st.lv[LV_VOL, s, idx] -= st.orders[slot, O_SIZE]
    st.lv[LV_CNT, s, idx] -= 1
    if s == 0:
        meta[M_NBID] -= 1
    else:
        meta[M_NASK] -= 1
    if st.lv[LV_CNT, s, idx] == 0:
        _clear_bit(st.occ, s, idx)
        if s == 0 and price == meta[M_BEST_BID]:
            j = _next_down(st.occ, 0, idx - 1)
            meta[M_BEST_BID] = NO_BID if j < 0 else meta[M_BASE] + j
        elif s == 1 and price == meta[M_BEST_ASK]:
            j = _next_up(st.occ, 1, idx + 1)
            meta[M_BEST_ASK] = NO_ASK if j < 0 else meta[M_BASE] + j


@_kernel_inline
def _free(st, slot):
    """Drop a detached order's id from the index and return its slot to the free list."""
    _hdelete(st, st.orders[slot, O_ID])
    st.orders[slot, O_SIZE] = 0
    st.orders[slot, O_NEXT] = st.meta[M_FREE]
    st.meta[M_FREE] = slot


@_kernel_inline
def _unlink(st, slot):
    """Remove a resting order from its level, the bitmap, the best price and the id index; free the slot."""
    _detach(st, slot)
    _free(st, slot)


@_kernel_inline
def _rest(st, s, price, size, oid, owner, ts):
    """Take a free slot for a new order, append it at the tail of its level and index its id. The caller has
    checked capacity and the window."""
    meta = st.meta
    slot = meta[M_FREE]
    meta[M_FREE] = st.orders[slot, O_NEXT]
    st.orders[slot, O_ID] = oid
    st.orders[slot, O_OWNER] = owner
    st.orders[slot, O_SIDE] = side_of(s)
    _attach(st, slot, s, price, size, ts)
    _hinsert(st, oid, slot)


@_kernel_inline
def _attach(st, slot, s, price, size, ts):
    """Append the order in ``slot`` (id, owner and side set) at the tail of level ``price`` of side index s."""
    meta = st.meta
    idx = price - meta[M_BASE]
    st.orders[slot, O_PRICE] = price
    st.orders[slot, O_SIZE] = size
    st.orders[slot, O_TS] = ts
    tail = st.lv[LV_TAIL, s, idx]
    st.orders[slot, O_PREV] = tail
    st.orders[slot, O_NEXT] = -1
    if tail == -1:
        st.lv[LV_HEAD, s, idx] = slot
        _set_bit(st.occ, s, idx)
    else:
        st.orders[tail, O_NEXT] = slot
    st.lv[LV_TAIL, s, idx] = slot
    st.lv[LV_VOL, s, idx] += size
    st.lv[LV_CNT, s, idx] += 1
    if s == 0:
        meta[M_NBID] += 1
        if price > meta[M_BEST_BID]:
            meta[M_BEST_BID] = price
    else:
        meta[M_NASK] += 1
        if price < meta[M_BEST_ASK]:
            meta[M_BEST_ASK] = price


@_kernel_inline
def _match(st, s, limit, size, taker_oid, taker_owner, ts):
    """Match an incoming order of side index s up to ``limit`` against the contra side. Returns the remainder.

    The caller has made sure the fill buffer can hold one fill per contra order.
    """
    meta = st.meta
    c = 1 - s
    aggr = side_of(s)
    base = meta[M_BASE]
    rem = size
    nf = meta[M_NFILLS]
    traded = 0
    while rem > 0:
        if c == 1:
            if meta[M_NASK] == 0:
                break
            best = meta[M_BEST_ASK]
            if best > limit:
                break
        else:
            if meta[M_NBID] == 0:
                break
            best = meta[M_BEST_BID]
            if best < limit:
                break
        idx = best - base
        slot = st.lv[LV_HEAD, c, idx]
        vol = st.lv[LV_VOL, c, idx]
        cnt = st.lv[LV_CNT, c, idx]
        removed = 0
        while rem > 0 and slot != -1:
            q = st.orders[slot, O_SIZE]
            tr = q if q < rem else rem
            st.fills[nf, F_TS] = ts
            st.fills[nf, F_PRICE] = best
            st.fills[nf, F_SIZE] = tr
            st.fills[nf, F_MAKER_OID] = st.orders[slot, O_ID]
            st.fills[nf, F_TAKER_OID] = taker_oid
            st.fills[nf, F_MAKER_OWNER] = st.orders[slot, O_OWNER]
            st.fills[nf, F_TAKER_OWNER] = taker_owner
            st.fills[nf, F_AGGR] = aggr
            nf += 1
            rem -= tr
            vol -= tr
            traded += tr
            if tr == q:
                nxt = st.orders[slot, O_NEXT]
                _hdelete(st, st.orders[slot, O_ID])
                st.orders[slot, O_SIZE] = 0
                st.orders[slot, O_NEXT] = meta[M_FREE]
                meta[M_FREE] = slot
                removed += 1
                slot = nxt
            else:
                st.orders[slot, O_SIZE] = q - tr
        st.lv[LV_HEAD, c, idx] = slot
        if slot == -1:
            st.lv[LV_TAIL, c, idx] = -1
        else:
            st.orders[slot, O_PREV] = -1
        st.lv[LV_VOL, c, idx] = vol
        st.lv[LV_CNT, c, idx] = cnt - removed
        if c == 1:
            meta[M_NASK] -= removed
        else:
            meta[M_NBID] -= removed
        if cnt == removed:
            _clear_bit(st.occ, c, idx)
            if c == 1:
                j = _next_up(st.occ, 1, idx + 1)
                meta[M_BEST_ASK] = NO_ASK if j < 0 else base + j
            else:
                j = _next_down(st.occ, 0, idx - 1)
                meta[M_BEST_BID] = NO_BID if j < 0 else base + j
    meta[M_TOTAL_FILLS] += nf - meta[M_NFILLS]
    meta[M_TOTAL_VOLUME] += traded
    meta[M_NFILLS] = nf
    return rem


@_kernel_inline
def _fill_room(st, s):
    """Can the fill buffer hold a fill against every resting contra order?"""
    n_contra = st.meta[M_NASK] if s == 0 else st.meta[M_NBID]
    return st.meta[M_NFILLS] + n_contra <= st.meta[M_FILLCAP]


# ---------------------------------------------------------------------------------------------- operations
@_kernel_inline
def _limit(st, side, price, size, oid, owner, ts, flags):
    """The body of :func:`limit_order`; the caller has refused unknown flag bits."""
    if _bad_side(side):
        return ERR_BAD_SIDE, 0
    s = side_index(side)
    if _bad_price(price):
        return ERR_BAD_PRICE, 0
    if _bad_size(size):
        return ERR_BAD_SIZE, 0
    if _hfind(st, oid) != -1:
        return ERR_DUPLICATE_ID, 0
    crosses = _contra_nonempty(st, s) and _crosses(s, _best_contra(st, s), price)
    if crosses:
        if flags & FLAG_POST_ONLY:
            return POST_ONLY_REJECTED, 0
        if not _fill_room(st, s):
            return FILLS_FULL, 0
    if not (flags & FLAG_IOC):
        # A crossing order needs no free slot up front: if any of it is left to rest, it has consumed at
        # least one whole contra level first, which freed at least one slot.
        if not crosses and st.meta[M_FREE] == -1:
            return ERR_CAPACITY, 0
        if not _in_window(st, price) and not _recentre(st, price):
            return ERR_PRICE_WINDOW, 0
    rem = size
    if crosses:
        rem = _match(st, s, price, size, oid, owner, ts)
    if rem > 0 and not (flags & FLAG_IOC):
        _rest(st, s, price, rem, oid, owner, ts)
    return OK, size - rem


@_kernel_inline
def _market(st, side, size, oid, owner, ts):
    if _bad_side(side):
        return ERR_BAD_SIDE, 0
    s = side_index(side)
    if _bad_size(size):
        return ERR_BAD_SIZE, 0
    if order_slot(st, oid) != -1:  # a call, not inlined: market orders are rare and the batch loop stays small
        return ERR_DUPLICATE_ID, 0
    if not _fill_room(st, s):
        return FILLS_FULL, 0
    limit = MARKET_BUY_LIMIT if s == 0 else MARKET_SELL_LIMIT
    rem = _match(st, s, limit, size, oid, owner, ts)
    return OK, size - rem


@_kernel
def limit_order(st, side, price, size, oid, owner, ts, flags):
    """Submit a limit order. Returns (status, filled lots). Atomic: on an error nothing changes.

    ``price`` in ``[1, PRICE_LIMIT]`` ticks, ``size`` in ``[1, MAX_SIZE]`` lots, ``oid`` not resting, ``flags``
    a combination of ``FLAG_IOC`` and ``FLAG_POST_ONLY``."""
    if flags & ~KNOWN_FLAGS:
        return ERR_BAD_FLAGS, 0
    return _limit(st, side, price, size, oid, owner, ts, flags)


@_kernel
def market_order(st, side, size, oid, owner, ts):
    """Submit a market order. Returns (status, filled lots); ``size - filled`` found no liquidity.

    ``size`` in ``[1, MAX_SIZE]`` lots; ``oid`` must not be resting (an order never trades with itself as both
    maker and taker). Atomic: on an error nothing changes."""
    return _market(st, side, size, oid, owner, ts)


@_kernel_inline
def _cancel(st, oid):
    slot = _hfind(st, oid)
    if slot == -1:
        return ERR_UNKNOWN_ID, 0
    q = st.orders[slot, O_SIZE]
    _unlink(st, slot)
    return OK, q


@_kernel_inline
def _reduce(st, oid, by):
    if _bad_size(by):
        return ERR_BAD_SIZE, 0
    slot = _hfind(st, oid)
    if slot == -1:
        return ERR_UNKNOWN_ID, 0
    q = st.orders[slot, O_SIZE]
    if by >= q:
        _unlink(st, slot)
        return OK, q
    st.orders[slot, O_SIZE] = q - by
    s = side_index(st.orders[slot, O_SIDE])
    st.lv[LV_VOL, s, st.orders[slot, O_PRICE] - st.meta[M_BASE]] -= by
    return OK, by


@_kernel_inline
def _modify(st, oid, price, size, ts, flags):
    """The body of :func:`modify`; the caller has refused unknown flag bits."""
    if _bad_price(price):
        return ERR_BAD_PRICE, 0
    if _bad_size(size):
        return ERR_BAD_SIZE, 0
    slot = _hfind(st, oid)
    if slot == -1:
        return ERR_UNKNOWN_ID, 0
    q = st.orders[slot, O_SIZE]
    old_price = st.orders[slot, O_PRICE]
    s = side_index(st.orders[slot, O_SIDE])
    if price == old_price and size <= q:
        if size < q:
            st.orders[slot, O_SIZE] = size
            st.lv[LV_VOL, s, old_price - st.meta[M_BASE]] -= q - size
        return OK, 0
    crosses = _contra_nonempty(st, s) and _crosses(s, _best_contra(st, s), price)
    if crosses:
        if flags & FLAG_POST_ONLY:
            return POST_ONLY_REJECTED, 0
        if not _fill_room(st, s):
            return FILLS_FULL, 0
    # the window must hold the new price; it is tried with the old order still resting (atomicity)
    if not (flags & FLAG_IOC) and not _in_window(st, price) and not _recentre(st, price):
        return ERR_PRICE_WINDOW, 0
    # Equivalent to cancel + a new limit order with the same id and owner, but the order keeps its pool slot
    # and its id-index entry while it is out of the book (it cannot trade with itself: it is detached).
    _detach(st, slot)
    rem = size
    if crosses:
        rem = _match(st, s, price, size, oid, st.orders[slot, O_OWNER], ts)
    if rem > 0 and not (flags & FLAG_IOC):
        _attach(st, slot, s, price, rem, ts)
    else:
        _free(st, slot)
    return OK, size - rem


@_kernel
def modify(st, oid, price, size, ts, flags):
    """Change a resting order's price and/or total remaining size. Returns (status, filled lots).

    Same price and a size no larger than now: reduced in place, priority kept. A new price or a larger size:
    the order loses priority (it leaves the book and re-enters at the tail with the same id and owner, as a new
    limit order would, and may trade). ``price`` in ``[1, PRICE_LIMIT]`` ticks, ``size`` in ``[1, MAX_SIZE]``
    lots. Atomic: on an error the original order is untouched.
    """
    if flags & ~KNOWN_FLAGS:
        return ERR_BAD_FLAGS, 0
    return _modify(st, oid, price, size, ts, flags)


@_kernel_inline
def _execute(st, oid, size, ts, taker_oid, taker_owner):
    if _bad_size(size):
        return ERR_BAD_SIZE, 0
    slot = _hfind(st, oid)
    if slot == -1:
        return ERR_UNKNOWN_ID, 0
    q = st.orders[slot, O_SIZE]
    if size > q:
        return ERR_BAD_SIZE, 0
    meta = st.meta
    nf = meta[M_NFILLS]
    if nf >= meta[M_FILLCAP]:
        return FILLS_FULL, 0
    side = st.orders[slot, O_SIDE]
    st.fills[nf, F_TS] = ts
    st.fills[nf, F_PRICE] = st.orders[slot, O_PRICE]
    st.fills[nf, F_SIZE] = size
    st.fills[nf, F_MAKER_OID] = oid
    st.fills[nf, F_TAKER_OID] = taker_oid
    st.fills[nf, F_MAKER_OWNER] = st.orders[slot, O_OWNER]
    st.fills[nf, F_TAKER_OWNER] = taker_owner
    st.fills[nf, F_AGGR] = -np.int64(side)
    meta[M_NFILLS] = nf + 1
    meta[M_TOTAL_FILLS] += 1
    meta[M_TOTAL_VOLUME] += size
    if size == q:
        _unlink(st, slot)
    else:
        st.orders[slot, O_SIZE] = q - size
        st.lv[LV_VOL, side_index(side), st.orders[slot, O_PRICE] - meta[M_BASE]] -= size
    return OK, size


# Public kernels over the inlined bodies above: callers that want the bodies inlined into their own loop
# (apply_one for limit, market, cancel and modify; the LOBSTER replay kernel) use the underscored forms; everyone
# else calls these. apply_one calls reduce and execute rather than inlining them: rare in order-entry streams,
# their inlined code measurably slowed the limit path of the batch loop (about 4% on the liquibook stream).
@_kernel
def cancel(st, oid):
    """Cancel a whole resting order. Returns (status, cancelled lots)."""
    return _cancel(st, oid)


@_kernel
def reduce(st, oid, by):
    """Partial cancel: take ``by`` lots off a resting order, keeping its priority. Reducing by the whole
    remaining size (or more) cancels it. Returns (status, cancelled lots)."""
    return _reduce(st, oid, by)


@_kernel
def execute(st, oid, size, ts, taker_oid, taker_owner):
    """Execute ``size`` lots of one resting order (a venue's execution by id). Returns (status, lots).

    ``taker_oid``/``taker_owner`` only label the fill (the venue's aggressor never enters this book)."""
    return _execute(st, oid, size, ts, taker_oid, taker_owner)


@_kernel_inline
def apply_one(st, op, side, flags, price, size, oid, owner, ts):
    """Dispatch one message. Returns (status, lots filled/cancelled/executed). Unknown flag bits are refused
    for every op (``ERR_BAD_FLAGS``), before the op code is looked at."""
    if flags & ~KNOWN_FLAGS:
        return ERR_BAD_FLAGS, 0
    if op == OP_LIMIT:
        return _limit(st, side, price, size, oid, owner, ts, flags)
    if op == OP_MARKET:
        return _market(st, side, size, oid, owner, ts)
    if op == OP_CANCEL:
        return _cancel(st, oid)
    if op == OP_REDUCE:
        return reduce(st, oid, size)  # calls, not inlined: a smaller dispatch loop keeps limit orders fast
    if op == OP_MODIFY:
        return _modify(st, oid, price, size, ts, flags)
    if op == OP_EXECUTE:
        return execute(st, oid, size, ts, -1, owner)
    return ERR_BAD_OP, 0


@_kernel
def apply_batch(st, ts, op, side, flags, price, size, oid, owner, out_status, out_qty, start, stop_on_error):
    """Apply messages ``start..n`` in one call. Writes each message's status and quantity.

    Returns (next index, status): stops early, before the message, with FILLS_FULL when the fill buffer must
    be drained; and after the message with its status when ``stop_on_error`` and it failed.
    """
    n = op.shape[0]
    for i in range(start, n):
        s, q = apply_one(st, op[i], side[i], flags[i], price[i], size[i], oid[i], owner[i], ts[i])
        if s == FILLS_FULL:
            return i, s
        out_status[i] = s
        out_qty[i] = q
        if stop_on_error and s != OK and s != POST_ONLY_REJECTED:
            return i + 1, s
    return n, OK


@_kernel
def apply_messages(st, messages, out_status, out_qty, start, stop_on_error):
    """:func:`apply_batch` over a ``MESSAGE_DTYPE`` record array read in place (no column copies): what
    :meth:`lobkit.engine.book.OrderBook.apply` calls.

    Returns (next index, status, largest id of a limit or market message applied, or ``NO_BID`` if none).
    """
    n = messages.shape[0]
    top_oid = NO_BID
    for i in range(start, n):
        m = messages[i]
        op = m.op
        s, q = apply_one(st, op, m.side, m.flags, m.price, m.size, m.oid, m.owner, m.ts)
        if s == FILLS_FULL:
            return i, s, top_oid
        out_status[i] = s
        out_qty[i] = q
        if (op == OP_LIMIT or op == OP_MARKET) and m.oid > top_oid:  # noqa: SIM109 (jitted)
            top_oid = m.oid
        if stop_on_error and s != OK and s != POST_ONLY_REJECTED:
            return i + 1, s, top_oid
    return n, OK, top_oid


# ---------------------------------------------------------------------------------------------- queries
@_kernel
def top_levels(st, s, depth, out_price, out_vol, out_cnt):
    """Write the best ``depth`` levels of side index s (0 bids, 1 asks), best first. Returns how many."""
    meta = st.meta
    base = meta[M_BASE]
    n = 0
    if s == 0:
        if meta[M_NBID] == 0:
            return 0
        j = meta[M_BEST_BID] - base
        while n < depth and j >= 0:
            out_price[n] = base + j
            out_vol[n] = st.lv[LV_VOL, 0, j]
            out_cnt[n] = st.lv[LV_CNT, 0, j]
            n += 1
            j = _next_down(st.occ, 0, j - 1)
    else:
        if meta[M_NASK] == 0:
            return 0
        j = meta[M_BEST_ASK] - base
        while n < depth and j >= 0:
            out_price[n] = base + j
            out_vol[n] = st.lv[LV_VOL, 1, j]
            out_cnt[n] = st.lv[LV_CNT, 1, j]
            n += 1
            j = _next_up(st.occ, 1, j + 1)
    return n


@_kernel
def level_orders(st, s, price, out_oid, out_size, out_owner):
    """Orders resting at one price of side index s, in queue order. Returns how many."""
    idx = price - st.meta[M_BASE]
    if idx < 0 or idx >= st.meta[M_WIN]:
        return 0
    slot = st.lv[LV_HEAD, s, idx]
    n = 0
    while slot != -1:
        out_oid[n] = st.orders[slot, O_ID]
        out_size[n] = st.orders[slot, O_SIZE]
        out_owner[n] = st.orders[slot, O_OWNER]
        n += 1
        slot = st.orders[slot, O_NEXT]
    return n


@_kernel
def snapshot(st, out):
    """Write every resting order as a row (side, price, oid, size, owner, ts) of ``out`` (int64[n, 6]):
    bids best price first, then asks best price first, each level in queue order. Returns the row count.
    ``out`` must have a row per resting order (``meta[M_NBID] + meta[M_NASK]``)."""
    meta = st.meta
    base = meta[M_BASE]
    n = 0
    for s in range(2):
        if s == 0:
            j = meta[M_BEST_BID] - base if meta[M_NBID] > 0 else -1
        else:
            j = meta[M_BEST_ASK] - base if meta[M_NASK] > 0 else -1
        while j >= 0:
            slot = st.lv[LV_HEAD, s, j]
            while slot != -1 and n < out.shape[0]:
                out[n, 0] = st.orders[slot, O_SIDE]
                out[n, 1] = base + j
                out[n, 2] = st.orders[slot, O_ID]
                out[n, 3] = st.orders[slot, O_SIZE]
                out[n, 4] = st.orders[slot, O_OWNER]
                out[n, 5] = st.orders[slot, O_TS]
                n += 1
                slot = st.orders[slot, O_NEXT]
            if s == 0:
                j = _next_down(st.occ, 0, j - 1)
            else:
                j = _next_up(st.occ, 1, j + 1)
    return n


@_kernel
def check_state(st):
    """Verify the state's internal consistency (for tests and debugging). Returns 0 when consistent, else the
    number of the first broken invariant:

    1 a level's linked list is broken (prev links, tail, an order's price or side, a size <= 0, a cycle);
    2 a level's order count or volume differs from its orders; 3 the bitmap disagrees with the counts;
    4 the resting counts differ; 5 a best price is wrong; 6 the book is crossed at rest;
    7 an order's id does not map to its slot; 8 the id index holds a different number of entries;
    9 resting orders + free slots != capacity.
    """
    meta = st.meta
    base = meta[M_BASE]
    W = meta[M_WIN]
    C = st.orders.shape[0]
    tot0 = 0
    tot1 = 0
    hi_bid = -1
    lo_ask = -1
    for s in range(2):
        side = side_of(s)
        for i in range(W):
            slot = st.lv[LV_HEAD, s, i]
            prev = -1
            cnt = 0
            vol = 0
            while slot != -1:
                if slot < 0 or slot >= C or cnt > C:
                    return 1
                if st.orders[slot, O_PREV] != prev or st.orders[slot, O_PRICE] != base + i:
                    return 1
                if st.orders[slot, O_SIDE] != side or st.orders[slot, O_SIZE] <= 0:
                    return 1
                if _hfind(st, st.orders[slot, O_ID]) != slot:
                    return 7
                cnt += 1
                vol += st.orders[slot, O_SIZE]
                prev = slot
                slot = st.orders[slot, O_NEXT]
            if st.lv[LV_TAIL, s, i] != prev:
                return 1
            if st.lv[LV_CNT, s, i] != cnt or st.lv[LV_VOL, s, i] != vol:
                return 2
            bit = (st.occ[s, i >> 6] >> np.uint64(i & 63)) & np.uint64(1)
            if (bit == 1) != (cnt > 0):
                return 3
            if s == 0:
                tot0 += cnt
            else:
                tot1 += cnt
            if cnt > 0:
                if s == 0:
                    hi_bid = i
                elif lo_ask == -1:
                    lo_ask = i
    if tot0 != meta[M_NBID] or tot1 != meta[M_NASK]:
        return 4
    if (hi_bid == -1 and meta[M_BEST_BID] != NO_BID) or (hi_bid != -1 and meta[M_BEST_BID] != base + hi_bid):
        return 5
    if (lo_ask == -1 and meta[M_BEST_ASK] != NO_ASK) or (lo_ask != -1 and meta[M_BEST_ASK] != base + lo_ask):
        return 5
    if hi_bid != -1 and lo_ask != -1 and hi_bid >= lo_ask:
        return 6
    used = 0
    for h in range(st.htab.shape[0]):
        if st.htab[h, 1] != -1:
            used += 1
    if used != tot0 + tot1:
        return 8
    nfree = 0
    f = meta[M_FREE]
    while f != -1 and nfree <= C:
        nfree += 1
        f = st.orders[f, O_NEXT]
    if nfree + tot0 + tot1 != C:
        return 9
    return 0
