"""``OrderBook``: the Python facade over the jitted kernels, for people.

It validates every argument before anything reaches a kernel (so bad input gives a clear
:class:`lobkit.errors.BookError`, never a segfault or a silent wrong answer), converts float prices and
quantities at the edges (``px=``, ``qty=``) to integer ticks and lots, drains the kernels' fill buffer, and
answers queries (best prices, L2, L3, order look-up, fills).

The rules every entry applies (single operations here, batches in the kernels, and ``ReferenceBook``): a price
is a whole number of ticks in ``[1, PRICE_LIMIT]`` (``ERR_BAD_PRICE``); a size a whole number of lots in
``[1, MAX_SIZE]`` (``ERR_BAD_SIZE``); the id of a new order (limit, IOC, post-only or market) must not be the
id of a resting order (``ERR_DUPLICATE_ID``); cancel, reduce, modify and execute name a resting order
(``ERR_UNKNOWN_ID``).

Example::

    book = OrderBook(capacity=10_000, window=4096, tick_size=0.01)
    book.limit("sell", px=100.02, size=5, owner=1)
    r = book.limit("buy", px=100.02, size=8, owner=2)   # trades 5, rests 3 at 10002 ticks
    r.filled, r.resting, r.fills["price"]               # (5, 3, array([10002]))
    book.l2(5).asks, book.best_bid, book.spread

The same public API (operations, results, queries) is implemented by
:class:`lobkit.engine.reference.ReferenceBook`, a slow plain-Python oracle: both derive from
:class:`BookAPI`, which holds the validation and the result bookkeeping and asks its subclass only for the
raw operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lobkit.engine import nb
from lobkit.engine.messages import (
    BUY,
    ERR_BAD_FLAGS,
    ERR_BAD_OP,
    ERR_BAD_PRICE,
    ERR_BAD_SIDE,
    ERR_BAD_SIZE,
    ERR_DUPLICATE_ID,
    ERR_PRICE_WINDOW,
    ERR_UNKNOWN_ID,
    FILL_DTYPE,
    FILLS_FULL,
    FLAG_IOC,
    FLAG_POST_ONLY,
    MAX_CAPACITY,
    MAX_SIZE,
    MESSAGE_DTYPE,
    NO_BID,
    OK,
    OP_EXECUTE,
    OP_NAMES,
    POST_ONLY_REJECTED,
    PRICE_LIMIT,
    SELL,
    STATUS_NAMES,
)
from lobkit.engine.state import (
    M_BASE,
    M_BEST_ASK,
    M_BEST_BID,
    M_FILLCAP,
    M_NASK,
    M_NBID,
    M_NFILLS,
    M_RECENTRES,
    M_WIN,
    O_ID,
    O_OWNER,
    O_PRICE,
    O_SIDE,
    O_SIZE,
    O_TS,
    alloc_state,
    fills_view,
)
from lobkit.errors import BookError, ConfigError

# PRICE_LIMIT, MAX_SIZE and MAX_CAPACITY (lobkit.engine.messages) keep every kernel computation far from int64
# overflow (the kernels use +-2**62 as the limit prices of market orders, and sum sizes into level volumes).
MAX_WINDOW = 2**24  # ticks
MAX_FILL_CAPACITY = 2**28
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_BEYOND_ANY_BOUND = 2**62  # what a float far outside every bound converts to (the range checks then name it)
_BATCH_FILL_ROWS = 2**22  # fill records a batch's buffer holds (at least fill_capacity); more: another buffer
_PRICE_RULE = "a price is a whole number of ticks in [1, 2**60]"

L2_DTYPE = np.dtype([("price", np.int64), ("size", np.int64), ("orders", np.int64)])
L3_DTYPE = np.dtype(
    [
        ("side", np.int64),
        ("price", np.int64),
        ("oid", np.int64),
        ("size", np.int64),
        ("owner", np.int64),
        ("ts", np.int64),
    ]
)
EMPTY_FILLS = np.zeros(0, dtype=FILL_DTYPE)
EMPTY_FILLS.flags.writeable = False


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class OpResult:
    """What one operation did. Quantities are in lots.

    * ``status``: ``OK`` or ``POST_ONLY_REJECTED`` (errors raise :class:`BookError` instead).
    * ``filled``: lots this operation traded (for ``execute``: the lots executed).
    * ``unfilled``: for limit/market/modify, the submitted size that did not trade (``size - filled``).
    * ``resting``: lots of order ``oid`` resting on the book after the operation.
    * ``cancelled``: lots taken off the book or dropped without trading: a cancel or reduce, the unfilled
      remainder of an IOC or market order, and for a modify the old order's remaining size (a modify is
      accounted as "cancel the old remainder, submit ``size`` anew", so for every order
      ``submitted == resting + filled + cancelled``).
    * ``fills``: the fill records this operation produced (``FILL_DTYPE``).
    """

    op: str
    oid: int
    status: int = OK
    filled: int = 0
    unfilled: int = 0
    resting: int = 0
    cancelled: int = 0
    fills: np.ndarray = field(default_factory=lambda: EMPTY_FILLS, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True unless a post-only order was rejected."""
        return self.status == OK

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, str(self.status))

    def same_as(self, other: OpResult) -> bool:
        """Equal in every field, fills included (dataclass equality leaves the fill array out)."""
        return self == other and np.array_equal(self.fills, other.fills)


