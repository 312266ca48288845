"""Property tests: random streams of thousands of operations give identical results, fills and L3 books on the
Numba engine (:class:`OrderBook`) and the plain-Python oracle (:class:`ReferenceBook`) after every step, and
the invariants hold (never crossed at rest; for every order submitted = resting + filled + cancelled; the
kernels' internal structures stay consistent).

Hypothesis draws the stream's parameters (seed, capacity, window, drift, op mix); a seeded generator then builds
the stream from the oracle's current state, so that cancels, modifies and executions mostly target resting
orders, with a share of bad messages (unknown and duplicate ids, market orders with the id of a resting order,
bad sizes and sides, prices of zero or fewer ticks, prices the window cannot hold) mixed in. Small capacities
and windows make capacity exhaustion and window re-centring frequent.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lobkit.engine import (
    BUY,
    FLAG_IOC,
    FLAG_POST_ONLY,
    MESSAGE_DTYPE,
    OP_CANCEL,
    OP_EXECUTE,
    OP_LIMIT,
    OP_MARKET,
    OP_MODIFY,
    OP_REDUCE,
    SELL,
    OrderBook,
    ReferenceBook,
)
from lobkit.errors import BookError

SETTINGS = settings(
    max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)

params = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "capacity": st.sampled_from([6, 24, 200, 5000]),
        "window": st.sampled_from([64, 128, 1024]),
        "drift": st.sampled_from([0.0, 0.3, 0.9]),
        "jump": st.sampled_from([0.0, 0.01]),
        "spread": st.integers(2, 12),
        "p_modify": st.floats(0.05, 0.35),
        "p_bad": st.sampled_from([0.0, 0.03]),
        "target": st.sampled_from([10, 60, 300]),
    }
)


class FlowGen:
    """Draws one message at a time (op, side, flags, price, size, oid, owner, ts) from the oracle's state."""

    def __init__(self, p: dict):
        self.rng = np.random.default_rng(np.random.SeedSequence(p["seed"]))
        self.p = p
        self.mid = 10_000
        self.next_oid = 1
        self.ts = 0

    def _resting(self, ref: ReferenceBook) -> list[int]:
        return list(ref._orders)

    def draw(self, ref: ReferenceBook) -> tuple:
        r, p = self.rng, self.p
        self.ts += 1
        if r.random() < p["drift"]:
            self.mid += int(r.integers(-1, 2))
        if r.random() < p["jump"]:
            self.mid += int(r.choice([-1, 1]) * r.integers(30, 200))
        side = BUY if r.random() < 0.5 else SELL
        off = int(r.integers(0, p["spread"] + 1))
        if r.random() < 0.2:
            off = -off - 1  # aggressive: crosses when the other side is near the mid
        price = self.mid - off if side == BUY else self.mid + 1 + off
        size = int(r.integers(1, 11))
        owner = int(r.integers(0, 4))
        resting = self._resting(ref)
        target = int(r.choice(resting)) if resting and r.random() < 0.92 else int(r.integers(1, self.next_oid + 5))
        bad = r.random() < p["p_bad"]
        flags = 0
        u = r.random() * (0.72 + p["p_modify"])
        if u >= 0.45 and len(resting) < p["target"] and r.random() < 0.6:
            u = 0.0  # below the target depth, most removals become new limit orders
        if u < 0.45:
            op = OP_LIMIT
            oid = self.next_oid
            self.next_oid += 1
            if resting and r.random() < 0.03:
                oid = target  # usually a duplicate of a resting id
            f = r.random()
            flags = FLAG_IOC if f < 0.1 else (FLAG_POST_ONLY if f < 0.2 else 0)
        elif u < 0.49:
            op, oid, size = OP_MARKET, self.next_oid, int(r.integers(1, 25))
            self.next_oid += 1
            if resting and r.random() < 0.05:
                oid = target  # usually the id of a resting order: refused, never a trade with itself
        elif u < 0.49 + p["p_modify"]:
            op, oid = OP_MODIFY, target
            cur = ref.get(target)
            if cur is not None:
                k = r.random()
                if k < 0.3:
                    price, size = cur.price, max(1, cur.size - int(r.integers(0, 3)))  # keeps priority
                elif k < 0.45:
                    price, size = cur.price, cur.size + int(r.integers(1, 4))  # loses it
                elif k < 0.75:
                    size = cur.size  # a new price
            f = r.random()
            flags = FLAG_IOC if f < 0.05 else (FLAG_POST_ONLY if f < 0.15 else 0)
        elif u < 0.61 + p["p_modify"]:
            op, oid = OP_CANCEL, target
        elif u < 0.67 + p["p_modify"]:
            op, oid = OP_REDUCE, target
            size = int(r.integers(1, 8))
        else:
            op, oid = OP_EXECUTE, target
            cur = ref.get(target)
            if cur is not None:
                size = int(r.integers(1, cur.size + 1)) if r.random() < 0.95 else cur.size + 1
        if bad:
            k = r.integers(0, 4)
            if k == 0:
                size = int(r.integers(-2, 1))
            elif k == 1:
                side = 0
            elif k == 2:
                price = self.mid + int(r.choice([-1, 1])) * 5000  # far outside a small window
            else:
                price = int(r.integers(-3, 1))  # not a positive number of ticks
        return (op, side, flags, price, size, oid, owner, self.ts)


