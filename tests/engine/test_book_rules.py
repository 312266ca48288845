"""The engine's input rules, checked the same way at every entry, table-driven.

* a price is a whole number of ticks in ``[1, PRICE_LIMIT]`` (``ERR_BAD_PRICE``, an error that names the price);
* a size is a whole number of lots in ``[1, MAX_SIZE]`` (``ERR_BAD_SIZE``);
* the id of a new order (limit, IOC, post-only, market) must not be the id of a resting order
  (``ERR_DUPLICATE_ID``), so an order never trades with itself as maker and taker.

Entries: the facade's single operations (``price=``/``px=``, ``size=``/``qty=``), ``apply`` (strict and not) on
:class:`OrderBook` (the jitted batch) and :class:`ReferenceBook` (the oracle), and the kernels the simulator calls
directly (``nb.limit_order``, ``nb.market_order``, ``nb.modify``, ``nb.reduce``, ``nb.execute``,
``nb.apply_batch``). Every rejected operation must leave the book exactly as it was.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lobkit.engine import BUY, MESSAGE_DTYPE, SELL, OrderBook, ReferenceBook, nb
from lobkit.engine.messages import (
    ERR_BAD_FLAGS,
    ERR_BAD_PRICE,
    ERR_BAD_SIZE,
    ERR_DUPLICATE_ID,
    FLAG_IOC,
    FLAG_POST_ONLY,
    MAX_SIZE,
    OK,
    OP_CANCEL,
    OP_EXECUTE,
    OP_LIMIT,
    OP_MARKET,
    OP_MODIFY,
    OP_REDUCE,
    PRICE_LIMIT,
    STATUS_NAMES,
    message_columns,
)
from lobkit.errors import BookError

BOOKS = [OrderBook, ReferenceBook]
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def make(cls, **kw):
    kw.setdefault("capacity", 64)
    kw.setdefault("window", 256)
    kw.setdefault("center", 100)
    return cls(**kw)


def resting(cls):
    """A book with a bid (id 1 @ 99) and an ask (id 2 @ 101), 5 lots each."""
    book = make(cls)
    book.limit(BUY, 99, 5, oid=1, owner=1)
    book.limit(SELL, 101, 5, oid=2, owner=2)
    return book


def state_of(book) -> tuple:
    return book.l3().tolist(), book.fills.tolist(), len(book)


def rejected(book, call, match, status):
    before = state_of(book)
    with pytest.raises(BookError, match=match) as ei:
        call()
    assert ei.value.status == status, ei.value
    assert state_of(book) == before, "a rejected operation must change nothing"
    if isinstance(book, OrderBook):
        book.check()
    return ei.value


def msgs(*rows):
    """Messages from (op, side, flags, price, size, oid, owner) rows; ts is the row number."""
    a = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for i, r in enumerate(rows):
        a[i] = (i, *r)
    return a


# ------------------------------------------------------------------------------------------------------ prices
BAD_TICKS = [0, -1, -100, I64_MIN, PRICE_LIMIT + 1, 2**62, I64_MAX]
BAD_PX = [(0.0, "0.0"), (-1.0, "-1.0"), (-0.01, "-0.01"), (1e300, "1e+300"), (10**400, "1" + "0" * 400),
          (np.float64(-2.5), "-2.5")]  # fmt: skip


def price_calls(book, price=None, px=None):
    """Every single operation that takes a price, as (name, call); modify only when order 1 rests."""
    kw = {"price": price} if px is None else {"px": px}
    calls = [
        ("limit", lambda: book.limit(BUY, size=1, oid=50, **kw)),
        ("limit sell", lambda: book.limit(SELL, size=1, oid=50, **kw)),
        ("limit ioc", lambda: book.limit(SELL, size=1, oid=50, ioc=True, **kw)),
        ("limit post-only", lambda: book.limit(BUY, size=1, oid=50, post_only=True, **kw)),
    ]
    if book.get(1) is not None:
        calls.append(("modify", lambda: book.modify(1, **kw)))
    return calls


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("price", BAD_TICKS)
@pytest.mark.parametrize("setup", ["empty", "resting"])
def test_a_price_outside_1_to_price_limit_is_refused_and_named(cls, price, setup):
    book = make(cls) if setup == "empty" else resting(cls)
    for name, call in price_calls(book, price=price):
        e = rejected(book, call, rf"price {price} ticks is not a valid price \(a price is a whole number of ticks "
                     r"in \[1, 2\*\*60\]\)", ERR_BAD_PRICE)  # fmt: skip
        assert "window" not in str(e), name


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("px, shown", BAD_PX, ids=[s for _, s in BAD_PX])
def test_a_float_price_below_one_tick_or_beyond_the_limit_is_refused_as_written(cls, px, shown):
    book = resting(cls)
    for _, call in price_calls(book, px=px):
        e = rejected(book, call, re.escape(f"px {shown} is not a valid price"), ERR_BAD_PRICE)
        assert "np." not in str(e) and "window" not in str(e)
    with pytest.raises(BookError, match=re.escape(f"px {shown} is not a valid price")):
        book.ticks(px)


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_the_extreme_valid_prices_rest(cls):
    for price in (1, PRICE_LIMIT):
        book = cls(capacity=4, window=64)
        r = book.limit(BUY, price, 1, oid=1)
        assert r.resting == 1 and book.best_bid == price
    book = cls(capacity=4, window=64, tick_size=0.5)
    assert book.limit(SELL, px=0.5, size=1).resting == 1 and book.best_ask == 1


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("op, flags", [(OP_LIMIT, 0), (OP_LIMIT, FLAG_IOC), (OP_LIMIT, FLAG_POST_ONLY), (OP_MODIFY, 0)])
@pytest.mark.parametrize("price", [0, -1, I64_MIN, PRICE_LIMIT + 1])
def test_apply_refuses_bad_prices_by_name(cls, op, flags, price):
    book = resting(cls)
    oid = 1 if op == OP_MODIFY else 7
    m = msgs((op, BUY, flags, price, 1, oid, 3))
    before = state_of(book)
    r = book.apply(m, strict=False)
    assert r.status.tolist() == [ERR_BAD_PRICE] and state_of(book) == before
    kind = "limit" if op == OP_LIMIT else "modify"
    with pytest.raises(BookError, match=rf"message 0 \({kind} order {oid}\): price {price} ticks is not a valid "):
        book.apply(m)
    assert state_of(book) == before


# ------------------------------------------------------------------------------------------------------ ids
def new_order_calls(book, oid):
    return [
        ("limit", lambda: book.limit(BUY, 90, 1, oid=oid)),
        ("limit crossing", lambda: book.limit(BUY, 101, 1, oid=oid)),
        ("ioc", lambda: book.limit(BUY, 101, 1, oid=oid, ioc=True)),
        ("post-only", lambda: book.limit(SELL, 120, 1, oid=oid, post_only=True)),
        ("market buy", lambda: book.market(BUY, 2, oid=oid)),
        ("market sell", lambda: book.market(SELL, 2, oid=oid)),
    ]


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("oid", [1, 2], ids=["id of the bid", "id of the ask"])
def test_every_kind_of_new_order_with_a_resting_id_is_refused(cls, oid):
    book = resting(cls)
    for name, call in new_order_calls(book, oid):
        e = rejected(book, call, rf"order {oid}: duplicate order id", ERR_DUPLICATE_ID)
        assert e.oid == oid, name


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_a_market_order_never_trades_with_itself(cls):
    """The fault of the issue: a market buy with the id of the resting ask traded with itself."""
    book = resting(cls)
    rejected(book, lambda: book.market(BUY, 2, oid=2), r"market order 2: duplicate order id", ERR_DUPLICATE_ID)
    assert not np.any(book.fills["maker_oid"] == book.fills["taker_oid"])
    # once the order has left the book its id is free again, for a market order as for a limit order
    book.cancel(2)
    book.limit(SELL, 102, 5, oid=3)
    assert book.market(BUY, 2, oid=2).filled == 2


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("op, flags, price", [(OP_LIMIT, 0, 90), (OP_LIMIT, FLAG_IOC, 101), (OP_MARKET, 0, 0),
                                              (OP_LIMIT, FLAG_POST_ONLY, 95)])  # fmt: skip
def test_apply_refuses_a_new_order_with_a_resting_id(cls, op, flags, price):
    book = resting(cls)
    m = msgs((OP_LIMIT, SELL, 0, 103, 4, 9, 9), (op, BUY, flags, price, 2, 2, 3), (OP_MARKET, BUY, 0, 0, 1, 10, 3))
    r = make(cls).apply(m, strict=False)  # on a book without id 2 the same message is fine
    assert r.status[1] == OK
    r = book.apply(m, strict=False)
    assert r.status.tolist() == [OK, ERR_DUPLICATE_ID, OK] and r.qty[1] == 0
    assert not np.any(r.fills["maker_oid"] == r.fills["taker_oid"])
    book = resting(cls)
    with pytest.raises(BookError, match=r"message 1 \((limit|market) order 2\): duplicate order id") as ei:
        book.apply(m)
    assert ei.value.index == 1 and book.get(9) is not None and len(book) == 3


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_automatic_ids_continue_after_the_ids_a_batch_used(cls):
    book = make(cls)
    book.apply(msgs((OP_LIMIT, BUY, 0, 90, 1, 500, 1), (OP_MARKET, SELL, 0, 0, 1, 700, 1),
                    (OP_CANCEL, 0, 0, 0, 0, 9000, 0)), strict=False)  # fmt: skip
    assert book.limit(BUY, 91, 1).oid == 701  # a cancel's target is not a new id
    book.limit(BUY, 92, 1, oid=I64_MAX)
    with pytest.raises(BookError, match=r"no automatic order id is left after 2\*\*63-1; give oid="):
        book.market(SELL, 1)
    assert book.limit(BUY, 93, 1, oid=5).oid == 5


# ------------------------------------------------------------------------------------------------------ sizes
BAD_SIZES = [0, -1, MAX_SIZE + 1, I64_MAX, I64_MIN]


def size_calls(book, size=None, qty=None):
    kw = {"size": size} if qty is None else {"qty": qty}
    by = {"by": size} if qty is None else {"qty": qty}
    return [
        ("limit", lambda: book.limit(BUY, 90, oid=50, **kw)),
        ("ioc", lambda: book.limit(BUY, 101, oid=50, ioc=True, **kw)),
        ("market", lambda: book.market(BUY, oid=50, **kw)),
        ("modify", lambda: book.modify(1, **kw)),
        ("reduce", lambda: book.reduce(1, **by)),
        ("execute", lambda: book.execute(1, **kw)),
    ]


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("size", BAD_SIZES)
def test_sizes_outside_1_to_max_size_are_refused_at_every_entry(cls, size):
    book = resting(cls)
    for name, call in size_calls(book, size=size):
        e = rejected(book, call, r"(size|by) (must be a positive number of lots|-?\d+ is larger than the supported "
                     r"maximum 2\*\*40 lots)", ERR_BAD_SIZE)  # fmt: skip
        assert str(size) in str(e), name


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("qty, shown", [(1e300, "1e+300"), (10**400, "1" + "0" * 400), (-2.0, "-2.0"), (0.0, "0.0"),
                                        (np.float64(2.0**41), "2199023255552.0")])  # fmt: skip
def test_float_quantities_out_of_range_are_refused_as_written(cls, qty, shown):
    book = resting(cls)
    for _, call in size_calls(book, qty=qty):
        e = rejected(book, call, "qty", ERR_BAD_SIZE)
        assert shown in str(e) and "np." not in str(e)


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_max_size_is_accepted_and_level_sums_do_not_overflow(cls):
    book = make(cls, capacity=8)
    for k in range(8):
        book.limit(SELL, 101, MAX_SIZE, oid=k + 1)
    assert book.volume(SELL) == 8 * MAX_SIZE and book.l2(1).asks["size"].tolist() == [8 * MAX_SIZE]
    r = book.market(BUY, MAX_SIZE)
    assert r.filled == MAX_SIZE and book.volume(SELL) == 7 * MAX_SIZE


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("op", [OP_LIMIT, OP_MARKET, OP_MODIFY, OP_REDUCE, OP_EXECUTE])
@pytest.mark.parametrize("size", [0, -3, MAX_SIZE + 1, I64_MAX])
def test_apply_refuses_bad_sizes_for_every_op(cls, op, size):
    book = resting(cls)
    oid = 1 if op in (OP_MODIFY, OP_REDUCE, OP_EXECUTE) else 7
    before = state_of(book)
    r = book.apply(msgs((op, BUY, 0, 99, size, oid, 3)), strict=False)
    assert r.status.tolist() == [ERR_BAD_SIZE] and state_of(book) == before
    reason = rf"size (must be .* got {size}|{size} is larger)"
    with pytest.raises(BookError, match=rf"message 0 \(\w+ order {oid}\): {reason}"):
        book.apply(msgs((op, BUY, 0, 99, size, oid, 3)))


@pytest.mark.parametrize("cls", BOOKS, ids=lambda c: c.__name__)
def test_apply_refuses_unknown_flag_bits_for_every_op(cls):
    book = resting(cls)
    rows = [(op, BUY, 4, 99, 1, 1 if op != OP_LIMIT else 7, 0) for op in (OP_LIMIT, OP_MARKET, OP_CANCEL, OP_MODIFY)]
    r = book.apply(msgs(*rows), strict=False)
    assert r.status.tolist() == [ERR_BAD_FLAGS] * 4 and len(book) == 2
    assert STATUS_NAMES[ERR_BAD_FLAGS] == "unknown flag bits" and STATUS_NAMES[ERR_BAD_PRICE] == "bad price"


# ------------------------------------------------------------------------------------------------------ kernels
KERNEL_CASES = [
    # (what, call on (state), expected status)
    ("limit at price 0", lambda st: nb.limit_order(st, BUY, 0, 1, 50, 0, 0, 0), ERR_BAD_PRICE),
    ("limit at price -1", lambda st: nb.limit_order(st, SELL, -1, 1, 50, 0, 0, 0), ERR_BAD_PRICE),
    ("IOC at price 0", lambda st: nb.limit_order(st, SELL, 0, 1, 50, 0, 0, FLAG_IOC), ERR_BAD_PRICE),
    ("limit beyond PRICE_LIMIT", lambda st: nb.limit_order(st, BUY, PRICE_LIMIT + 1, 1, 50, 0, 0, 0), ERR_BAD_PRICE),
    ("limit of size 0", lambda st: nb.limit_order(st, BUY, 90, 0, 50, 0, 0, 0), ERR_BAD_SIZE),
    ("limit beyond MAX_SIZE", lambda st: nb.limit_order(st, BUY, 90, MAX_SIZE + 1, 50, 0, 0, 0), ERR_BAD_SIZE),
    ("limit of int64 max lots", lambda st: nb.limit_order(st, SELL, 99, I64_MAX, 50, 0, 0, 0), ERR_BAD_SIZE),
    ("limit with unknown flags", lambda st: nb.limit_order(st, BUY, 90, 1, 50, 0, 0, 8), ERR_BAD_FLAGS),
    ("limit with a resting id", lambda st: nb.limit_order(st, BUY, 101, 1, 2, 0, 0, 0), ERR_DUPLICATE_ID),
    ("market with the ask's id", lambda st: nb.market_order(st, BUY, 2, 2, 0, 0), ERR_DUPLICATE_ID),
    ("market with the bid's id", lambda st: nb.market_order(st, BUY, 2, 1, 0, 0), ERR_DUPLICATE_ID),
    ("market of int64 max lots", lambda st: nb.market_order(st, SELL, I64_MAX, 50, 0, 0), ERR_BAD_SIZE),
    ("modify to price 0", lambda st: nb.modify(st, 1, 0, 5, 0, 0), ERR_BAD_PRICE),
    ("modify to price -7", lambda st: nb.modify(st, 1, -7, 5, 0, 0), ERR_BAD_PRICE),
    ("modify beyond MAX_SIZE", lambda st: nb.modify(st, 1, 99, MAX_SIZE + 1, 0, 0), ERR_BAD_SIZE),
    ("reduce by int64 max", lambda st: nb.reduce(st, 1, I64_MAX), ERR_BAD_SIZE),
    ("execute int64 max lots", lambda st: nb.execute(st, 1, I64_MAX, 0, -1, 0), ERR_BAD_SIZE),
    ("execute 0 lots", lambda st: nb.execute(st, 1, 0, 0, -1, 0), ERR_BAD_SIZE),
]


@pytest.mark.parametrize("what, call, status", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
def test_the_kernels_refuse_bad_input_themselves_and_change_nothing(what, call, status):
    """The simulator's jitted loop calls the kernels without the facade in front: they must refuse too."""
    book = resting(OrderBook)
    before = state_of(book)
    meta = book.state.meta.copy()
    assert call(book.state) == (status, 0)
    assert state_of(book) == before and np.array_equal(book.state.meta, meta)
    book.check()


def test_apply_batch_over_columns_gives_the_same_statuses():
    book = resting(OrderBook)
    m = msgs((OP_LIMIT, BUY, 0, 0, 1, 7, 0), (OP_MARKET, BUY, 0, 0, 2, 2, 0), (OP_LIMIT, SELL, 4, 99, 1, 8, 0),
             (OP_REDUCE, 0, 0, 0, MAX_SIZE + 1, 1, 0), (OP_LIMIT, BUY, 0, 101, 1, 9, 0))  # fmt: skip
    c = message_columns(m)
    status, qty = np.zeros(len(m), np.int8), np.zeros(len(m), np.int64)
    st = book.state
    nxt, code = nb.apply_batch(st, c["ts"], c["op"], c["side"], c["flags"], c["price"], c["size"], c["oid"],
                               c["owner"], status, qty, 0, False)  # fmt: skip
    assert (nxt, code) == (len(m), OK)
    assert status.tolist() == [ERR_BAD_PRICE, ERR_DUPLICATE_ID, ERR_BAD_FLAGS, ERR_BAD_SIZE, OK]
    assert qty.tolist() == [0, 0, 0, 0, 1]
