"""The Bitstamp websocket capture behind lob-btc.db: its order-level events, and the L2 book rebuilt from them.

The capture (``../shared/data/bitstamp-btcusd-2015-05-01.log.xz``, read its README) has one event per line:
``<local_epoch_ms> <event> <json>``, with ``order_created`` / ``order_changed`` / ``order_deleted`` (``id``,
``price``, ``amount``: the order's remaining size, ``order_type`` 0 buy, 1 sell), ``trade`` (``price``,
``amount``) and ``order_book`` (the top-20 snapshots of lob-btc.db). :func:`read_capture` parses it (a malformed line
is an :class:`InputFormatError` naming the file and the line).

:func:`replay` rebuilds the book from the order events, seeded from the first snapshot (as a LOBSTER replay is
seeded from orderbook row 0): the seed's levels hold placeholder quantity; a created order adds its amount at its
price; a change sets the order's remaining amount (the level moves by the difference); a deletion removes what is
left of the order. Orders resting before the capture began are unknown: a change to one records its new amount
without moving the level (its old amount is unknown), and its deletion removes the amount the event reports
(clipped at the level's quantity). Rules: docs/bitstamp.md.

Prices are ticks of 0.01 USD, amounts BTC (floats, as captured).
"""

from __future__ import annotations

import heapq
import json
import lzma
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lobkit.errors import InputFormatError

TICK = 0.01
CREATED, CHANGED, DELETED, TRADE, BOOK = 0, 1, 2, 3, 4
_KINDS = {"order_created": CREATED, "order_changed": CHANGED, "order_deleted": DELETED, "trade": TRADE,
          "order_book": BOOK}


@dataclass
class Capture:
    """The parsed capture: order events as arrays (``ms`` local epoch ms, ``kind``, ``oid``, ``side`` +1 buy / -1
    sell (0 for trades), ``price`` ticks, ``amount``), and the snapshots (``book_ms`` and, per snapshot, the
    ``(price ticks, amount)`` lists of both sides, best first)."""

    path: str
    ms: np.ndarray
    kind: np.ndarray
    oid: np.ndarray
    side: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    line: np.ndarray
    book_ms: np.ndarray
    books: list = field(default_factory=list)


def _ticks(text) -> int:
    return int(round(float(text) / TICK))


def read_capture(path: str | Path) -> Capture:
    """Parse the capture (``.xz`` or plain text). Raises :class:`InputFormatError` naming the file and line for a
    line that is not ``<ms> <event> <json>`` with the fields its event needs."""
    p = Path(path)
    if not p.is_file():
        raise InputFormatError(p, None, "no such file")
    opener = lzma.open if p.suffix == ".xz" else open
    cols: dict[str, list] = {k: [] for k in ("ms", "kind", "oid", "side", "price", "amount", "line")}
    book_ms, books = [], []
    try:
        with opener(p, "rt") as fh:
            for n, raw in enumerate(fh, start=1):
                raw = raw.strip()
                if not raw:
                    continue
                parts = raw.split(" ", 2)
                try:
                    if len(parts) != 3:
                        raise ValueError("expected <epoch ms> <event> <json>")
                    ms, event, doc = int(parts[0]), parts[1], json.loads(parts[2])
                    kind = _KINDS.get(event)
                    if kind is None:
                        raise ValueError(f"unknown event {event!r}")
                    if kind == BOOK:
                        bids = [(_ticks(px), float(q)) for px, q in doc["bids"]]
                        asks = [(_ticks(px), float(q)) for px, q in doc["asks"]]
                        book_ms.append(ms)
                        books.append((bids, asks))
                        continue
                    amount = float(doc["amount"])
                    if not (np.isfinite(amount) and amount >= 0):
                        raise ValueError(f"amount {doc['amount']!r} is not a number >= 0")
                    side = 0 if kind == TRADE else (1 if int(doc["order_type"]) == 0 else -1)
                    cols["ms"].append(ms)
                    cols["kind"].append(kind)
                    cols["oid"].append(int(doc["id"]))
                    cols["side"].append(side)
                    cols["price"].append(_ticks(doc["price"]))
                    cols["amount"].append(amount)
                    cols["line"].append(n)
                except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                    why = str(exc) if not isinstance(exc, KeyError) else f"no field {exc}"
                    raise InputFormatError(p, n, f"malformed line ({why})") from None
    except UnicodeDecodeError:
        raise InputFormatError(p, None, "not a Bitstamp capture (not text; give the .log or .log.xz file)") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputFormatError(p, None, f"cannot read it ({exc})") from None
    if not books:
        raise InputFormatError(p, None, "no order_book snapshot to seed the book from")
    order = np.argsort(np.asarray(cols["ms"], np.int64), kind="stable")
    arr = {k: np.asarray(v)[order] for k, v in cols.items()}
    return Capture(str(p), arr["ms"].astype(np.int64), arr["kind"].astype(np.int8), arr["oid"].astype(np.int64),
                   arr["side"].astype(np.int8), arr["price"].astype(np.int64), arr["amount"].astype(np.float64),
                   arr["line"].astype(np.int64), np.asarray(book_ms, np.int64), books)


