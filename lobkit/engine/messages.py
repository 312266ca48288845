"""The order-book vocabulary: op codes, sides, flags, status codes and the message/fill dtypes.

The same dtypes flow from LOBSTER replay, the simulator, the GUI and results, and go to Polars with
``pl.from_numpy``. Everything is integer: prices in ticks (int64), sizes in lots (int64), time in ns (int64).

Bounds, checked by every entry of the engine (the :class:`OrderBook` facade, its batches, the jitted kernels and
:class:`ReferenceBook`): a price is a whole number of ticks in ``[1, PRICE_LIMIT]``; a size is a whole number of
lots in ``[1, MAX_SIZE]``. A book holds at most ``MAX_CAPACITY`` resting orders, so no level's or side's volume
can pass ``MAX_SIZE * MAX_CAPACITY = 2**62``: no sum the engine keeps overflows int64.
"""

from __future__ import annotations

import numpy as np

# --- operations -----------------------------------------------------------------------------------------
OP_LIMIT = 1  # limit order: match what crosses, rest the remainder (unless IOC)
OP_MARKET = 2  # market order: walk the book; what cannot fill is reported as unfilled, never dropped
OP_CANCEL = 3  # cancel a whole resting order by id
OP_REDUCE = 4  # partial cancel: reduce a resting order by `size` lots, keeping its queue priority
OP_MODIFY = 5  # modify: new price and/or new total size. Same price and a smaller size keeps priority;
#                a new price or a larger size loses priority (cancel + re-enter with the same id and owner).
OP_EXECUTE = 6  # execute `size` lots of one given resting order (replay of venue executions by id)

OP_NAMES = {
    OP_LIMIT: "limit",
    OP_MARKET: "market",
    OP_CANCEL: "cancel",
    OP_REDUCE: "reduce",
    OP_MODIFY: "modify",
    OP_EXECUTE: "execute",
}

# --- bounds ---------------------------------------------------------------------------------------------
PRICE_LIMIT = 2**60  # the highest price, in ticks (the lowest is 1 tick); market orders use +-2**62 inside
MAX_SIZE = 2**40  # the largest size of one order, in lots
MAX_CAPACITY = 2**22  # the most resting orders a book may hold (MAX_SIZE * MAX_CAPACITY = 2**62)

# --- sides ----------------------------------------------------------------------------------------------
BUY = 1
SELL = -1

# --- flags (bit set) ------------------------------------------------------------------------------------
FLAG_IOC = 1  # immediate-or-cancel: the unfilled remainder of a limit order is not rested
FLAG_POST_ONLY = 2  # rejected (status POST_ONLY_REJECTED) if any part would trade on arrival
KNOWN_FLAGS = FLAG_IOC | FLAG_POST_ONLY  # any other bit set: ERR_BAD_FLAGS

# --- status codes returned by kernels -------------------------------------------------------------------
OK = 0
ERR_CAPACITY = 1  # the order pool is full
ERR_UNKNOWN_ID = 2  # no resting order with this id
ERR_DUPLICATE_ID = 3  # a resting order already has this id
ERR_BAD_SIZE = 4  # size outside [1, MAX_SIZE], or an execution larger than the resting order
ERR_PRICE_WINDOW = 5  # a valid price that does not fit the book's price window, even after re-centring
POST_ONLY_REJECTED = 6  # a post-only order would have crossed; nothing happened
ERR_BAD_OP = 7  # unknown op code
ERR_BAD_SIDE = 8  # side is neither BUY nor SELL
FILLS_FULL = 9  # the fill buffer may not hold this message's fills: drain it and resume (not an error)
ERR_BAD_PRICE = 10  # a limit or modify price outside [1, PRICE_LIMIT] ticks
ERR_BAD_FLAGS = 11  # flag bits other than FLAG_IOC and FLAG_POST_ONLY

STATUS_NAMES = {
    OK: "ok",
    ERR_CAPACITY: "order capacity exhausted",
    ERR_UNKNOWN_ID: "unknown order id",
    ERR_DUPLICATE_ID: "duplicate order id",
    ERR_BAD_SIZE: "bad size",
    ERR_PRICE_WINDOW: "price outside the book's price window",
    POST_ONLY_REJECTED: "post-only order would cross",
    ERR_BAD_OP: "unknown op code",
    ERR_BAD_SIDE: "bad side",
    FILLS_FULL: "fill buffer full",
    ERR_BAD_PRICE: "bad price",
    ERR_BAD_FLAGS: "unknown flag bits",
}

# Sentinels for an empty side's best price.
NO_BID = np.iinfo(np.int64).min
NO_ASK = np.iinfo(np.int64).max

MESSAGE_DTYPE = np.dtype(
    [
        ("ts", np.int64),  # ns
        ("op", np.int8),
        ("side", np.int8),
        ("flags", np.int8),
        ("price", np.int64),  # ticks (ignored by market/cancel/reduce/execute)
        ("size", np.int64),  # lots (for reduce: the lots to take off)
        ("oid", np.int64),  # order id: the new order's id (limit, market: no resting order may have it), or
        #                     the target of cancel/reduce/modify/execute
        ("owner", np.int64),  # agent id of the sender
    ]
)

# All int64, in the column order of the engine's int64[F, 8] fill buffer, so that buffer is viewed as records.
FILL_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("price", np.int64),
        ("size", np.int64),
        ("maker_oid", np.int64),
        ("taker_oid", np.int64),
        ("maker_owner", np.int64),
        ("taker_owner", np.int64),
        ("aggressor", np.int64),  # side of the taker: BUY or SELL
    ]
)


def empty_messages(n: int) -> np.ndarray:
    """A zeroed message array of length ``n``."""
    return np.zeros(n, dtype=MESSAGE_DTYPE)


def message_columns(messages: np.ndarray) -> dict:
    """The fields of a ``MESSAGE_DTYPE`` array as contiguous column arrays (what ``nb.apply_batch`` takes)."""
    return {k: np.ascontiguousarray(messages[k]) for k in MESSAGE_DTYPE.names}
