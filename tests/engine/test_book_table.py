"""Table-driven tests of the whole L3 book before and after each operation and edge case.

Every case runs on both :class:`OrderBook` (the Numba engine) and :class:`ReferenceBook` (the oracle); the
expected books and fills are worked out by hand from the rules in ``docs/engine.md``. On the engine the
kernels' internal invariants are checked after every step too.
"""

from __future__ import annotations

import numpy as np
import pytest

from lobkit.engine import (
    BUY,
    ERR_BAD_SIDE,
    ERR_BAD_SIZE,
    ERR_CAPACITY,
    ERR_DUPLICATE_ID,
    ERR_PRICE_WINDOW,
    ERR_UNKNOWN_ID,
    OK,
    POST_ONLY_REJECTED,
    SELL,
    OrderBook,
    ReferenceBook,
)
from lobkit.engine.messages import ERR_BAD_PRICE
from lobkit.errors import BookError, ConfigError

BOOKS = [OrderBook, ReferenceBook]


def make(cls, **kw):
    kw.setdefault("capacity", 64)
    kw.setdefault("window", 256)
    kw.setdefault("center", 100)
    return cls(**kw)


def l3(book) -> list[tuple]:
    """The book as (side, price, oid, size, owner) rows: bids best first, asks best first, queue order."""
    return [(int(r["side"]), int(r["price"]), int(r["oid"]), int(r["size"]), int(r["owner"])) for r in book.l3()]


def fills(result) -> list[tuple]:
    """A result's fills as (price, size, maker_oid, taker_oid, maker_owner, taker_owner, aggressor)."""
    f = result.fills
    cols = ("price", "size", "maker_oid", "taker_oid", "maker_owner", "taker_owner", "aggressor")
    return [tuple(int(f[c][i]) for c in cols) for i in range(len(f))]


def run(book, steps):
    out = None
    for name, args, kw in steps:
        out = getattr(book, name)(*args, **kw)
        if isinstance(book, OrderBook):
            book.check()
    return out


def L(side, price, size, oid, owner=0, **kw):  # noqa: N802 - a step constructor reads like a table row
    return ("limit", (side, price, size), {"oid": oid, "owner": owner, **kw})


B, S = BUY, SELL
ASKS_3_LEVELS = [L(S, 101, 5, 1, 1), L(S, 101, 3, 2, 2), L(S, 102, 4, 3, 3), L(S, 103, 10, 4, 4)]
BIDS_2_LEVELS = [L(B, 100, 5, 1, 1), L(B, 100, 5, 2, 2), L(B, 99, 4, 3, 3)]

