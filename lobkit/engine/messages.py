"""The order-book vocabulary: op codes, sides, flags, status codes and the message/fill dtypes.

The same dtypes flow from LOBSTER replay, the simulator, the GUI and results, and go to Polars with
``pl.from_numpy``. Everything is integer: prices in ticks (int64), sizes in lots (int64), time in ns (int64).
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

# --- sides ----------------------------------------------------------------------------------------------
BUY = 1
SELL = -1

# --- flags (bit set) ------------------------------------------------------------------------------------
FLAG_IOC = 1  # immediate-or-cancel: the unfilled remainder of a limit order is not rested
FLAG_POST_ONLY = 2  # rejected (status POST_ONLY_REJECTED) if any part would trade on arrival

# --- status codes returned by kernels -------------------------------------------------------------------
OK = 0
ERR_CAPACITY = 1  # the order pool is full
ERR_UNKNOWN_ID = 2  # no resting order with this id
ERR_DUPLICATE_ID = 3  # a resting order already has this id
ERR_BAD_SIZE = 4  # size <= 0, or an execution larger than the resting order
ERR_PRICE_WINDOW = 5  # the price does not fit the book's price window, even after re-centring
POST_ONLY_REJECTED = 6  # a post-only order would have crossed; nothing happened
ERR_BAD_OP = 7  # unknown op code
ERR_BAD_SIDE = 8  # side is neither BUY nor SELL
FILLS_FULL = 9  # the fill buffer may not hold this message's fills: drain it and resume (not an error)

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
        ("size", np.int64),  # lots
        ("oid", np.int64),  # order id (the new order's id, or the target of cancel/reduce/modify/execute)
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


# --- synthetic order flow --------------------------------------------------------------------------------
# prob = (limit, ioc, cancel, market, cross): see lobkit.engine.nb.gen_flow; the rest of the messages modify
# the price of a resting order.
FLOWS = {
    # exchange-core's benchmark mix: ~82% modify-price, 9% limit, 3% IOC, 6% cancel; ~1,000 resting orders over
    # ~730 levels; about 6% of the messages trade
    "mix": {"prob": (0.09, 0.03, 0.06, 0.0, 0.033), "target": 1000, "half_span": 820, "max_size": 10},
    # a high match rate: ~42% of the messages trade (0.7 fills per message) against ~200 orders on ~30 levels
    "match": {"prob": (0.6, 0.1, 0.1, 0.1, 0.3), "target": 200, "half_span": 8, "max_size": 10},
}


def synthetic_flow(n: int, kind: str = "mix", seed: int = 0, *, n_owners: int = 16, mid: int = 100_000):
    """A seeded, valid synthetic message stream of ``n`` messages (``MESSAGE_DTYPE``) and its statistics.

    Every cancel and modify targets an order resting at that moment (the generator runs a scratch book).
    ``kind`` is a key of :data:`FLOWS`. Returns ``(messages, info)``; ``info`` holds the number of messages
    that traded and the share of each op.
    """
    from lobkit.engine import nb
    from lobkit.engine.state import alloc_state

    if kind not in FLOWS:
        raise ValueError(f"unknown flow kind {kind!r}; choose from {sorted(FLOWS)}")
    f = FLOWS[kind]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    st = alloc_state(4 * f["target"] + 64, 4096, 8 * f["target"] + 256, mid - 2048)
    cols = {k: np.zeros(n, dtype=MESSAGE_DTYPE[k]) for k in MESSAGE_DTYPE.names}
    live = np.zeros(n + 1, dtype=np.int64)
    pos = np.full(n + 1, -1, dtype=np.int64)
    traded = nb.gen_flow(
        st, rng, np.array(f["prob"], dtype=np.float64), f["target"], f["half_span"], f["max_size"], n_owners, mid,
        cols["op"], cols["side"], cols["flags"], cols["price"], cols["size"], cols["oid"], cols["owner"],
        cols["ts"], live, pos,
    )  # fmt: skip
    msgs = np.empty(n, dtype=MESSAGE_DTYPE)
    for k, v in cols.items():
        msgs[k] = v
    ops = msgs["op"]
    info = {
        "messages": n,
        "traded": int(traded),
        "trade_share": traded / max(n, 1),
        "modify_share": float(np.mean(ops == OP_MODIFY)) if n else 0.0,
        "limit_share": float(np.mean((ops == OP_LIMIT) & (msgs["flags"] & FLAG_IOC == 0))) if n else 0.0,
        "ioc_share": float(np.mean((ops == OP_LIMIT) & (msgs["flags"] & FLAG_IOC != 0))) if n else 0.0,
        "cancel_share": float(np.mean(ops == OP_CANCEL)) if n else 0.0,
        "market_share": float(np.mean(ops == OP_MARKET)) if n else 0.0,
        "resting_at_end": int(st.meta[6] + st.meta[7]),
    }
    return msgs, info


def columns(messages: np.ndarray) -> dict:
    """The fields of a message array as contiguous column arrays (what ``nb.apply_batch`` takes)."""
    return {k: np.ascontiguousarray(messages[k]) for k in MESSAGE_DTYPE.names}