@dataclass(frozen=True)
class BatchResult:
    """What :meth:`BookAPI.apply` did: per message a status code and a quantity (lots filled for
    limit/market/modify, cancelled for cancel/reduce, executed for execute), and every fill, in order.
    ``applied`` is how many messages were processed (all of them unless a strict batch stopped early)."""

    status: np.ndarray
    qty: np.ndarray
    fills: np.ndarray
    applied: int

    def to_polars(self):
        """The per-message statuses and quantities as a Polars frame."""
        import polars as pl

        return pl.DataFrame({"status": self.status, "qty": self.qty})

    def fills_frame(self):
        """The fills as a Polars frame (one column per ``FILL_DTYPE`` field)."""
        return fills_to_polars(self.fills)


class L2(NamedTuple):
    """Aggregated depth, best price first on each side: ``L2_DTYPE`` arrays (price ticks, size lots, orders)."""

    bids: np.ndarray
    asks: np.ndarray
    tick_size: float = 1.0

    def to_polars(self):
        """One row per level: side (1 bid, -1 ask), level (0 = best), price (ticks), px, size, orders."""
        import polars as pl

        frames = []
        for side, a in ((BUY, self.bids), (SELL, self.asks)):
            frames.append(
                pl.DataFrame(
                    {
                        "side": np.full(len(a), side, dtype=np.int8),
                        "level": np.arange(len(a), dtype=np.int64),
                        "price": a["price"],
                        "px": a["price"] * self.tick_size,
                        "size": a["size"],
                        "orders": a["orders"],
                    }
                )
            )
        return pl.concat(frames)


class OrderInfo(NamedTuple):
    """One resting order."""

    oid: int
    side: int
    price: int
    size: int
    owner: int
    ts: int


def fills_to_polars(fills: np.ndarray):
    """A ``FILL_DTYPE`` array as a Polars frame."""
    import polars as pl

    return pl.from_numpy(np.ascontiguousarray(fills))


# ------------------------------------------------------------------------------------------------ validation
def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _show(v) -> str:
    """A value as the user wrote it: ``246.58``, not ``np.float64(246.58)``; strings keep their quotes."""
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v) if isinstance(v, str) else str(v)


def _fail(op: str, oid, reason: str, status: int | None = None, index: int | None = None) -> BookError:
    who = f"{op} order {oid if _is_int(oid) else _show(oid)}" if oid is not None else op
    if index is not None:
        who = f"message {index} ({who})"
    err = BookError(f"{who}: {reason}")
    err.op = op
    err.oid = oid
    err.status = status
    err.index = index
    return err


def _status_reason(status: int, *, op=None, side=None, flags=None, price=None, size=None, resting=None) -> str:
    """Why a kernel refused an operation, naming the offending value when it is given."""
    status = int(status)
    if status == ERR_BAD_PRICE and price is not None:
        return f"price {price} ticks is not a valid price ({_PRICE_RULE})"
    if status == ERR_BAD_SIZE and size is not None:
        if size < 1:
            return f"size must be a positive number of lots, got {size}"
        if size > MAX_SIZE:
            return f"size {size} is larger than the supported maximum 2**40 lots"
        if resting is not None:
            return f"size {size} is larger than the resting order ({resting} lots)"
    if status == ERR_BAD_SIDE and side is not None:
        return f"bad side {side} (use BUY=1 / SELL=-1)"
    if status == ERR_BAD_FLAGS and flags is not None:
        return f"unknown flag bits {flags} (known: FLAG_IOC=1, FLAG_POST_ONLY=2)"
    if status == ERR_BAD_OP and op is not None:
        return f"unknown op code {op}"
    base = STATUS_NAMES.get(status, f"status {status}")
    if status == ERR_PRICE_WINDOW:
        return base + " (it cannot fit even after re-centring: the resting orders span too many ticks)"
    if status == ERR_DUPLICATE_ID:
        return base + " (an order with this id is resting)"
    return base