# name, setup steps, the step under test, expected L3 before, expected result fields, expected fills, L3 after
CASES = [
    (
        "fill across many levels",
        ASKS_3_LEVELS,
        L(B, 103, 15, 9, 7),
        [(S, 101, 1, 5, 1), (S, 101, 2, 3, 2), (S, 102, 3, 4, 3), (S, 103, 4, 10, 4)],
        {"filled": 15, "unfilled": 0, "resting": 0, "cancelled": 0},
        [(101, 5, 1, 9, 1, 7, B), (101, 3, 2, 9, 2, 7, B), (102, 4, 3, 9, 3, 7, B), (103, 3, 4, 9, 4, 7, B)],
        [(S, 103, 4, 7, 4)],
    ),
    (
        "crossing limit rests its remainder at its own price",
        [L(S, 101, 5, 1, 1)],
        L(B, 102, 8, 2, 2),
        [(S, 101, 1, 5, 1)],
        {"filled": 5, "unfilled": 3, "resting": 3, "cancelled": 0},
        [(101, 5, 1, 2, 1, 2, B)],
        [(B, 102, 2, 3, 2)],
    ),
    (
        "price-time priority inside a level",
        [L(S, 101, 3, 1, 1), L(S, 101, 3, 2, 2), L(S, 101, 3, 3, 3)],
        ("market", (B, 7), {"oid": 9, "owner": 5}),
        [(S, 101, 1, 3, 1), (S, 101, 2, 3, 2), (S, 101, 3, 3, 3)],
        {"filled": 7, "unfilled": 0, "resting": 0, "cancelled": 0},
        [(101, 3, 1, 9, 1, 5, B), (101, 3, 2, 9, 2, 5, B), (101, 1, 3, 9, 3, 5, B)],
        [(S, 101, 3, 2, 3)],
    ),
    (
        "sell into bids walks down",
        BIDS_2_LEVELS,
        L(S, 99, 12, 9, 7),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 12, "unfilled": 0, "resting": 0, "cancelled": 0},
        [(100, 5, 1, 9, 1, 7, S), (100, 5, 2, 9, 2, 7, S), (99, 2, 3, 9, 3, 7, S)],
        [(B, 99, 3, 2, 3)],
    ),
    (
        "cancel of a partly filled order",
        [L(S, 101, 10, 1, 1), ("market", (B, 4), {"oid": 2, "owner": 2})],
        ("cancel", (1,), {}),
        [(S, 101, 1, 6, 1)],
        {"filled": 0, "cancelled": 6, "resting": 0},
        [],
        [],
    ),
    (
        "modify: a price change loses priority",
        BIDS_2_LEVELS,
        ("modify", (1,), {"price": 99}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 0, "resting": 5, "cancelled": 5},
        [],
        [(B, 100, 2, 5, 2), (B, 99, 3, 4, 3), (B, 99, 1, 5, 1)],
    ),
    (
        "modify: size down keeps priority",
        BIDS_2_LEVELS,
        ("modify", (1,), {"size": 2}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 0, "resting": 2, "cancelled": 5},
        [],
        [(B, 100, 1, 2, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
    ),
    (
        "modify: size up loses priority",
        BIDS_2_LEVELS,
        ("modify", (1,), {"size": 8}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 0, "resting": 8, "cancelled": 5},
        [],
        [(B, 100, 2, 5, 2), (B, 100, 1, 8, 1), (B, 99, 3, 4, 3)],
    ),
    (
        "modify to a crossing price trades as the taker, keeping id and owner",
        [L(B, 100, 5, 1, 1), L(S, 102, 3, 2, 2), L(S, 103, 3, 3, 3)],
        ("modify", (1,), {"price": 102}),
        [(B, 100, 1, 5, 1), (S, 102, 2, 3, 2), (S, 103, 3, 3, 3)],
        {"filled": 3, "unfilled": 2, "resting": 2, "cancelled": 5},
        [(102, 3, 2, 1, 2, 1, B)],
        [(B, 102, 1, 2, 1), (S, 103, 3, 3, 3)],
    ),
    (
        "reduce keeps priority",
        BIDS_2_LEVELS,
        ("reduce", (1, 3), {}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"resting": 2, "cancelled": 3},
        [],
        [(B, 100, 1, 2, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
    ),
    (
        "reduce by more than the size cancels",
        BIDS_2_LEVELS,
        ("reduce", (3, 40), {}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"resting": 0, "cancelled": 4},
        [],
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2)],
    ),
    (
        "execute part of one order keeps its priority",
        BIDS_2_LEVELS,
        ("execute", (1, 2), {"taker_owner": 9}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 2, "resting": 3},
        [(100, 2, 1, -1, 1, 9, S)],
        [(B, 100, 1, 3, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
    ),
    (
        "execute a whole order away from the best price",
        BIDS_2_LEVELS,
        ("execute", (3, 4), {}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 4, "resting": 0},
        [(99, 4, 3, -1, 3, 0, S)],
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2)],
    ),
    (
        "market order into an empty side",
        BIDS_2_LEVELS,
        ("market", (B, 5), {"oid": 9}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
        {"filled": 0, "unfilled": 5, "cancelled": 5},
        [],
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (B, 99, 3, 4, 3)],
    ),
    (
        "market order larger than the book reports its remainder",
        [L(S, 101, 2, 1, 1), L(S, 102, 3, 2, 2), L(B, 99, 1, 3, 3)],
        ("market", (B, 10), {"oid": 9, "owner": 4}),
        [(B, 99, 3, 1, 3), (S, 101, 1, 2, 1), (S, 102, 2, 3, 2)],
        {"filled": 5, "unfilled": 5, "resting": 0, "cancelled": 5},
        [(101, 2, 1, 9, 1, 4, B), (102, 3, 2, 9, 2, 4, B)],
        [(B, 99, 3, 1, 3)],
    ),
    (
        "IOC trades what crosses and drops the rest",
        [L(S, 101, 2, 1, 1), L(S, 103, 2, 2, 2)],
        L(B, 102, 5, 9, 4, ioc=True),
        [(S, 101, 1, 2, 1), (S, 103, 2, 2, 2)],
        {"filled": 2, "unfilled": 3, "resting": 0, "cancelled": 3},
        [(101, 2, 1, 9, 1, 4, B)],
        [(S, 103, 2, 2, 2)],
    ),
    (
        "IOC that does not cross does nothing",
        [L(S, 101, 2, 1, 1)],
        L(B, 100, 5, 9, 4, ioc=True),
        [(S, 101, 1, 2, 1)],
        {"filled": 0, "unfilled": 5, "resting": 0, "cancelled": 5},
        [],
        [(S, 101, 1, 2, 1)],
    ),
    (
        "post-only that would cross is rejected and changes nothing",
        [L(S, 101, 2, 1, 1)],
        L(B, 101, 5, 9, 4, post_only=True),
        [(S, 101, 1, 2, 1)],
        {"status": POST_ONLY_REJECTED, "filled": 0, "resting": 0},
        [],
        [(S, 101, 1, 2, 1)],
    ),
    (
        "post-only that does not cross rests",
        [L(S, 101, 2, 1, 1)],
        L(B, 100, 5, 9, 4, post_only=True),
        [(S, 101, 1, 2, 1)],
        {"status": OK, "filled": 0, "resting": 5},
        [],
        [(B, 100, 9, 5, 4), (S, 101, 1, 2, 1)],
    ),
    (
        "post-only modify that would cross is rejected, the order keeps its place",
        [L(B, 100, 5, 1, 1), L(B, 100, 5, 2, 2), L(S, 102, 3, 3, 3)],
        ("modify", (1,), {"price": 102, "post_only": True}),
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (S, 102, 3, 3, 3)],
        {"status": POST_ONLY_REJECTED, "filled": 0, "resting": 5},
        [],
        [(B, 100, 1, 5, 1), (B, 100, 2, 5, 2), (S, 102, 3, 3, 3)],
    ),
    (
        "self-match of the same owner trades and is recorded",
        [L(S, 101, 4, 1, 7), L(S, 101, 4, 2, 8)],
        L(B, 101, 6, 9, 7),
        [(S, 101, 1, 4, 7), (S, 101, 2, 4, 8)],
        {"filled": 6, "resting": 0},
        [(101, 4, 1, 9, 7, 7, B), (101, 2, 2, 9, 8, 7, B)],
        [(S, 101, 2, 2, 8)],
    ),
    (
        "ids of filled orders may be reused",
        [L(S, 101, 4, 1, 1), ("market", (B, 4), {"oid": 5})],
        L(S, 104, 2, 1, 2),
        [],
        {"filled": 0, "resting": 2},
        [],
        [(S, 104, 1, 2, 2)],
    ),
]


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_operation_table(cls, case):
    _, setup, step, before, expect, expect_fills, after = case
    book = make(cls)
    run(book, setup)
    assert l3(book) == before
    r = run(book, [step])
    for k, v in expect.items():
        assert getattr(r, k) == v, (k, r)
    assert fills(r) == expect_fills
    assert l3(book) == after
    # queries agree with the L3 book
    bids = [x for x in after if x[0] == B]
    asks = [x for x in after if x[0] == S]
    assert book.best_bid == (bids[0][1] if bids else None)
    assert book.best_ask == (asks[0][1] if asks else None)
    assert len(book) == len(after)


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_l2_and_top_of_book_queries(cls):
    book = make(cls, tick_size=0.5)
    run(book, ASKS_3_LEVELS + BIDS_2_LEVELS[:0] + [L(B, 98, 2, 11), L(B, 98, 3, 12), L(B, 97, 1, 13)])
    l2 = book.l2(2)
    assert l2.bids.tolist() == [(98, 5, 2), (97, 1, 1)]
    assert l2.asks.tolist() == [(101, 8, 2), (102, 4, 1)]
    assert book.l2(10).asks.tolist() == [(101, 8, 2), (102, 4, 1), (103, 10, 1)]
    assert book.l2(0).bids.size == 0
    assert (book.best_bid, book.best_ask, book.spread, book.mid) == (98, 101, 3, 99.5)
    assert (book.best_bid_px, book.best_ask_px, book.spread_px, book.mid_px) == (49.0, 50.5, 1.5, 49.75)
    assert book.depth() == (2, 3) and book.depth("sell") == 3
    assert book.volume(BUY) == 6 and book.volume(SELL) == 22
    assert book.order(12) == (12, BUY, 98, 3, 0, 0)
    assert 12 in book and 99 not in book and book.get(99) is None
    frame = book.l2(5).to_polars()
    assert frame.height == 5 and frame["px"].to_list()[:2] == [49.0, 48.5]


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_empty_book_queries(cls):
    book = make(cls)
    assert (book.best_bid, book.best_ask, book.mid, book.spread, book.mid_px) == (None,) * 5
    assert book.l3().size == 0 and book.l2(5).bids.size == 0 and len(book) == 0
    run(book, [L(B, 100, 1, 1)])
    assert (book.best_bid, book.best_ask, book.mid, book.spread) == (100, None, None, None)


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_float_prices_and_quantities(cls):
    book = make(cls, tick_size=0.01, lot_size=0.5, center=10_000)
    r = book.limit("buy", px=100.03, qty=1.5, oid=1)
    assert book.order(1).price == 10003 and book.order(1).size == 3 and r.resting == 3
    book.limit("sell", px=99.99, qty=0.5)
    assert book.order(1).size == 2 and book.fills["price"].tolist() == [10003]
    with pytest.raises(BookError, match="off the grid"):
        book.limit("buy", px=100.005, size=1)
    with pytest.raises(BookError, match="off the grid"):
        book.limit("buy", px=100.0, qty=0.3)
    with pytest.raises(BookError, match="use px="):
        book.limit("buy", 100.5, 1)
    with pytest.raises(BookError, match="not both"):
        book.limit("buy", 10000, 1, px=100.0)
    assert book.ticks(123.45) == 12345 and book.px(12345) == pytest.approx(123.45)


