"""Event streams: what the neural Hawkes process learns (``lobkit train-nhp``, ``lobkit eval-nhp``).

An :class:`EventStream` is one sequence of order-book events in time order: ``time_ns`` (int64, ns from the stream's
start), ``type`` (int8, one of the simulator's six :data:`EVENT_TYPES`), and two marks, ``distance`` (int64 ticks from
the best price on the order's own side at the time of the event: 0 at the touch, negative inside the spread; market
orders 0) and ``size`` (float64, quantity in the data's units, lots or shares). ``duration_ns`` is the observed
window (the last interval up to its end counts in the likelihood).

Sources (:func:`load_events`, by name, as ``--source``):

* ``lobster``: a LOBSTER message file (:func:`lobster_events`);
* ``bitstamp``: the Bitstamp websocket capture behind lob-btc.db (:func:`bitstamp_events`);
* ``snapshots``: events inferred between the consecutive snapshots of any snapshot source (:func:`snapshot_events`);
* ``synthetic``: events inferred from a slowly moving sequence of books drawn from a trained ``generator.pth``
  (:func:`synthetic_events`);
* ``events``: any file with a float ``time`` column in seconds and an int ``type`` column, optional ``distance`` and
  ``size`` (Parquet, CSV or NPZ; :func:`file_events`);
* ``oracle``: a simulated exponential Hawkes process of known parameters (:func:`lobkit.training.hawkes.oracle_stream`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lobkit.errors import ConfigError, InputFormatError

#: The simulator's six event types, in this order (the type codes of every stream).
EVENT_TYPES = ("limit_buy", "limit_sell", "market_buy", "market_sell", "cancel_buy", "cancel_sell")
LIMIT_BUY, LIMIT_SELL, MARKET_BUY, MARKET_SELL, CANCEL_BUY, CANCEL_SELL = range(6)
NS = 1_000_000_000


@dataclass(frozen=True, eq=False)
class EventStream:
    """One sequence of events (module docstring). ``n_types``: how many type codes the stream uses (6 for order-book
    streams; the oracle has 3). ``source``: where it came from (for messages and checkpoints)."""

    time_ns: np.ndarray
    type: np.ndarray
    distance: np.ndarray
    size: np.ndarray
    duration_ns: int
    n_types: int = 6
    source: str = "events"

    def __post_init__(self):
        n = len(self.time_ns)
        for name in ("type", "distance", "size"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"{self.source}: {name} has {len(getattr(self, name))} values for {n} events")
        if n == 0:
            raise InputFormatError(self.source, None, "no events")
        t = self.time_ns
        if t[0] < 0:
            raise InputFormatError(self.source, None, f"event 0: negative time {t[0] / NS:g} s")
        back = np.flatnonzero(np.diff(t) < 0)
        if len(back):
            i = int(back[0]) + 1
            raise InputFormatError(self.source, None, f"event {i}: time {t[i] / NS:.9g} s is before the previous "
                                                      f"event's {t[i - 1] / NS:.9g} s (times must be sorted)")
        bad = np.flatnonzero((self.type < 0) | (self.type >= self.n_types))
        if len(bad):
            i = int(bad[0])
            raise InputFormatError(self.source, None, f"event {i}: unknown type {int(self.type[i])} (types are 0 "
                                                      f"to {self.n_types - 1})")
        bad = np.flatnonzero(~np.isfinite(self.size) | (self.size < 0))
        if len(bad):
            i = int(bad[0])
            raise InputFormatError(self.source, None, f"event {i}: size {float(self.size[i])!r} is not a number >= 0")
        if self.duration_ns < t[-1]:
            raise ConfigError(f"{self.source}: the window ends ({self.duration_ns / NS:g} s) before its last event")

    def __len__(self) -> int:
        return len(self.time_ns)

    @property
    def seconds(self) -> np.ndarray:
        """Event times in seconds (float64)."""
        return self.time_ns / NS

    def take(self, lo: int, hi: int, start_ns: int | None = None, end_ns: int | None = None) -> EventStream:
        """Events ``lo:hi``, times from ``start_ns`` (default: unchanged), window ending at ``end_ns``."""
        s = 0 if start_ns is None else int(start_ns)
        end = self.duration_ns if end_ns is None else int(end_ns)
        return EventStream(self.time_ns[lo:hi] - s, self.type[lo:hi], self.distance[lo:hi], self.size[lo:hi],
                           end - s, self.n_types, self.source)

    def split(self, fraction: float) -> tuple[int, int]:
        """``(index of the first held-out event, split time in ns)``: the last ``1 - fraction`` of the window's time
        is held out."""
        if not 0.0 < fraction < 1.0:
            raise ConfigError(f"split: a fraction of the time in (0, 1), got {fraction!r}")
        cut = int(round(self.duration_ns * fraction))
        return int(np.searchsorted(self.time_ns, cut, side="left")), cut

    def counts(self) -> np.ndarray:
        return np.bincount(self.type, minlength=self.n_types)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a in (self.time_ns, self.type, self.distance, self.size):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(str((self.duration_ns, self.n_types)).encode())
        return h.hexdigest()


def make_stream(time_s, types, distance=None, size=None, duration_s=None, n_types: int = 6,
                source: str = "events") -> EventStream:
    """An :class:`EventStream` from float seconds (relative to the first event's time when ``duration_s`` is None,
    else to 0); missing marks are 0 and 1."""
    t = np.asarray(time_s, np.float64)
    if len(t) and not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputFormatError(source, None, f"event {i}: time {float(t[i])!r} is not a number")
    if len(t) and float(t.max() - t.min()) > 1e8:
        raise InputFormatError(source, None, f"times span {float(t.max() - t.min()):.3g} s, more than three years: "
                                             "give them in seconds (not ms, µs or ns)")
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        i = int(back[0]) + 1
        raise InputFormatError(source, None, f"event {i}: time {t[i]:.9g} s is before the previous event's "
                                             f"{t[i - 1]:.9g} s (times must be sorted)")
    k = np.asarray(types)
    if k.dtype.kind == "f" and not (np.isfinite(k).all() and (k == np.round(k)).all()):
        with np.errstate(invalid="ignore"):
            i = int(np.flatnonzero(~np.isfinite(k) | (k != np.round(k)))[0])
        raise InputFormatError(source, None, f"event {i}: type {float(k[i])!r} is not an integer")
    k = k.astype(np.int64)
    t0 = 0.0 if duration_s is not None or len(t) == 0 else float(t[0])
    ns = np.round((t - t0) * NS).astype(np.int64)
    end = int(round(float(duration_s) * NS)) if duration_s is not None else (int(ns[-1]) if len(ns) else 0)
    d = np.zeros(len(t), np.int64) if distance is None else np.asarray(distance, np.int64)
    q = np.ones(len(t)) if size is None else np.asarray(size, np.float64)
    return EventStream(ns, k.astype(np.int8), d, q, end, n_types, source)


# ------------------------------------------------------------------------------------------------ sources
def file_events(path: str | Path) -> EventStream:
    """Events of a Parquet, CSV or NPZ file: a float ``time`` column in seconds, an int ``type`` (0-5, the order of
    :data:`EVENT_TYPES`), optional ``distance`` (ticks) and ``size``. Raises :class:`InputFormatError` naming the
    file (and the row) for a missing column or a bad value."""
    import polars as pl

    p = Path(path)
    if not p.is_file():
        raise InputFormatError(p, None, "no such file")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                cols = {k: z[k] for k in z.files}
        elif p.suffix == ".csv":
            cols = {c: s.to_numpy() for c, s in pl.read_csv(p).to_dict().items()}
        elif p.suffix in (".parquet", ".pq"):
            cols = {c: s.to_numpy() for c, s in pl.read_parquet(p).to_dict().items()}
        else:
            raise InputFormatError(p, None, "unknown kind of events file (.parquet, .csv or .npz)")
    except InputFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - polars and numpy raise many kinds for a damaged file
        raise InputFormatError(p, None, f"cannot read it ({str(exc).splitlines()[0][:200]})") from None
    for need in ("time", "type"):
        if need not in cols:
            raise InputFormatError(p, None, f"no {need!r} column (found {', '.join(sorted(cols)) or 'none'})")
    try:
        return make_stream(np.asarray(cols["time"], np.float64), cols["type"], cols.get("distance"), cols.get("size"),
                           source=str(p))
    except InputFormatError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputFormatError(p, None, f"a column is not numeric ({exc})") from None


def lobster_events(path: str | Path) -> EventStream:
    """The event stream of a LOBSTER file (zip or message CSV), mapped to the six types.

    Rules: type 1 (a new limit order) is a limit buy (direction 1) or sell (-1), its distance measured from the best
    price of its side in the orderbook row before it; types 2 and 3 (partial and full cancellation) are cancels of
    the order's side, distance likewise; type 4 (execution of a visible order) is a market order of the *opposite*
    side (a resting sell executed is a market buy), and consecutive executions at the same time and direction are
    one market order (their sizes add); type 5 (hidden executions: the book does not change), 6 (cross trades:
    the auctions) and 7 (trading halts) are left out. Sizes in shares, distances in ticks of the file.
    """
    from lobkit.data.lobster import EMPTY_ASK, EMPTY_BID, file_tick, read_lobster

    lf = read_lobster(path)
    tick = file_tick(lf)
    typ, side = lf.typ.astype(np.int64), lf.side.astype(np.int64)
    keep = typ <= 4
    # the book before message i is orderbook row i - 1 (row 0 is the book after message 0)
    before = np.vstack([lf.book[:1], lf.book[:-1]])
    best_ask, best_bid = before[:, 0].astype(np.int64), before[:, 2].astype(np.int64)
    own_best = np.where(side == 1, best_bid, best_ask)
    has_best = np.where(side == 1, best_bid != EMPTY_BID, best_ask != EMPTY_ASK)
    dist = np.where(has_best, np.where(side == 1, own_best - lf.price, lf.price - own_best) // tick, 0)
    code = np.full(len(typ), -1, np.int64)
    code[(typ == 1) & (side == 1)] = LIMIT_BUY
    code[(typ == 1) & (side == -1)] = LIMIT_SELL
    code[((typ == 2) | (typ == 3)) & (side == 1)] = CANCEL_BUY
    code[((typ == 2) | (typ == 3)) & (side == -1)] = CANCEL_SELL
    code[(typ == 4) & (side == -1)] = MARKET_BUY
    code[(typ == 4) & (side == 1)] = MARKET_SELL
    idx = np.flatnonzero(keep)
    t, k, d, q = lf.time_ns[idx].astype(np.int64), code[idx], dist[idx], lf.size[idx].astype(np.float64)
    is_mkt = (k == MARKET_BUY) | (k == MARKET_SELL)
    d = np.where(is_mkt, 0, d)
    # merge runs of executions with the same time and type into one market order
    same = np.r_[False, is_mkt[1:] & (k[1:] == k[:-1]) & (t[1:] == t[:-1])]
    first = ~same
    group = np.cumsum(first) - 1
    q = np.bincount(group, weights=q)
    t, k, d = t[first], k[first], d[first]
    t0 = int(lf.time_ns[0])
    end = int(lf.time_ns[-1]) - t0
    return EventStream(t - t0, k.astype(np.int8), d, q, end, 6, f"{Path(path).name} (LOBSTER)")


def bitstamp_events(path: str | Path) -> EventStream:
    """The real order-level event stream of the Bitstamp capture (:mod:`lobkit.data.bitstamp`), mapped to the six
    types while its book is rebuilt (seeded from the first snapshot; events before it are left out).

    Rules: an ``order_created`` below the best ask (buy) or above the best bid (sell) is a limit order, its distance
    measured from its side's best; one that reaches the opposite best is a market order of its amount (what it does
    not fill rests, and its later deletion is its cancellation); an ``order_deleted`` with amount left is a
    cancellation of that amount; one with nothing left is a fill, part of a market order already counted, and so is
    an ``order_changed`` (a partial fill); ``trade`` lines repeat fills and are not events of their own.
    """
    from lobkit.data.bitstamp import CREATED, DELETED, TRADE, Book, read_capture

    cap = read_capture(path)
    book = Book(*cap.books[0])
    t0 = int(cap.book_ms[0])
    start = int(np.searchsorted(cap.ms, t0, side="right"))
    ts, ks, ds, qs = [], [], [], []
    for e in range(start, len(cap.ms)):
        kind, side, price, amount = int(cap.kind[e]), int(cap.side[e]), int(cap.price[e]), float(cap.amount[e])
        if kind == TRADE:  # fills repeated: the aggressor is the crossing order_created
            continue
        book.uncross()
        bids, asks = book.levels[1], book.levels[-1]
        best_bid = max(bids) if bids else None
        best_ask = min(asks) if asks else None
        if kind == CREATED:
            opposite = best_ask if side == 1 else best_bid
            own = best_bid if side == 1 else best_ask
            crosses = opposite is not None and (price >= opposite if side == 1 else price <= opposite)
            if crosses:
                code, dist = (MARKET_BUY if side == 1 else MARKET_SELL), 0
            else:
                code = LIMIT_BUY if side == 1 else LIMIT_SELL
                dist = 0 if own is None else (own - price if side == 1 else price - own)
            ts.append(int(cap.ms[e]))
            ks.append(code)
            ds.append(dist)
            qs.append(amount)
        elif kind == DELETED and amount > 0:
            own = best_bid if side == 1 else best_ask
            ts.append(int(cap.ms[e]))
            ks.append(CANCEL_BUY if side == 1 else CANCEL_SELL)
            ds.append(0 if own is None else (own - price if side == 1 else price - own))
            qs.append(amount)
        book.apply(kind, int(cap.oid[e]), side, price, amount, int(cap.ms[e]))
    if not ts:
        raise InputFormatError(path, None, "no order events after the first snapshot")
    t = (np.asarray(ts, np.int64) - t0) * 1_000_000
    end = (int(cap.ms[-1]) - t0) * 1_000_000
    return EventStream(t, np.asarray(ks, np.int8), np.asarray(ds, np.int64), np.asarray(qs, np.float64), end, 6,
                       f"{Path(path).name} (Bitstamp)")


def _levels_of(books, i: int, tick: float):
    """Snapshot ``i`` of book arrays as (price ticks, quantity) lists, best first."""
    m = round(float(books.mid[i]) / tick * 2) / 2
    nb, na = int(books.n_bids[i]), int(books.n_asks[i])
    bids = [(int(books.bid_ticks[i, j] + math.ceil(m)), float(books.bid_vol[i, j])) for j in range(nb)]
    asks = [(int(books.ask_ticks[i, j] + math.floor(m)), float(books.ask_vol[i, j])) for j in range(na)]
    return bids, asks


def books_events(books, times_ns: np.ndarray, tick: float, source: str) -> EventStream:
    """Events inferred between consecutive books (:func:`lobkit.training.infer.infer_events`). The events between
    books ``i - 1`` and ``i`` get times evenly spaced in ``(t_{i-1}, t_i]`` (their order and count are known, their
    times are not: even spacing is the assumption that adds no structure of its own). Books with an empty side or a
    NaN mid are skipped."""
    from lobkit.training.infer import infer_events

    ok = np.flatnonzero((books.n_bids > 0) & (books.n_asks > 0) & np.isfinite(books.mid))
    ts, ks, ds, qs = [], [], [], []
    prev = None
    for i in ok:
        cur = _levels_of(books, int(i), tick)
        if prev is not None:
            ev = infer_events(prev[1][0], prev[1][1], cur[0], cur[1])
            t0, t1 = int(times_ns[prev[0]]), int(times_ns[i])
            for j, (k, d, q) in enumerate(ev):
                ts.append(t0 + (t1 - t0) * (j + 1) // len(ev))
                ks.append(k)
                ds.append(d)
                qs.append(q)
        prev = (int(i), cur)
    if not ts:
        raise InputFormatError(source, None, "no events could be inferred (fewer than two usable books, or none "
                                             "differ)")
    t = np.asarray(ts, np.int64)
    start = int(times_ns[ok[0]])
    return EventStream(t - start, np.asarray(ks, np.int8), np.asarray(ds, np.int64), np.asarray(qs, np.float64),
                       int(times_ns[ok[-1]]) - start, 6, source)


def snapshot_events(spec: str, levels: int = 20, tick_size: float = 0.01, **options) -> EventStream:
    """Events inferred between the consecutive snapshots of any snapshot source (SQLite, TimescaleDB, LOBSTER:
    :func:`lobkit.training.data.load_books`)."""
    from lobkit.training.data import load_books

    books, description, _ = load_books(spec, levels=levels, tick_size=tick_size, **options)
    times_ns = np.asarray(books.ts, np.int64) * 1000  # the data layer's timestamps are µs
    return books_events(books, times_ns, tick_size, f"{description} (inferred from books)")


def synthetic_events(model_path: str | Path, n_books: int = 5000, step: float = 0.05, gap_s: float = 3.6,
                     seed=None) -> EventStream:
    """Events inferred from a long sequence of generated books (``generator.pth``): the latent vector walks slowly,
    ``z_{t+1} = sqrt(1 - step^2) z_t + step e_t`` (stationary: every ``z`` is standard normal), so consecutive books
    are close; every book has the same mid and scale (the training data's medians) so that only their shapes move;
    books are ``gap_s`` seconds apart (the real snapshots' mean gap) and the events between two books evenly spaced.
    """
    import torch

    from lobkit.seeds import child, seed_sequence
    from lobkit.training.wgan import torch_generator
    from lobkit.training.wgan_training import load_generator

    m = load_generator(model_path)
    g = torch_generator(child(seed_sequence(seed), 0), m.device)
    z = torch.randn(m.config.z_dim, generator=g, device=m.device)
    a = math.sqrt(1.0 - step * step)
    zs = []
    for _ in range(n_books):
        zs.append(z)
        z = a * z + step * torch.randn(m.config.z_dim, generator=g, device=m.device)
    with torch.no_grad():
        images = m.generator(torch.stack(zs)).cpu().numpy()
    mid = np.full(n_books, float(np.median(m.mids)))
    scale = np.full(n_books, float(np.median(m.scales)))
    books, _ = m.transform.to_books(images, mid, scale, levels=m.config.levels)
    times = (np.arange(n_books) * gap_s * NS).astype(np.int64)
    return books_events(books, times, m.config.tick_size,
                        f"{Path(model_path).name} (synthetic: {n_books} generated books)")


SOURCES = ("lobster", "bitstamp", "snapshots", "synthetic", "events", "oracle")


def load_events(source: str, path: str | None = None, **options) -> EventStream:
    """The event stream of ``source`` (:data:`SOURCES`) at ``path``. Raises :class:`ConfigError` for an unknown
    source or a missing path, :class:`InputFormatError` for bad data."""
    if source not in SOURCES:
        raise ConfigError(f"source: one of {', '.join(SOURCES)}, got {source!r}")
    if source == "oracle":
        from lobkit.training.hawkes import oracle_stream

        return oracle_stream(**options)
    if path is None:
        raise ConfigError(f"source {source}: give the file's path")
    if source == "bitstamp":
        return bitstamp_events(path)
    if source == "snapshots":
        return snapshot_events(path, **options)
    if source == "synthetic":
        return synthetic_events(path, **options)
    return lobster_events(path) if source == "lobster" else file_events(path)
