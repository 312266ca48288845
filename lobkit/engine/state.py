"""The engine's state: a NamedTuple of preallocated arrays that jitted kernels receive and mutate.

Layout (C = order capacity, W = price window in ticks, H = hash slots, F = fill capacity):

* order pool: ``orders`` (int64[C, 8], one 64-byte cache-line-aligned record per order, columns ``O_*``:
  id, price, size, owner, ts, side, next, prev): each price level is a doubly linked FIFO of pool slots; free
  slots form a singly linked free list through the ``next`` column. One record per cache line matters: a fill
  touches the maker's id, size, owner and next link together.
* price levels: ``lv`` (int64[4, 2, W]): ``lv[LV_HEAD|LV_TAIL|LV_VOL|LV_CNT, side, i]``; side 0 is the bid side,
  1 the ask side; level ``i`` holds price ``base + i``. ``occ`` (uint64[2, W/64]) is a bitmap of non-empty
  levels, so the next best price is found a 64-level word at a time, never by scanning the whole book.
* id index: open-addressing Robin Hood hash table ``htab`` (int64[H, 2]: key, slot; slot -1 is empty) mapping
  an order id to its pool slot: cancel by id in O(1), any int64 ids (LOBSTER's are sparse). The hash keeps the
  low bits of the id (xor-folded with the high ones), so the near-sequential ids of real feeds and of the
  simulator hit neighbouring buckets, and Robin Hood deletion stops at the first entry sitting at home.
* fills: ``fills`` (int64[F, 8], columns ``F_*``), which :func:`fills_view` shows as ``FILL_DTYPE`` records
  without copying.
* ``meta`` (int64[16]): the scalars (base price, best bid/ask, counters), indexed by the ``M_*`` constants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lobkit.engine.messages import FILL_DTYPE, NO_ASK, NO_BID

M_BASE = 0  # price (ticks) of level 0
M_WIN = 1  # window width W (a multiple of 64)
M_BEST_BID = 2  # best bid price, NO_BID when the bid side is empty
M_BEST_ASK = 3  # best ask price, NO_ASK when the ask side is empty
M_NFILLS = 4  # fills currently in the buffer
M_FREE = 5  # head of the free-slot list (-1: pool full)
M_NBID = 6  # resting bid orders
M_NASK = 7  # resting ask orders
M_HMASK = 8  # hash slots - 1
M_HSHIFT = 9  # log2(hash slots)
M_RECENTRES = 10  # how many times the window moved
M_FILLCAP = 11  # fill buffer capacity F
M_TOTAL_FILLS = 12  # fills since construction (not reset by draining)
M_TOTAL_VOLUME = 13  # lots traded since construction (a running count: it wraps around after 2**63 lots, so
#                       only differences over spans of less than that are meaningful)
META_LEN = 16

# planes of the level array
LV_HEAD = 0
LV_TAIL = 1
LV_VOL = 2
LV_CNT = 3

# columns of the fill records (the order of FILL_DTYPE's fields)
F_TS = 0
F_PRICE = 1
F_SIZE = 2
F_MAKER_OID = 3
F_TAKER_OID = 4
F_MAKER_OWNER = 5
F_TAKER_OWNER = 6
F_AGGR = 7

# columns of the order records
O_ID = 0
O_PRICE = 1
O_SIZE = 2
O_OWNER = 3
O_TS = 4
O_SIDE = 5
O_NEXT = 6
O_PREV = 7
O_COLS = 8


class BookState(NamedTuple):
    """Six arrays: few enough that passing the state between kernels costs little."""

    meta: np.ndarray
    orders: np.ndarray
    lv: np.ndarray
    occ: np.ndarray
    htab: np.ndarray
    fills: np.ndarray


def alloc_state(capacity: int, window: int, fill_capacity: int, base_price: int = 0) -> BookState:
    """Allocate an empty book. ``window`` is rounded up to a multiple of 64.

    Callers validate arguments (see :class:`lobkit.engine.book.OrderBook`); this only allocates.
    """
    C = int(capacity)
    W = ((int(window) + 63) // 64) * 64
    F = int(fill_capacity)
    H = 1
    while H < 2 * C:
        H *= 2
    H = max(H, 2)
    meta = np.zeros(META_LEN, dtype=np.int64)
    meta[M_BASE] = int(base_price)
    meta[M_WIN] = W
    meta[M_BEST_BID] = NO_BID
    meta[M_BEST_ASK] = NO_ASK
    meta[M_FREE] = 0 if C > 0 else -1
    meta[M_HMASK] = H - 1
    meta[M_HSHIFT] = H.bit_length() - 1  # log2(H)
    meta[M_FILLCAP] = F
    orders = _aligned_zeros((C, O_COLS))
    orders[:, O_NEXT] = np.arange(1, C + 1, dtype=np.int64)
    if C:
        orders[-1, O_NEXT] = -1
    orders[:, O_PREV] = -1
    htab = _aligned_zeros((H, 2))
    htab[:, 1] = -1
    lv = _committed((4, 2, W), np.int64, 0)
    lv[LV_HEAD] = -1
    lv[LV_TAIL] = -1
    return BookState(
        meta=meta,
        orders=orders,
        lv=lv,
        occ=_committed((2, W // 64), np.uint64, 0),
        htab=htab,
        fills=_aligned_zeros((F, 8)),
    )


def _committed(shape, dtype, value) -> np.ndarray:
    """An array filled with ``value`` whose pages are all touched now.

    ``np.zeros`` maps pages lazily; the first write to each would then fault (and the kernel zero it) in the
    middle of a run. Preallocated means committed: that cost is paid here, at construction.
    """
    a = np.empty(shape, dtype=dtype)
    a.fill(value)
    return a


def _aligned_zeros(shape: tuple[int, int]) -> np.ndarray:
    """A zeroed, committed C-contiguous int64 array whose data starts on a 64-byte boundary."""
    n = shape[0] * shape[1]
    raw = _committed(n + 8, np.int64, 0)
    off = (-raw.ctypes.data % 64) // 8
    return raw[off : off + n].reshape(shape)


def fills_view(fills: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` fill records as a ``FILL_DTYPE`` structured array (a view, no copy)."""
    return fills[:n].reshape(-1).view(FILL_DTYPE)