def call(book, msg):
    """Apply one message through the public facade; returns (result, error)."""
    op, side, flags, price, size, oid, owner, ts = msg
    ioc, post = bool(flags & FLAG_IOC), bool(flags & FLAG_POST_ONLY)
    try:
        if op == OP_LIMIT:
            return book.limit(side, price, size, oid=oid, owner=owner, ts=ts, ioc=ioc, post_only=post), None
        if op == OP_MARKET:
            return book.market(side, size, oid=oid, owner=owner, ts=ts), None
        if op == OP_CANCEL:
            return book.cancel(oid), None
        if op == OP_REDUCE:
            return book.reduce(oid, size), None
        if op == OP_MODIFY:
            return book.modify(oid, price, size, ts=ts, ioc=ioc, post_only=post), None
        return book.execute(oid, size, ts=ts, taker_owner=owner), None
    except BookError as e:
        return None, e


def assert_not_crossed(book):
    if book.best_bid is not None and book.best_ask is not None:
        assert book.best_bid < book.best_ask, (book.best_bid, book.best_ask)


@SETTINGS
@given(p=params)
def test_engine_matches_oracle_after_every_operation(p):
    ob = OrderBook(p["capacity"], p["window"], center=10_000)
    ref = ReferenceBook(p["capacity"], p["window"], center=10_000)
    gen = FlowGen(p)
    submitted: dict[int, int] = defaultdict(int)
    cancelled: dict[int, int] = defaultdict(int)
    statuses = set()
    for step in range(2500):
        msg = gen.draw(ref)
        re, ee = call(ob, msg)
        rr, er = call(ref, msg)
        assert (ee is None) == (er is None), (step, msg, ee, er)
        if ee is not None:
            assert (ee.status, str(ee)) == (er.status, str(er)), (step, msg)
            statuses.add(ee.status)
        else:
            assert re.same_as(rr), (step, msg, re, rr)
            statuses.add(re.status)
            if re.ok and msg[0] in (OP_LIMIT, OP_MARKET, OP_MODIFY):
                submitted[re.oid] += msg[4]
            cancelled[re.oid] += re.cancelled
        a, b = ob.l3(), ref.l3()
        assert np.array_equal(a, b), (step, msg, a, b)
        assert_not_crossed(ob)
        if step % 100 == 0:
            ob.check()
            assert (ob.window_range == ref.window_range) and ob.recentres == ref.recentres
    ob.check()
    assert np.array_equal(ob.fills, ref.fills)
    # conservation of lots: submitted = resting + filled + cancelled, order by order
    filled: dict[int, int] = defaultdict(int)
    f = ob.fills
    assert not np.any(f["maker_oid"] == f["taker_oid"]), "an order traded with itself"
    for maker, taker, size in zip(f["maker_oid"].tolist(), f["taker_oid"].tolist(), f["size"].tolist(), strict=True):
        filled[maker] += size
        if taker != -1:
            filled[taker] += size
    resting = {int(o): int(s) for o, s in zip(ob.l3()["oid"], ob.l3()["size"], strict=True)}
    for oid in set(submitted) | set(filled) | set(cancelled) | set(resting):
        assert submitted[oid] == resting.get(oid, 0) + filled[oid] + cancelled[oid], oid
    assert sum(submitted.values()) > 0


@SETTINGS
@given(p=params, fill_capacity_extra=st.sampled_from([0, 3, 1000]))
def test_batches_match_oracle_and_single_operations(p, fill_capacity_extra):
    """The same stream as message arrays, in random chunks, through ``apply`` (the jitted batch, draining a
    small fill buffer and resuming on FILLS_FULL) and through the oracle: identical statuses, quantities,
    fills and L3 books after every chunk."""
    gen = FlowGen(p)
    scout = ReferenceBook(p["capacity"], p["window"], center=10_000)
    rows = []
    for _ in range(3000):
        m = gen.draw(scout)
        rows.append(m)
        call(scout, m)  # keep the generator's view of the book moving
    msgs = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for name, col in zip(("op", "side", "flags", "price", "size", "oid", "owner", "ts"), zip(*rows, strict=True),
                         strict=True):  # fmt: skip
        msgs[name] = col
    ob = OrderBook(p["capacity"], p["window"], center=10_000, fill_capacity=p["capacity"] + fill_capacity_extra)
    ref = ReferenceBook(p["capacity"], p["window"], center=10_000)
    rng = np.random.default_rng(p["seed"])
    i = 0
    while i < len(msgs):
        j = min(len(msgs), i + int(rng.integers(1, 400)))
        a, b = ob.apply(msgs[i:j], strict=False), ref.apply(msgs[i:j], strict=False)
        assert np.array_equal(a.status, b.status) and np.array_equal(a.qty, b.qty), i
        assert np.array_equal(a.fills, b.fills), i
        assert np.array_equal(ob.l3(), ref.l3()), i
        assert_not_crossed(ob)
        ob.check()
        i = j
    assert np.array_equal(ob.fills, ref.fills)
    assert not np.any(ob.fills["maker_oid"] == ob.fills["taker_oid"]), "an order traded with itself"
    # the facade, one message at a time, ends in the same book as the batches
    one = ReferenceBook(p["capacity"], p["window"], center=10_000)
    for m in rows:
        call(one, m)
    assert np.array_equal(one.l3(), ob.l3())
    assert np.array_equal(one.fills, ob.fills)