class Book:
    """An L2 book of price ticks -> quantity per side with the orders known by id."""

    def __init__(self, bids, asks):
        self.levels = {1: {p: q for p, q in bids}, -1: {p: q for p, q in asks}}
        self.orders: dict[int, tuple[int, int, float]] = {}
        self.touched: dict[int, dict[int, int]] = {1: {}, -1: {}}  # price -> ms of its last change
        self.known: dict[int, dict[int, float]] = {1: {}, -1: {}}  # price -> quantity of known orders there
        self.pending: list[tuple[int, int, int]] = []  # (ms, side, price) of partial fills of unknown orders

    def trade(self, price: int, amount: float, ms: int, window_ms: int = 100) -> None:
        """A trade: if an order from before the capture was partly filled at this price just before (within
        ``window_ms``), its fill comes off that level's unknown part."""
        self.pending = [x for x in self.pending if ms - x[0] <= window_ms]
        for i, (_, side, p) in enumerate(self.pending):
            if p == price:
                ph = self._placeholder(side, p)
                self._move(side, p, -min(amount, ph))
                del self.pending[i]
                return

    def _move(self, side: int, price: int, dq: float) -> None:
        lv = self.levels[side]
        q = lv.get(price, 0.0) + dq
        if q > 1e-9:
            lv[price] = q
        else:
            lv.pop(price, None)

    def _placeholder(self, side: int, price: int) -> float:
        """The part of a level that no known order accounts for (orders resting before the capture began)."""
        return max(self.levels[side].get(price, 0.0) - self.known[side].get(price, 0.0), 0.0)

    def _know(self, side: int, price: int, dq: float) -> None:
        k = self.known[side]
        q = k.get(price, 0.0) + dq
        if q > 1e-9:
            k[price] = q
        else:
            k.pop(price, None)

    def apply(self, kind: int, oid: int, side: int, price: int, amount: float, ms: int = 0) -> None:
        known = self.orders.get(oid)
        if kind == CREATED:
            self.orders[oid] = (side, price, amount)
            self._move(side, price, amount)
            self._know(side, price, amount)
        elif kind == CHANGED:
            if known is not None:
                self._move(known[0], known[1], amount - known[2])
                self._know(known[0], known[1], amount - known[2])
            else:  # an order from before the capture, partly filled: its remaining amount is known from now on,
                # and the fill (reported by the trade that follows) comes off the level's unknown part
                self._know(side, price, amount)
                self.pending.append((ms, side, price))
            self.orders[oid] = (side, price, amount)
        elif kind == DELETED:
            if known is not None:
                del self.orders[oid]
                self._move(known[0], known[1], -known[2])
                self._know(known[0], known[1], -known[2])
            else:  # from before the capture: cancelled with `amount` left, or filled (amount 0: all of it is gone)
                ph = self._placeholder(side, price)
                self._move(side, price, -(ph if amount <= 0 else min(amount, ph)))
        self.touched[side][price] = ms

    def uncross(self) -> int:
        """While the best bid is at or above the best ask, remove the side's best level that was touched longer ago:
        quantity of orders that rested before the capture and were filled since (the capture reports their fills
        only as trades), which the newer order has consumed. Returns the levels removed."""
        bids, asks = self.levels[1], self.levels[-1]
        removed = 0
        while bids and asks:
            b, a = max(bids), min(asks)
            if b < a:
                break
            ph_b, ph_a = self._placeholder(1, b) > 1e-9, self._placeholder(-1, a) > 1e-9
            if ph_b != ph_a:
                stale_bid = ph_b
            else:
                stale_bid = self.touched[1].get(b, -1) <= self.touched[-1].get(a, -1)
            if stale_bid:
                del bids[b]
            else:
                del asks[a]
            removed += 1
        return removed

    def top(self, k: int):
        """``(bids, asks)``: the best ``k`` levels of each side as (price, quantity) lists, best first."""
        b = heapq.nlargest(k, self.levels[1].items())
        a = heapq.nsmallest(k, self.levels[-1].items())
        return b, a