def check_config(capacity, window, fill_capacity, tick_size, lot_size, center) -> tuple[int, int, int, float, float]:
    """Validate construction arguments (shared by OrderBook and ReferenceBook); returns them normalised."""
    if not _is_int(capacity) or not 1 <= capacity <= MAX_CAPACITY:
        raise ConfigError(f"capacity must be an integer in [1, 2**22 = {MAX_CAPACITY:,}], got {_show(capacity)}")
    if not _is_int(window) or not 1 <= window <= MAX_WINDOW:
        raise ConfigError(f"window must be an integer number of ticks in [1, 2**24], got {_show(window)}")
    if fill_capacity is None:
        fill_capacity = max(int(capacity), 1 << 16)
    if not _is_int(fill_capacity) or not capacity <= fill_capacity <= MAX_FILL_CAPACITY:
        raise ConfigError(
            f"fill_capacity must be an integer in [capacity={capacity}, {MAX_FILL_CAPACITY}] (an order can "
            f"trade against every resting order at once), got {_show(fill_capacity)}"
        )
    for name, v in (("tick_size", tick_size), ("lot_size", lot_size)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{name} must be a positive float, got {_show(v)}")
        if not math.isfinite(float(v)) or float(v) <= 0:
            raise ConfigError(f"{name} must be a positive finite float, got {_show(v)}")
    if center is not None and (not _is_int(center) or not 1 <= int(center) <= PRICE_LIMIT):
        raise ConfigError(f"center must be a price: a whole number of ticks in [1, 2**60], got {_show(center)}")
    return int(capacity), int(window), int(fill_capacity), float(tick_size), float(lot_size)


def _window_base(window: int, center) -> tuple[int, int]:
    """The kernels' window (rounded up to a multiple of 64) and its initial base price."""
    w = ((window + 63) // 64) * 64
    base = 0 if center is None else int(center) - w // 2
    return w, base


def _to_units(v, unit: float, what: str, op: str, oid) -> int:
    """A number at the edge (``px=``, ``qty=``) as a whole number of ``unit`` (ticks or lots).

    BookError when it is not a finite number or lies off the grid of ``unit``. A value beyond +-2**62 units
    comes back as +-2**62, so that the caller's range check names it."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise _fail(op, oid, f"{what} must be a number, got {_show(v)}")
    try:
        x = float(v)
    except OverflowError:  # an int beyond the float range
        return _BEYOND_ANY_BOUND if v > 0 else -_BEYOND_ANY_BOUND
    if not math.isfinite(x):
        raise _fail(op, oid, f"{what} must be finite, got {_show(v)}")
    t = x / unit
    if abs(t) > _BEYOND_ANY_BOUND:
        return _BEYOND_ANY_BOUND if t > 0 else -_BEYOND_ANY_BOUND
    r = round(t)
    if abs(t - r) > max(1e-6, abs(t) * 1e-12):  # float noise of the division, not a real off-grid value
        raise _fail(op, oid, f"{what} {_show(v)} is off the grid of {unit}")
    return int(r)


class BookAPI:
    """The public operations, results and queries shared by :class:`OrderBook` and ``ReferenceBook``.

    Subclasses implement the raw operations ``_op_limit``, ``_op_market``, ``_op_cancel``, ``_op_reduce``,
    ``_op_modify``, ``_op_execute`` (each returns ``(status, lots, fills)`` with exactly the kernels'
    semantics and status codes), ``_apply_messages`` (a batch) and the queries ``_lookup``, ``_best``, ``_levels``,
    ``_l3_rows``, ``__len__``.
    """

    tick_size: float
    lot_size: float

    def _init_common(self, tick_size: float, lot_size: float, keep_fills: bool) -> None:
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.keep_fills = bool(keep_fills)
        self._fill_chunks: list[np.ndarray] = []
        self._fills_cache: np.ndarray | None = None
        self._next_oid = 1

    # ---------------------------------------------------------------------------------------- argument checks
    def _side(self, side, op: str, oid) -> int:
        if isinstance(side, str):
            s = side.strip().lower()
            if s in ("buy", "b", "bid"):
                return BUY
            if s in ("sell", "s", "ask", "offer"):
                return SELL
        elif _is_int(side) and int(side) in (BUY, SELL):
            return int(side)
        raise _fail(op, oid, f"bad side {_show(side)} (use BUY=1 / SELL=-1 or 'buy' / 'sell')", ERR_BAD_SIDE)

    def _price(self, price, px, op: str, oid, required: bool = True) -> int | None:
        if price is not None and px is not None:
            raise _fail(op, oid, "give either price (ticks) or px (a float price), not both")
        if price is None and px is None:
            if required:
                raise _fail(op, oid, "a price is required (price= in ticks or px= as a float)")
            return None
        if price is not None:
            if not _is_int(price):
                msg = f"price must be an integer number of ticks (use px= for a float price), got {_show(price)}"
                raise _fail(op, oid, msg)
            p = int(price)
            if not 1 <= p <= PRICE_LIMIT:
                raise _fail(op, oid, f"price {p} ticks is not a valid price ({_PRICE_RULE})", ERR_BAD_PRICE)
        else:
            p = _to_units(px, self.tick_size, "px", op, oid)
            if not 1 <= p <= PRICE_LIMIT:
                reason = f"px {_show(px)} is not a valid price ({_PRICE_RULE}; tick_size {self.tick_size})"
                raise _fail(op, oid, reason, ERR_BAD_PRICE)
        return p

    def _size(self, size, qty, op: str, oid, name: str = "size", required: bool = True) -> int | None:
        if size is not None and qty is not None:
            raise _fail(op, oid, f"give either {name} (lots) or qty (a float quantity), not both")
        if size is None and qty is None:
            if required:
                raise _fail(op, oid, f"{name} is required (in lots, or qty= as a float quantity)")
            return None
        if size is not None:
            if not _is_int(size):
                msg = f"{name} must be an integer number of lots (use qty= for a float), got {_show(size)}"
                raise _fail(op, oid, msg)
            n = int(size)
            what, written = name, str(n)
        else:
            n = _to_units(qty, self.lot_size, "qty", op, oid)
            what, written = "qty", _show(qty)
        if n <= 0:
            raise _fail(op, oid, f"{what} must be a positive number of lots, got {written}", ERR_BAD_SIZE)
        if n > MAX_SIZE:
            raise _fail(op, oid, f"{what} {written} is larger than the supported maximum 2**40 lots", ERR_BAD_SIZE)
        return n

    @staticmethod
    def _int64(v, what: str, op: str, oid) -> int:
        if not _is_int(v) or not _I64_MIN <= int(v) <= _I64_MAX:
            raise _fail(op, oid, f"{what} must be an int64 integer, got {_show(v)}")
        return int(v)

    def _oid(self, oid, op: str) -> int:
        """The id of a new order: the one given (any int64), or the next one after the largest used so far."""
        if oid is None:
            if self._next_oid > _I64_MAX:
                raise _fail(op, None, "no automatic order id is left after 2**63-1; give oid=")
            oid = self._next_oid
            self._next_oid += 1
            return oid
        oid = self._int64(oid, "oid", op, oid)
        self._used_oid(oid)
        return oid

    def _used_oid(self, oid: int) -> None:
        if oid >= self._next_oid:
            self._next_oid = oid + 1

    def _existing_oid(self, oid, op: str) -> int:
        return self._int64(oid, "oid", op, oid)

    def _raise_on(self, status: int, op: str, oid, **values) -> None:
        if status != OK and status != POST_ONLY_REJECTED:
            raise _fail(op, oid, _status_reason(status, **values), status)

    def _record(self, fills: np.ndarray) -> np.ndarray:
        if len(fills) and self.keep_fills:
            self._fill_chunks.append(fills)
            self._fills_cache = None
        return fills

    def _resting(self, oid: int) -> int:
        o = self._lookup(oid)
        return 0 if o is None else o.size

    # ---------------------------------------------------------------------------------------- operations
    def limit(
        self, side, price=None, size=None, *, px=None, qty=None, oid=None, owner=0, ts=0, ioc=False, post_only=False
    ) -> OpResult:
        """Submit a limit order: trade what crosses, rest the remainder (unless ``ioc``).

        ``price`` in integer ticks, or ``px`` a float price (must lie on the ``tick_size`` grid); ``size`` in
        lots, or ``qty`` a float quantity (on the ``lot_size`` grid). ``oid`` defaults to the next free id.
        ``post_only``: rejected (``status == POST_ONLY_REJECTED``, nothing happens) if any part would trade.
        """
        op = "limit"
        s = self._side(side, op, oid)
        p = self._price(price, px, op, oid)
        n = self._size(size, qty, op, oid)
        owner = self._int64(owner, "owner", op, oid)
        ts = self._int64(ts, "ts", op, oid)
        oid = self._oid(oid, op)
        flags = (FLAG_IOC if ioc else 0) | (FLAG_POST_ONLY if post_only else 0)
        status, q, fills = self._op_limit(s, p, n, oid, owner, ts, flags)
        self._raise_on(status, op, oid)
        if status != OK:
            return OpResult(op, oid, status, 0, n, 0, 0)
        fills = self._record(fills)
        rest = 0 if ioc else n - q
        return OpResult(op, oid, OK, q, n - q, rest, n - q - rest, fills)

    def market(self, side, size=None, *, qty=None, oid=None, owner=0, ts=0) -> OpResult:
        """Submit a market order: walk the book. What found no liquidity is ``unfilled`` (and ``cancelled``).

        ``oid`` (default: the next free id) must not be the id of a resting order (``ERR_DUPLICATE_ID``), as for
        a limit order: an order never trades with itself as both maker and taker.
        """
        op = "market"
        s = self._side(side, op, oid)
        n = self._size(size, qty, op, oid)
        owner = self._int64(owner, "owner", op, oid)
        ts = self._int64(ts, "ts", op, oid)
        oid = self._oid(oid, op)
        status, q, fills = self._op_market(s, n, oid, owner, ts)
        self._raise_on(status, op, oid)
        fills = self._record(fills)
        return OpResult(op, oid, OK, q, n - q, 0, n - q, fills)

    def cancel(self, oid) -> OpResult:
        """Cancel a whole resting order."""
        op = "cancel"
        oid = self._existing_oid(oid, op)
        status, q, _ = self._op_cancel(oid)
        self._raise_on(status, op, oid)
        return OpResult(op, oid, OK, cancelled=q)

    def reduce(self, oid, by=None, *, qty=None) -> OpResult:
        """Partial cancel: take ``by`` lots off a resting order, keeping its queue priority (cancels it when
        ``by`` is at least its size)."""
        op = "reduce"
        oid = self._existing_oid(oid, op)
        n = self._size(by, qty, op, oid, name="by")
        status, q, _ = self._op_reduce(oid, n)
        self._raise_on(status, op, oid)
        return OpResult(op, oid, OK, resting=self._resting(oid), cancelled=q)

    def modify(self, oid, price=None, size=None, *, px=None, qty=None, ts=0, ioc=False, post_only=False) -> OpResult:
        """Change a resting order's price and/or total remaining size (omitted: unchanged).

        Same price and a size no larger than now: reduced in place, priority kept. A new price or a larger
        size loses priority: the order is re-entered at the tail with the same id and owner (and may trade;
        ``ioc``/``post_only`` then apply as for a new limit order).
        """
        op = "modify"
        oid = self._existing_oid(oid, op)
        p = self._price(price, px, op, oid, required=False)
        n = self._size(size, qty, op, oid, required=False)
        ts = self._int64(ts, "ts", op, oid)
        cur = self._lookup(oid)
        if cur is None:
            raise _fail(op, oid, _status_reason(ERR_UNKNOWN_ID), ERR_UNKNOWN_ID)
        p = cur.price if p is None else p
        n = cur.size if n is None else n
        flags = (FLAG_IOC if ioc else 0) | (FLAG_POST_ONLY if post_only else 0)
        status, q, fills = self._op_modify(oid, p, n, ts, flags)
        self._raise_on(status, op, oid)
        if status != OK:
            return OpResult(op, oid, status, 0, n, cur.size, 0)
        fills = self._record(fills)
        rest = self._resting(oid)
        return OpResult(op, oid, OK, q, n - q, rest, cur.size + (n - q - rest), fills)

    def execute(self, oid, size=None, *, qty=None, ts=0, taker_oid=-1, taker_owner=0) -> OpResult:
        """Execute ``size`` lots of one given resting order (a venue's execution by id); records a fill.

        ``taker_oid`` and ``taker_owner`` only label the fill (the venue's aggressor, which never enters this
        book); ``size`` must be no larger than the resting order.
        """
        op = "execute"
        oid = self._existing_oid(oid, op)
        n = self._size(size, qty, op, oid)
        ts = self._int64(ts, "ts", op, oid)
        taker_oid = self._int64(taker_oid, "taker_oid", op, oid)
        taker_owner = self._int64(taker_owner, "taker_owner", op, oid)
        before = self._lookup(oid)
        status, q, fills = self._op_execute(oid, n, ts, taker_oid, taker_owner)
        self._raise_on(status, op, oid, size=n, resting=None if before is None else before.size)
        fills = self._record(fills)
        return OpResult(op, oid, OK, q, 0, self._resting(oid), 0, fills)

    # ---------------------------------------------------------------------------------------- batches
    def apply(self, messages: np.ndarray, *, strict: bool = True) -> BatchResult:
        """Apply a ``MESSAGE_DTYPE`` array (1-d) in order and return every status, quantity and fill.

        Each message is checked by the same rules as the single operations (see the module docstring; unknown
        op codes give ``ERR_BAD_OP``, unknown flag bits ``ERR_BAD_FLAGS``, a bad side ``ERR_BAD_SIDE``).
        ``strict``: stop at the first message that fails (messages before it stay applied; a failing message
        changes nothing) and raise :class:`BookError` naming its index and the offending value. Otherwise every
        message is applied and failures only show in ``status``. ``POST_ONLY_REJECTED`` is never an error.
        Automatic ids (``oid=None``) continue after the largest id of the batch's limit and market messages.
        """
        if not isinstance(messages, np.ndarray) or messages.dtype != MESSAGE_DTYPE or messages.ndim != 1:
            got = getattr(messages, "dtype", type(messages).__name__)
            raise BookError(f"apply: messages must be a 1-d MESSAGE_DTYPE array, got {got}")
        if not messages.flags.c_contiguous or not messages.flags.writeable:
            messages = np.array(messages)  # one memory layout for the kernels (read-only arrays compile apart)
        status, qty, fills, applied, failed, top_oid = self._apply_messages(messages, bool(strict))
        if self.keep_fills and len(fills):
            self._fill_chunks.append(fills)
            self._fills_cache = None
        if top_oid != NO_BID:
            self._used_oid(top_oid)
        if failed is not None:
            m = messages[failed]
            op = OP_NAMES.get(int(m["op"]), f"op {int(m['op'])}")
            code = int(status[failed])
            resting = None
            if code == ERR_BAD_SIZE and int(m["op"]) == OP_EXECUTE:
                o = self._lookup(int(m["oid"]))
                resting = None if o is None else o.size
            reason = _status_reason(code, op=int(m["op"]), side=int(m["side"]), flags=int(m["flags"]),
                                    price=int(m["price"]), size=int(m["size"]), resting=resting)  # fmt: skip
            raise _fail(op, int(m["oid"]), reason, code, failed)
        return BatchResult(status, qty, fills, applied)

    # ---------------------------------------------------------------------------------------- queries
    @property
    def best_bid(self) -> int | None:
        """Best bid in ticks, None when there is no bid."""
        return self._best(BUY)

    @property
    def best_ask(self) -> int | None:
        """Best ask in ticks, None when there is no ask."""
        return self._best(SELL)

    @property
    def best_bid_px(self) -> float | None:
        b = self.best_bid
        return None if b is None else b * self.tick_size

    @property
    def best_ask_px(self) -> float | None:
        a = self.best_ask
        return None if a is None else a * self.tick_size

    @property
    def mid(self) -> float | None:
        """Mid price in ticks (may end in .5), None unless both sides are quoted."""
        b, a = self.best_bid, self.best_ask
        return None if b is None or a is None else (b + a) / 2

    @property
    def mid_px(self) -> float | None:
        m = self.mid
        return None if m is None else m * self.tick_size

    @property
    def spread(self) -> int | None:
        """Best ask - best bid in ticks, None unless both sides are quoted."""
        b, a = self.best_bid, self.best_ask
        return None if b is None or a is None else a - b

    @property
    def spread_px(self) -> float | None:
        s = self.spread
        return None if s is None else s * self.tick_size

    def l2(self, depth: int = 10) -> L2:
        """The best ``depth`` price levels of each side (best first): price, total size, order count."""
        if not _is_int(depth) or depth < 0:
            raise BookError(f"l2: depth must be a non-negative integer, got {_show(depth)}")
        return L2(self._levels(0, int(depth)), self._levels(1, int(depth)), self.tick_size)

    def l3(self) -> np.ndarray:
        """Every resting order (``L3_DTYPE``: side, price, oid, size, owner, ts): bids best price first, then
        asks best price first, each level in queue (time-priority) order."""
        return self._l3_rows()

    def l3_frame(self):
        """:meth:`l3` as a Polars frame with a float ``px`` column."""
        import polars as pl

        a = self.l3()
        return pl.from_numpy(a).with_columns((pl.col("price") * self.tick_size).alias("px"))

    def depth(self, side=None):
        """Number of non-empty price levels on ``side`` (``BUY``/``SELL``), or ``(bids, asks)``."""
        if side is None:
            return len(self._levels(0, None)), len(self._levels(1, None))
        s = self._side(side, "depth", None)
        return len(self._levels(0 if s == BUY else 1, None))

    def volume(self, side) -> int:
        """Total resting lots on one side."""
        s = self._side(side, "volume", None)
        return int(self._levels(0 if s == BUY else 1, None)["size"].sum())

    def order(self, oid) -> OrderInfo:
        """The resting order ``oid``; raises :class:`BookError` when there is none."""
        oid = self._existing_oid(oid, "order")
        o = self._lookup(oid)
        if o is None:
            raise _fail("lookup", oid, "unknown order id", ERR_UNKNOWN_ID)
        return o

    def get(self, oid) -> OrderInfo | None:
        """The resting order ``oid`` or None."""
        if not _is_int(oid):
            return None
        return self._lookup(int(oid))

    def __contains__(self, oid) -> bool:
        return self.get(oid) is not None

    @property
    def fills(self) -> np.ndarray:
        """Every fill so far (``FILL_DTYPE``), in order (empty when ``keep_fills`` is off)."""
        if self._fills_cache is None:
            if not self._fill_chunks:
                self._fills_cache = np.zeros(0, dtype=FILL_DTYPE)
            else:
                self._fills_cache = np.concatenate(self._fill_chunks)
                self._fill_chunks = [self._fills_cache]
        return self._fills_cache

    def fills_frame(self):
        """:attr:`fills` as a Polars frame."""
        return fills_to_polars(self.fills)

    def clear_fills(self) -> None:
        """Forget the fills recorded so far."""
        self._fill_chunks = []
        self._fills_cache = None

    def ticks(self, px: float) -> int:
        """A float price as ticks (BookError when off the tick grid or not a valid price)."""
        return self._price(None, px, "ticks", None)

    def px(self, ticks: int) -> float:
        """Ticks as a float price."""
        return ticks * self.tick_size


# ------------------------------------------------------------------------------------------------ OrderBook
class OrderBook(BookAPI):
    """The Numba order book, for people. See the module docstring and ``docs/engine.md``.

    * ``capacity``: most resting orders at once (fixed; the pool is preallocated).
    * ``window``: price window in ticks (rounded up to a multiple of 64); it re-centres on the occupied range
      when an order would rest outside it. An order that cannot fit even then is rejected.
    * ``fill_capacity``: fill buffer size, at least ``capacity`` (drained after every call).
    * ``tick_size``/``lot_size``: the float units of ``px=``/``qty=`` arguments and float queries.
    * ``center``: initial centre of the window, a price in ticks in ``[1, PRICE_LIMIT]`` (default: the first
      order's price decides).
    * ``keep_fills``: keep every fill for :attr:`fills` (results always carry their own fills).
    """

    def __init__(
        self,
        capacity: int = 100_000,
        window: int = 4096,
        *,
        fill_capacity: int | None = None,
        tick_size: float = 0.01,
        lot_size: float = 1.0,
        center: int | None = None,
        keep_fills: bool = True,
    ) -> None:
        capacity, window, fill_capacity, tick_size, lot_size = check_config(
            capacity, window, fill_capacity, tick_size, lot_size, center
        )
        self.capacity = capacity
        self.window, base = _window_base(window, center)
        self.fill_capacity = fill_capacity
        self._st = alloc_state(capacity, self.window, fill_capacity, base)
        self._init_common(tick_size, lot_size, keep_fills)

    @property
    def state(self):
        """The kernels' :class:`lobkit.engine.state.BookState` (for jitted callers; mutate with care)."""
        return self._st

    # ---------------------------------------------------------------------------------------- raw operations
    def _drain(self) -> np.ndarray:
        meta = self._st.meta
        n = int(meta[M_NFILLS])
        if n == 0:
            return EMPTY_FILLS
        out = fills_view(self._st.fills, n).copy()
        meta[M_NFILLS] = 0
        return out

    def _op_limit(self, s, p, n, oid, owner, ts, flags):
        status, q = nb.limit_order(self._st, s, p, n, oid, owner, ts, flags)
        return int(status), int(q), self._drain()

    def _op_market(self, s, n, oid, owner, ts):
        status, q = nb.market_order(self._st, s, n, oid, owner, ts)
        return int(status), int(q), self._drain()

    def _op_cancel(self, oid):
        status, q = nb.cancel(self._st, oid)
        return int(status), int(q), EMPTY_FILLS

    def _op_reduce(self, oid, by):
        status, q = nb.reduce(self._st, oid, by)
        return int(status), int(q), EMPTY_FILLS

    def _op_modify(self, oid, p, n, ts, flags):
        status, q = nb.modify(self._st, oid, p, n, ts, flags)
        return int(status), int(q), self._drain()

    def _op_execute(self, oid, n, ts, taker_oid, taker_owner):
        status, q = nb.execute(self._st, oid, n, ts, taker_oid, taker_owner)
        return int(status), int(q), self._drain()

    def _apply_messages(self, messages, strict):
        """Run ``nb.apply_messages`` over the whole array. Returns (status, qty, fills, messages applied, index
        of the failing message or None, largest id of a limit or market message or ``NO_BID``).

        The kernel writes fills into a buffer of this call's own, swapped into the state for the call and
        trimmed in place afterwards (no copy): the records become the result's ``fills``. When a buffer fills
        up (``FILLS_FULL``), the kernel stops before the message and resumes in a new buffer.
        """
        n = len(messages)
        status = np.zeros(n, dtype=np.int8)
        qty = np.zeros(n, dtype=np.int64)
        chunks = []
        pending = self._drain()  # normally empty: every operation drains
        if len(pending):
            chunks.append(pending)
        meta = self._st.meta
        i = 0
        code = OK
        top_oid = NO_BID
        try:
            while True:
                rows = max(self.fill_capacity, min(n - i, _BATCH_FILL_ROWS))
                buf = np.empty((rows, 8), dtype=np.int64)
                meta[M_FILLCAP] = rows
                i, code, top = nb.apply_messages(self._st._replace(fills=buf), messages, status, qty, i, strict)
                top_oid = max(top_oid, int(top))
                k = int(meta[M_NFILLS])
                meta[M_NFILLS] = 0
                if k:
                    buf.resize((k, 8), refcheck=False)  # shrinks the allocation in place; no view of it exists yet
                    chunks.append(buf.reshape(-1).view(FILL_DTYPE))
                if code != FILLS_FULL:
                    break
        finally:
            meta[M_FILLCAP] = self._st.fills.shape[0]
        if not chunks:
            fills = EMPTY_FILLS
        else:
            fills = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        failed = i - 1 if strict and code != OK else None
        return status, qty, fills, i, failed, top_oid

    # ---------------------------------------------------------------------------------------- raw queries
    def _lookup(self, oid: int) -> OrderInfo | None:
        slot = nb.order_slot(self._st, oid)
        if slot < 0:
            return None
        r = self._st.orders[slot]
        return OrderInfo(int(r[O_ID]), int(r[O_SIDE]), int(r[O_PRICE]), int(r[O_SIZE]), int(r[O_OWNER]), int(r[O_TS]))

    def _best(self, side: int) -> int | None:
        m = self._st.meta
        if side == BUY:
            return None if m[M_NBID] == 0 else int(m[M_BEST_BID])
        return None if m[M_NASK] == 0 else int(m[M_BEST_ASK])

    def _levels(self, s: int, depth: int | None) -> np.ndarray:
        m = self._st.meta
        cap = int(m[M_NBID] if s == 0 else m[M_NASK])
        if depth is not None:
            cap = min(cap, depth)
        price = np.empty(cap, dtype=np.int64)
        vol = np.empty(cap, dtype=np.int64)
        cnt = np.empty(cap, dtype=np.int64)
        k = nb.top_levels(self._st, s, cap, price, vol, cnt)
        out = np.empty(k, dtype=L2_DTYPE)
        out["price"], out["size"], out["orders"] = price[:k], vol[:k], cnt[:k]
        return out

    def _l3_rows(self) -> np.ndarray:
        n = len(self)
        raw = np.empty((n, 6), dtype=np.int64)
        k = nb.snapshot(self._st, raw)
        return raw[:k].reshape(-1).view(L3_DTYPE).copy()

    def __len__(self) -> int:
        m = self._st.meta
        return int(m[M_NBID] + m[M_NASK])

    @property
    def recentres(self) -> int:
        """How many times the price window has moved."""
        return int(self._st.meta[M_RECENTRES])

    @property
    def window_range(self) -> tuple[int, int]:
        """The prices (ticks) the window covers now: ``[lo, hi]``."""
        base = int(self._st.meta[M_BASE])
        return base, base + int(self._st.meta[M_WIN]) - 1

    def check(self) -> None:
        """Verify the kernels' internal invariants (linked lists, counts, bitmap, best prices, id index, free
        list, not crossed); raises :class:`BookError` naming the first broken one. O(window + capacity)."""
        code = int(nb.check_state(self._st))
        if code:
            raise BookError(f"order book state is inconsistent: invariant {code} broken (see nb.check_state)")

    def __repr__(self) -> str:
        return (
            f"OrderBook({len(self)} resting of {self.capacity}, bid {self.best_bid}, ask {self.best_ask}, "
            f"window {self.window_range})"
        )


__all__ = [
    "BookAPI",
    "BatchResult",
    "L2",
    "L2_DTYPE",
    "L3_DTYPE",
    "OrderBook",
    "OrderInfo",
    "OpResult",
    "fills_to_polars",
]