def _err(book, fn, match, status=None):
    before = l3(book)
    with pytest.raises(BookError, match=match) as ei:
        fn()
    if status is not None:
        assert ei.value.status == status
    assert l3(book) == before, "a rejected operation must change nothing"
    return ei.value


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_errors_name_op_id_and_reason(cls):
    book = make(cls)
    run(book, BIDS_2_LEVELS + [L(S, 102, 5, 4)])
    e = _err(book, lambda: book.limit(B, 100, 1, oid=2), r"limit order 2: duplicate order id", ERR_DUPLICATE_ID)
    assert (e.op, e.oid) == ("limit", 2)
    _err(book, lambda: book.cancel(77), r"cancel order 77: unknown order id", ERR_UNKNOWN_ID)
    _err(book, lambda: book.reduce(77, 1), r"reduce order 77: unknown order id", ERR_UNKNOWN_ID)
    _err(book, lambda: book.modify(77, price=100), r"modify order 77: unknown order id", ERR_UNKNOWN_ID)
    _err(book, lambda: book.execute(77, 1), r"execute order 77: unknown order id", ERR_UNKNOWN_ID)
    _err(book, lambda: book.execute(1, 6), r"execute order 1: size 6 is larger than the resting order \(5 lots\)",
         ERR_BAD_SIZE)  # fmt: skip
    _err(book, lambda: book.limit(B, 100, 0, oid=50), r"limit order 50: size must be a positive", ERR_BAD_SIZE)
    _err(book, lambda: book.limit(B, 100, -3), r"size must be a positive", ERR_BAD_SIZE)
    _err(book, lambda: book.market(S, 0), r"market.*size must be a positive", ERR_BAD_SIZE)
    _err(book, lambda: book.reduce(1, 0), r"reduce order 1: by must be a positive", ERR_BAD_SIZE)
    _err(book, lambda: book.modify(1, size=0), r"modify order 1: size must be a positive", ERR_BAD_SIZE)
    _err(book, lambda: book.limit(0, 100, 1, oid=51), r"limit order 51: bad side 0", ERR_BAD_SIDE)
    _err(book, lambda: book.limit("up", 100, 1), r"bad side 'up'", ERR_BAD_SIDE)
    _err(book, lambda: book.limit(True, 100, 1), r"bad side True", ERR_BAD_SIDE)
    _err(book, lambda: book.limit(B, 2**61, 1), r"price 2305843009213693952 ticks is not a valid price", ERR_BAD_PRICE)
    _err(book, lambda: book.limit(B, 100, 2**41), r"larger than the supported maximum", ERR_BAD_SIZE)
    _err(book, lambda: book.limit(B, 100, 1.0), r"integer number of lots")
    _err(book, lambda: book.limit(B, size=1), r"a price is required")
    _err(book, lambda: book.limit(B, 100, 1, oid=2**63), r"oid must be an int64")
    _err(book, lambda: book.limit(B, 100, 1, owner="x"), r"owner must be an int64")
    _err(book, lambda: book.limit(B, px=float("nan"), size=1), r"px must be finite")
    _err(book, lambda: book.cancel("1"), r"oid must be an int64")
    # auto ids continue after the largest id used so far; ids of rejected arguments are not consumed
    assert book.limit(B, 100, 1).oid == 5
    book.limit(B, 100, 1, oid=40)
    assert book.limit(B, 100, 1).oid == 41


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_capacity_exhaustion(cls):
    book = make(cls, capacity=3)
    run(book, [L(B, 100, 5, 1), L(B, 99, 5, 2), L(S, 102, 5, 3)])
    _err(book, lambda: book.limit(S, 103, 1, oid=4), r"limit order 4: order capacity exhausted", ERR_CAPACITY)
    # IOC and market orders never rest, and a crossing order frees the slot it needs before resting
    book.limit(S, 100, 1, oid=5, ioc=True)
    r = book.limit(S, 100, 9, oid=6)
    assert (r.filled, r.resting) == (4, 5)
    assert l3(book) == [(B, 99, 2, 5, 0), (S, 100, 6, 5, 0), (S, 102, 3, 5, 0)]
    _err(book, lambda: book.limit(B, 90, 1), r"capacity", ERR_CAPACITY)
    book.cancel(2)
    book.limit(B, 90, 1, oid=7)
    assert len(book) == 3


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_window_recentres_when_the_price_wanders_far(cls):
    book = cls(capacity=16, window=64, center=1000)
    assert book.window_range == (968, 1031)
    book.limit(B, 1000, 1, oid=1)
    book.limit(S, 1040, 1, oid=2)  # outside: re-centre on [1000, 1040]
    assert book.window_range == (989, 1052)
    # the price wanders a long way (8,000 ticks) in steps the window can follow: it re-centres each time
    book.cancel(1)
    for k in range(3, 203):
        p = 1040 + 40 * (k - 2)
        book.limit(S, p, 1, oid=k)
        book.cancel(k - 1)
        assert book.window_range[0] <= p <= book.window_range[1]
    assert book.recentres >= 200
    top = book.l3()
    assert top["oid"].tolist() == [202] and top["price"].tolist() == [1040 + 40 * 200]
    book.limit(B, 1040 + 40 * 200 - 30, 1, oid=200)
    # a price that cannot fit with the resting orders inside the window is rejected; nothing changes
    far = int(top["price"].max()) + 64
    _err(book, lambda: book.limit(S, far, 1, oid=500), r"outside the book's price window", ERR_PRICE_WINDOW)
    _err(book, lambda: book.modify(200, price=far), r"price window", ERR_PRICE_WINDOW)
    # ... but an IOC order does not need to fit (it never rests)
    assert book.limit(S, far, 1, oid=501, ioc=True).cancelled == 1


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_fills_accumulate_and_frame(cls):
    book = make(cls)
    run(book, ASKS_3_LEVELS + [L(B, 102, 10, 10, 9), ("market", (B, 2), {"oid": 11})])
    f = book.fills
    assert f["size"].tolist() == [5, 3, 2, 2] and f["taker_oid"].tolist() == [10, 10, 10, 11]
    frame = book.fills_frame()
    assert frame.columns[:3] == ["ts", "price", "size"] and frame.height == 4
    book.clear_fills()
    assert book.fills.size == 0


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 2.5}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"capacity": 2**22 + 1}, r"capacity must be an integer in \[1, 2\*\*22 = 4,194,304\], got 4194305"),
        ({"capacity": np.int64(0)}, r"got 0$"),
        ({"window": 0}, "window"),
        ({"window": 2**30}, "window"),
        ({"capacity": 100, "fill_capacity": 10}, "fill_capacity"),
        ({"tick_size": 0}, "tick_size"),
        ({"tick_size": -0.01}, "tick_size"),
        ({"tick_size": float("nan")}, "tick_size"),
        ({"tick_size": "0.01"}, "tick_size"),
        ({"lot_size": 0.0}, "lot_size"),
        ({"center": 2**62}, "center"),
        ({"center": 0}, r"center must be a price: a whole number of ticks in \[1, 2\*\*60\], got 0"),
        ({"center": -5}, "center"),
        ({"tick_size": np.float64(-0.5)}, r"tick_size must be a positive finite float, got -0.5$"),
    ],
)
def test_bad_configuration(kw, match):
    with pytest.raises(ConfigError, match=match):
        OrderBook(**kw)


def test_window_is_rounded_to_64_and_state_exposed():
    book = OrderBook(capacity=10, window=100, center=64)
    assert book.window == 128 and book.window_range == (0, 127)
    assert book.state.orders.shape == (10, 8)
    assert "OrderBook(0 resting" in repr(book)
    assert np.all(book.l3()["oid"] == [])