def _same(x, y, k: int) -> bool:
    """The first ``k`` levels agree (prices exactly, amounts to 1e-8): both books have as many of them."""
    x, y = x[:k], y[:k]
    if len(x) != len(y):
        return False
    return all(p1 == p2 and abs(q1 - q2) <= 1e-8 * max(1.0, q2) for (p1, q1), (p2, q2) in zip(x, y, strict=True))


@dataclass
class ReplayCheck:
    """How the rebuilt book compares with the captured snapshots at offset ``offset_ms``: the share of snapshots
    (after the seed) whose ``k`` best levels of both sides match exactly (prices and amounts), for k = 1, 5, 20."""

    offset_ms: int
    snapshots: int
    touch: float
    top5: float
    top20: float
    crossed: float  # share of snapshots at which the rebuilt book was crossed or locked


def replay(cap: Capture, offset_ms: int = 0, every_ms: int | None = None, levels: int = 20):
    """Walk the order events; yield ``(ms, bids, asks)`` (top ``levels``) at each captured snapshot's time plus
    ``offset_ms`` (``every_ms`` None), or every ``every_ms`` from the first snapshot."""
    book = Book(*cap.books[0])
    t0 = int(cap.book_ms[0])
    start = int(np.searchsorted(cap.ms, t0, side="right"))
    if every_ms is None:
        marks = cap.book_ms[1:] + offset_ms
    else:
        marks = np.arange(t0 + every_ms, int(cap.ms[-1]) + 1, every_ms)
    e = start
    n = len(cap.ms)
    for m in marks:
        while e < n and cap.ms[e] <= m:
            if cap.kind[e] == TRADE:
                book.trade(int(cap.price[e]), float(cap.amount[e]), int(cap.ms[e]))
            else:
                book.apply(int(cap.kind[e]), int(cap.oid[e]), int(cap.side[e]), int(cap.price[e]),
                           float(cap.amount[e]), int(cap.ms[e]))
            e += 1
        book.uncross()
        b, a = book.top(levels)
        yield int(m), b, a


def check(cap: Capture, offset_ms: int = 0) -> ReplayCheck:
    """Compare the rebuilt book with every captured snapshot after the seed (module docstring)."""
    hits = np.zeros(3)
    crossed = 0
    n = 0
    for (_, b, a), (cb, ca) in zip(replay(cap, offset_ms), cap.books[1:], strict=True):
        n += 1
        for i, k in enumerate((1, 5, 20)):
            hits[i] += _same(b, cb, k) and _same(a, ca, k)
        crossed += bool(b and a and b[0][0] >= a[0][0])
    return ReplayCheck(offset_ms, n, *(hits / max(n, 1)), crossed / max(n, 1))


def best_offset(cap: Capture, candidates=(-2000, -1000, -500, -250, -100, 0, 100, 250, 500, 1000, 2000)):
    """The check at each candidate offset (ms added to the snapshot's time), best touch match first."""
    return sorted((check(cap, o) for o in candidates), key=lambda c: -c.touch)


