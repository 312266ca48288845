"""``ReferenceBook``: a slow, plain-Python limit order book built the classic way. The oracle for tests and
the baseline in the benchmark.

* Two heaps of price levels: bids a max-heap (prices stored negated), asks a min-heap.
* One FIFO ``deque`` of orders per price level (price-time priority).
* Lazy deletion: a cancelled order is only marked dead and dropped from the id dict; the queue skips it when it
  reaches the front. An emptied level is dropped from the level dicts; its heap entry is skipped when it
  reaches the top.

Semantics are exactly those of the jitted kernels (``lobkit.engine.nb``), status codes included, and the
public API and results are :class:`lobkit.engine.book.OrderBook`'s (both derive from
:class:`lobkit.engine.book.BookAPI`), so tests compare the two directly:

* every message: flag bits other than IOC and post-only -> ``ERR_BAD_FLAGS``; an unknown op -> ``ERR_BAD_OP``.
* limit: bad side -> ``ERR_BAD_SIDE``; price outside ``[1, PRICE_LIMIT]`` -> ``ERR_BAD_PRICE``; size outside
  ``[1, MAX_SIZE]`` -> ``ERR_BAD_SIZE``; id resting -> ``ERR_DUPLICATE_ID``; would cross and post-only ->
  ``POST_ONLY_REJECTED``; unless IOC: a book at capacity rejects an order that does not cross
  (``ERR_CAPACITY``; a crossing order frees a slot before it rests), and a price outside the window re-centres
  it or, if the resting orders and the price span more than the window, is rejected (``ERR_PRICE_WINDOW``).
  Then match (price-time, self-match allowed) and rest the remainder unless IOC.
* market: bad side, bad size, id resting (``ERR_DUPLICATE_ID``: an order never trades with itself as maker
  and taker) as for a limit; then match without a price limit; the remainder is reported, not rested.
* cancel / reduce (size checked first; ``by >= size`` cancels; otherwise keeps priority) / execute (size
  checked first, then the id, then ``size <= resting``).
* modify: price, then size, then the id. Same price and size <= now: reduce in place, priority kept.
  Otherwise post-only and window checks are made with the old order still resting, then it is removed and
  re-entered as a limit order (same id and owner, new ts; it may trade).

The window (``window=None``: unbounded) and capacity (``capacity=None``: unbounded) are modelled only so that
the oracle can check those rules too: the window's position follows the kernels' re-centring formula.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np

from lobkit.engine.book import (
    EMPTY_FILLS,
    L2_DTYPE,
    L3_DTYPE,
    BookAPI,
    OrderInfo,
    _window_base,
    check_config,
)
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
    FILL_DTYPE,
    FLAG_IOC,
    FLAG_POST_ONLY,
    KNOWN_FLAGS,
    MAX_SIZE,
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


def _side_index(side) -> int:
    """0 for BUY (bids), 1 for SELL (asks), -1 for anything else (the kernels' side index)."""
    return 0 if side == BUY else 1 if side == SELL else -1


def _side_of(s: int) -> int:
    """The order side of side index s."""
    return BUY if s == 0 else SELL


def _bad_price(price) -> bool:
    return not 1 <= price <= PRICE_LIMIT


def _bad_size(size) -> bool:
    return not 1 <= size <= MAX_SIZE


class _Order:
    __slots__ = ("oid", "side", "price", "size", "owner", "ts", "alive")

    def __init__(self, oid, side, price, size, owner, ts):
        self.oid = oid
        self.side = side
        self.price = price
        self.size = size
        self.owner = owner
        self.ts = ts
        self.alive = True


class ReferenceBook(BookAPI):
    """The oracle order book. Same constructor arguments as ``OrderBook`` except that ``capacity`` and
    ``window`` may be None (unbounded, the default)."""

    def __init__(
        self,
        capacity: int | None = None,
        window: int | None = None,
        *,
        fill_capacity: int | None = None,
        tick_size: float = 0.01,
        lot_size: float = 1.0,
        center: int | None = None,
        keep_fills: bool = True,
    ) -> None:
        cap, win, _, tick_size, lot_size = check_config(
            1 if capacity is None else capacity,
            64 if window is None else window,
            fill_capacity if capacity is not None else None,
            tick_size,
            lot_size,
            center,
        )
        self.capacity = None if capacity is None else cap
        if window is None:
            self.window, self.base = None, 0
        else:
            self.window, self.base = _window_base(win, center)
        self.recentres = 0
        self._orders: dict[int, _Order] = {}
        self._queue: tuple[dict, dict] = ({}, {})  # side index (0 bids, 1 asks) -> price -> deque of _Order
        self._count: tuple[dict, dict] = ({}, {})  # side index -> price -> live orders at that price
        self._heap: tuple[list, list] = ([], [])  # bids: -price (max-heap), asks: price (min-heap)
        self._init_common(tick_size, lot_size, keep_fills)

    # ---------------------------------------------------------------------------------------- levels
    def _best_price(self, s: int) -> int | None:
        """Best price of side index s, popping stale heap entries (lazy deletion)."""
        heap, count = self._heap[s], self._count[s]
        while heap:
            p = -heap[0] if s == 0 else heap[0]
            if count.get(p, 0) > 0:
                return p
            heapq.heappop(heap)
        return None

    def _kill(self, o: _Order) -> None:
        """Remove a live order (its queue entry stays, dead, until it reaches the front)."""
        s = _side_index(o.side)
        o.alive = False
        del self._orders[o.oid]
        self._count[s][o.price] -= 1
        if self._count[s][o.price] == 0:
            del self._count[s][o.price]
            del self._queue[s][o.price]

    def _rest(self, s, price, size, oid, owner, ts) -> None:
        if price not in self._count[s]:
            self._count[s][price] = 0
            self._queue[s][price] = deque()
            heapq.heappush(self._heap[s], -price if s == 0 else price)
        o = _Order(oid, _side_of(s), price, size, owner, ts)
        self._queue[s][price].append(o)
        self._count[s][price] += 1
        self._orders[oid] = o

    def _crosses(self, s, price) -> bool:
        best = self._best_price(1 - s)
        if best is None:
            return False
        return best <= price if s == 0 else best >= price

    def _in_window(self, price) -> bool:
        return self.window is None or self.base <= price < self.base + self.window

    def _recentre(self, price) -> bool:
        """The kernels' rule: the window must hold every resting price and ``price``; centre the span."""
        prices = [price, *self._count[0], *self._count[1]]
        lo, hi = min(prices), max(prices)
        span = hi - lo + 1
        if span > self.window:
            return False
        new_base = lo - (self.window - span) // 2
        if new_base != self.base:
            self.base = new_base
            self.recentres += 1
        return True

    def _match(self, s, limit, size, taker_oid, taker_owner, ts, fills) -> int:
        """Trade an incoming order of side index s against the other side up to ``limit`` (None: no limit)."""
        c = 1 - s
        aggr = _side_of(s)
        rem = size
        while rem > 0:
            best = self._best_price(c)
            if best is None or (limit is not None and (best > limit if c == 1 else best < limit)):
                break
            q = self._queue[c][best]
            while rem > 0 and best in self._count[c]:
                o = q[0]
                if not o.alive:
                    q.popleft()
                    continue
                tr = min(o.size, rem)
                fills.append((ts, best, tr, o.oid, taker_oid, o.owner, taker_owner, aggr))
                o.size -= tr
                rem -= tr
                if o.size == 0:
                    q.popleft()
                    self._kill(o)
        return rem

    @staticmethod
    def _fill_array(fills: list) -> np.ndarray:
        return np.array(fills, dtype=FILL_DTYPE) if fills else EMPTY_FILLS

    # ---------------------------------------------------------------------------------------- raw operations
    def _op_limit(self, side, price, size, oid, owner, ts, flags):
        if flags & ~KNOWN_FLAGS:
            return ERR_BAD_FLAGS, 0, EMPTY_FILLS
        s = _side_index(side)
        if s < 0:
            return ERR_BAD_SIDE, 0, EMPTY_FILLS
        if _bad_price(price):
            return ERR_BAD_PRICE, 0, EMPTY_FILLS
        if _bad_size(size):
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        if oid in self._orders:
            return ERR_DUPLICATE_ID, 0, EMPTY_FILLS
        crosses = self._crosses(s, price)
        if crosses and flags & FLAG_POST_ONLY:
            return POST_ONLY_REJECTED, 0, EMPTY_FILLS
        ioc = bool(flags & FLAG_IOC)
        if not ioc:
            if not crosses and self.capacity is not None and len(self._orders) >= self.capacity:
                return ERR_CAPACITY, 0, EMPTY_FILLS
            if not self._in_window(price) and not self._recentre(price):
                return ERR_PRICE_WINDOW, 0, EMPTY_FILLS
        fills: list = []
        rem = self._match(s, price, size, oid, owner, ts, fills) if crosses else size
        if rem > 0 and not ioc:
            self._rest(s, price, rem, oid, owner, ts)
        return OK, size - rem, self._fill_array(fills)

    def _op_market(self, side, size, oid, owner, ts):
        s = _side_index(side)
        if s < 0:
            return ERR_BAD_SIDE, 0, EMPTY_FILLS
        if _bad_size(size):
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        if oid in self._orders:
            return ERR_DUPLICATE_ID, 0, EMPTY_FILLS
        fills: list = []
        rem = self._match(s, None, size, oid, owner, ts, fills)
        return OK, size - rem, self._fill_array(fills)

    def _op_cancel(self, oid):
        o = self._orders.get(oid)
        if o is None:
            return ERR_UNKNOWN_ID, 0, EMPTY_FILLS
        q = o.size
        self._kill(o)
        return OK, q, EMPTY_FILLS

    def _op_reduce(self, oid, by):
        if _bad_size(by):
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        o = self._orders.get(oid)
        if o is None:
            return ERR_UNKNOWN_ID, 0, EMPTY_FILLS
        if by >= o.size:
            q = o.size
            self._kill(o)
            return OK, q, EMPTY_FILLS
        o.size -= by
        return OK, by, EMPTY_FILLS

    def _op_modify(self, oid, price, size, ts, flags):
        if flags & ~KNOWN_FLAGS:
            return ERR_BAD_FLAGS, 0, EMPTY_FILLS
        if _bad_price(price):
            return ERR_BAD_PRICE, 0, EMPTY_FILLS
        if _bad_size(size):
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        o = self._orders.get(oid)
        if o is None:
            return ERR_UNKNOWN_ID, 0, EMPTY_FILLS
        if price == o.price and size <= o.size:
            o.size = size  # in place: keeps its place in the queue
            return OK, 0, EMPTY_FILLS
        s = _side_index(o.side)
        if flags & FLAG_POST_ONLY and self._crosses(s, price):
            return POST_ONLY_REJECTED, 0, EMPTY_FILLS
        if not flags & FLAG_IOC and not self._in_window(price) and not self._recentre(price):
            return ERR_PRICE_WINDOW, 0, EMPTY_FILLS
        self._kill(o)
        return self._op_limit(o.side, price, size, oid, o.owner, ts, flags)

    def _op_execute(self, oid, size, ts, taker_oid, taker_owner):
        if _bad_size(size):
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        o = self._orders.get(oid)
        if o is None:
            return ERR_UNKNOWN_ID, 0, EMPTY_FILLS
        if size > o.size:
            return ERR_BAD_SIZE, 0, EMPTY_FILLS
        fill = (ts, o.price, size, oid, taker_oid, o.owner, taker_owner, -o.side)
        o.size -= size
        if o.size == 0:
            self._kill(o)
        return OK, size, self._fill_array([fill])

    def _apply_one(self, op, side, flags, price, size, oid, owner, ts):
        if flags & ~KNOWN_FLAGS:
            return ERR_BAD_FLAGS, 0, EMPTY_FILLS
        if op == OP_LIMIT:
            return self._op_limit(side, price, size, oid, owner, ts, flags)
        if op == OP_MARKET:
            return self._op_market(side, size, oid, owner, ts)
        if op == OP_CANCEL:
            return self._op_cancel(oid)
        if op == OP_REDUCE:
            return self._op_reduce(oid, size)
        if op == OP_MODIFY:
            return self._op_modify(oid, price, size, ts, flags)
        if op == OP_EXECUTE:
            return self._op_execute(oid, size, ts, -1, owner)
        return ERR_BAD_OP, 0, EMPTY_FILLS

    def _apply_messages(self, messages, strict):
        """Apply the messages one at a time. Returns what :meth:`OrderBook._apply_messages` does."""
        n = len(messages)
        status = np.zeros(n, dtype=np.int8)
        qty = np.zeros(n, dtype=np.int64)
        chunks = []
        top_oid = NO_BID
        names = ("op", "side", "flags", "price", "size", "oid", "owner", "ts")
        rows = zip(*(messages[k].tolist() for k in names), strict=True)
        for i, row in enumerate(rows):
            s, q, f = self._apply_one(*row)
            status[i] = s
            qty[i] = q
            if len(f):
                chunks.append(f)
            if row[0] in (OP_LIMIT, OP_MARKET) and row[5] > top_oid:
                top_oid = row[5]
            if strict and s != OK and s != POST_ONLY_REJECTED:
                return status, qty, self._joined(chunks), i + 1, i, top_oid
        return status, qty, self._joined(chunks), n, None, top_oid

    @staticmethod
    def _joined(chunks: list) -> np.ndarray:
        return np.concatenate(chunks) if chunks else EMPTY_FILLS

    # ---------------------------------------------------------------------------------------- raw queries
    def _lookup(self, oid: int) -> OrderInfo | None:
        o = self._orders.get(oid)
        return None if o is None else OrderInfo(o.oid, o.side, o.price, o.size, o.owner, o.ts)

    def _best(self, side: int) -> int | None:
        return self._best_price(_side_index(side))

    def _sorted_prices(self, s: int) -> list[int]:
        return sorted(self._count[s], reverse=(s == 0))

    def _levels(self, s: int, depth: int | None) -> np.ndarray:
        prices = self._sorted_prices(s)
        if depth is not None:
            prices = prices[:depth]
        rows = []
        for p in prices:
            live = [o.size for o in self._queue[s][p] if o.alive]
            rows.append((p, sum(live), len(live)))
        return np.array(rows, dtype=L2_DTYPE) if rows else np.zeros(0, dtype=L2_DTYPE)

    def _l3_rows(self) -> np.ndarray:
        rows = [
            (o.side, o.price, o.oid, o.size, o.owner, o.ts)
            for s in (0, 1)
            for p in self._sorted_prices(s)
            for o in self._queue[s][p]
            if o.alive
        ]
        return np.array(rows, dtype=L3_DTYPE) if rows else np.zeros(0, dtype=L3_DTYPE)

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def window_range(self) -> tuple[int, int] | None:
        """The prices the modelled window covers now, or None when unbounded."""
        return None if self.window is None else (self.base, self.base + self.window - 1)

    def __repr__(self) -> str:
        return f"ReferenceBook({len(self)} resting, bid {self.best_bid}, ask {self.best_ask})"