def import_capture(path: str | Path, out: str | Path, every_ms: int = 1000, levels: int = 20,
                   overwrite: bool = False, progress: bool = False) -> int:
    """Write the book rebuilt from the capture's order events every ``every_ms`` (from the first snapshot to the
    last event) to the SQLite file ``out`` in the schema of lob-btc.db (top ``levels`` a side; timestamps UTC from the
    capture's clock). Returns the snapshots written. The file appears whole or not at all
    (:func:`lobkit.data.sample.write_snapshot_db`)."""
    from datetime import UTC, datetime

    from lobkit.data.sample import write_snapshot_db
    from lobkit.errors import ConfigError

    if isinstance(every_ms, bool) or not isinstance(every_ms, int) or not 1 <= every_ms <= 86_400_000:
        raise ConfigError(f"every: from 1 ms to a day, got {every_ms!r}")
    cap = read_capture(path)
    count = 0

    def fill(conn):
        nonlocal count
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(desc="bitstamp import", unit="snapshot", dynamic_ncols=True)
        for i, (ms, b, a) in enumerate(replay(cap, every_ms=every_ms, levels=levels), start=1):
            if not b or not a:
                continue
            stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            conn.execute("INSERT INTO items (id, timestamp) VALUES (?, ?)", (i, stamp))
            for table, side in (("bids", b), ("asks", a)):
                conn.executemany(f"INSERT INTO {table} (item_id, price, quantity) VALUES (?, ?, ?)",
                                 [(i, round(p * TICK, 2), round(q, 8)) for p, q in side[:levels]])
            count += 1
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()

    write_snapshot_db(out, fill, overwrite)
    return count


def flow_check(cap: Capture) -> dict:
    """Net flow per level between consecutive captured snapshots: the change a snapshot pair shows at each price
    (what inference from book diffs explains, :mod:`lobkit.training.infer`) against the net of the real order events
    between them at that price (created amounts, changes and deletions of orders whose amounts are known).

    Returns the price cells (pair x side x price inside both books' top 20) that changed in either, the share of
    them where the two nets agree (to 1e-8 BTC), the share that cannot be told (a fill or change of an order from
    before the capture, whose amount is unknown), and the gross real volume placed and cancelled over the net that
    snapshots can show (how much flow 3.6 s snapshots cannot see)."""
    orders: dict[int, float] = {}
    e, n = 0, len(cap.ms)
    cells = agree = unknown = 0
    gross = net_seen = 0.0
    for i in range(1, len(cap.books)):
        t0, t1 = cap.book_ms[i - 1], cap.book_ms[i]
        while e < n and cap.ms[e] <= t0:  # events before the pair: only the order amounts
            _track(orders, cap, e)
            e += 1
        real: dict[tuple[int, int], float] = {}
        blind: set[tuple[int, int]] = set()
        while e < n and cap.ms[e] <= t1:
            kind, side, price = int(cap.kind[e]), int(cap.side[e]), int(cap.price[e])
            if kind != TRADE:
                key = (side, price)
                before = orders.get(int(cap.oid[e]))
                if kind == CREATED:
                    d = float(cap.amount[e])
                elif before is None:
                    d = -float(cap.amount[e]) if kind == DELETED and cap.amount[e] > 0 else None
                else:
                    d = (float(cap.amount[e]) if kind == CHANGED else 0.0) - before
                if d is None:
                    blind.add(key)
                else:
                    real[key] = real.get(key, 0.0) + d
                    gross += abs(d)
                _track(orders, cap, e)
            e += 1
        (bb, ba), (ab, aa) = cap.books[i - 1], cap.books[i]
        for side, x, y in ((1, dict(bb), dict(ab)), (-1, dict(ba), dict(aa))):
            deep = max(min(x), min(y)) if side == 1 else min(max(x), max(y))
            for p in set(x) | set(y) | {k[1] for k in real if k[0] == side} | {k[1] for k in blind if k[0] == side}:
                if (p < deep) if side == 1 else (p > deep):
                    continue
                seen = y.get(p, 0.0) - x.get(p, 0.0)
                r = real.get((side, p), 0.0)
                if abs(seen) <= 1e-9 and abs(r) <= 1e-9 and (side, p) not in blind:
                    continue
                cells += 1
                net_seen += abs(seen)
                if (side, p) in blind:
                    unknown += 1
                elif abs(seen - r) <= 1e-8 * max(1.0, abs(seen)):
                    agree += 1
    return {"pairs": len(cap.books) - 1, "cells": cells, "agree": agree / cells if cells else float("nan"),
            "unknown": unknown / cells if cells else float("nan"),
            "gross_over_net": gross / net_seen if net_seen else float("nan")}


def _track(orders: dict, cap: Capture, e: int) -> None:
    kind, oid = int(cap.kind[e]), int(cap.oid[e])
    if kind in (CREATED, CHANGED):
        orders[oid] = float(cap.amount[e])
    elif kind == DELETED:
        orders.pop(oid, None)
