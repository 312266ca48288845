"""Replay LOBSTER messages through the engine and check the book against LOBSTER's orderbook rows.

The files are read and validated by :func:`lobkit.data.lobster.read_lobster` (the one LOBSTER reader: file
names, zips, CSV parsing, bounds; see that module). This module works on the arrays it returns:
:func:`prepare` turns a :class:`~lobkit.data.lobster.LobsterFile` into the kernel's int64 arrays, and
:func:`replay` runs the jitted kernel of :mod:`lobkit.engine.lobster_nb` over them. ``replay(path)`` and
:func:`load` read the file first (a convenience: ``lobkit lobster replay`` does the same).

Prices are exact integers: the tick is the greatest common divisor of every book price in the file (message
prices of types 1-4 and all orderbook prices), so one cent (100) on the sample files and 1 for a sub-penny
file. The engine's price window covers the file's whole price range, so it never re-centres; a file whose
prices span more than the engine's ``MAX_WINDOW`` (2**24 ticks) is refused with :class:`InputFormatError`.

Replay rules
------------
1. **Start from orderbook row 0.** Row 0 is the book after message 0; every level it shows becomes one
   *placeholder* order (volume of unknown ids: orders resting from before 09:30 appear in the messages only
   when they are cancelled or executed). Message 0 is not applied (its effect is in row 0).
2. **Messages 1..n-1**, in order:

   * 1 add: ``nb.limit_order`` (post-only: a LOBSTER add never trades; aggressive orders appear only as
     executions), with the message index as the order's time;
   * 2 partial cancel: ``nb.reduce`` by the size; 3 full delete: ``nb.cancel``;
   * 4 visible execution: ``nb.execute`` of that order id by the size;
   * 5 hidden execution, 6 cross trade: no visible book change (counted);
   * 7 trading halt (price -1 halt, 0 quoting, 1 resume): no book change; recorded in ``halts``.

   A cancel, delete or execution whose order id the book does not know is taken from the *placeholder* of the
   message's side and price: a synthetic order whose id, ``-(2 * price_ticks + side_index + 1)``, is negative
   (LOBSTER ids are >= 0) and unique per side and price.
3. **Levels coming into view.** An L-level message file carries only events inside the top L levels, so the
   book below the window is unknown. Only when the *set of prices* of a side changes between row i-1 and row i
   can a level come into view, and only then is the row consulted (after message i), for that side. Walking
   the engine's top L against row i, for every level whose price is absent from row i-1 (out of view before):

   * the row shows it and the engine has no such level: a placeholder of the row's size is created
     (``levels_seeded``);
   * the engine shows it and the row does not: the level is stale (its orders were cancelled out of view): its
     orders are removed (``levels_reconciled``);
   * both show it: the orders of uncertain existence (every order at that price that did not arrive with
     message i: they were added when the level was last in view, or are placeholders) are replaced by one
     placeholder so that the level holds exactly the row's size (``levels_reconciled`` when the size
     differed). A later cancel or execution of one of those ids finds the id unknown and is taken from the
     placeholder, which is why the conversion loses nothing.

   A level that was in view in row i-1 is never adjusted from the row: what happens there follows from the
   messages alone, and any difference is reported by the check (``unresolved`` counts the cases the rules
   could not fix).
4. **Check** (``check=True``): after every message i the engine's top ``levels`` bid and ask levels (price
   and total size) must equal orderbook row i exactly; row 0 is checked too (it is the starting book).

Speed: the per-message loop, the rules and the check are one jitted kernel
(:func:`lobkit.engine.lobster_nb.replay_kernel`) calling the engine's kernels. :func:`replay_throughput`
measures book maintenance alone (rules included, no checking) after a warm-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lobkit.engine import lobster_nb as lnb
from lobkit.engine.book import MAX_WINDOW
from lobkit.engine.state import alloc_state
from lobkit.errors import ConfigError, InputFormatError

if TYPE_CHECKING:  # the reader lives in the data layer, imported when a path is given
    from lobkit.data.lobster import LobsterFile

NO_BID = lnb.NO_BID
NO_ASK = lnb.NO_ASK
WINDOW_MARGIN = 64  # ticks of room on each side of the file's price range


# ------------------------------------------------------------------------------------------------ arrays
@dataclass(frozen=True, eq=False)
class LobsterData:
    """A LOBSTER message/orderbook pair as the replay kernel's int64 arrays (prices in ticks of ``tick``)."""

    source: str  # the path given
    message_name: str  # where the messages came from (``zip:member`` or a path)
    orderbook_name: str
    ticker: str
    levels: int  # L of the orderbook file
    tick: int  # LOBSTER price units (dollars x 10000) per tick
    base: int  # lowest tick of the engine's price window
    window: int  # width of the window in ticks
    time_ns: np.ndarray  # (n,) ns after midnight
    typ: np.ndarray  # (n,) event type 1..7
    oid: np.ndarray
    size: np.ndarray
    price: np.ndarray  # (n,) ticks for types 1-4, 0 otherwise
    side: np.ndarray  # (n,) +1 buy / -1 sell (0 for types 5-7 when absent)
    px: np.ndarray  # (n, 2, L) row prices in ticks: [:, 0] bids, [:, 1] asks; empty NO_BID / NO_ASK
    sz: np.ndarray  # (n, 2, L) row sizes
    events: np.ndarray  # (m, 8) entry events sorted by row (columns lobster_nb.E_*)
    halts: tuple = field(default=())  # ((line, time_ns, code), ...) code -1 halt, 0 quoting, 1 resume

    @property
    def messages(self) -> int:
        return int(self.typ.shape[0])


def _entry_events(typ, price, side, px, sz) -> np.ndarray:
    """The entry events of every row (see :mod:`lobkit.engine.lobster_nb`), vectorised.

    Only rows whose price set changed on a side are looked at: a level of row i whose price is absent from
    row i-1 enters the window (``E_ENTER``); a changed side with fewer than L levels gets ``E_BEYOND``."""
    n, _, L = px.shape
    out = []
    if n < 2:
        return np.zeros((0, lnb.E_COLS), np.int64)
    for s, none in ((0, NO_BID), (1, NO_ASK)):
        rows = np.flatnonzero(np.any(px[1:, s] != px[:-1, s], axis=1)) + 1
        cur, prev, csz = px[rows, s], px[rows - 1, s], sz[rows, s]
        real = csz > 0
        ent = (cur[:, :, None] != prev[:, None, :]).all(-1) & real
        r, j = np.nonzero(ent)
        row = rows[r]
        p = cur[r, j]
        bound = np.where(j > 0, cur[r, np.maximum(j - 1, 0)], none)
        own = (typ[row] == 1) & (price[row] == p) & ((side[row] == 1) == (s == 0))
        e = np.zeros((r.size, lnb.E_COLS), np.int64)
        e[:, lnb.E_ROW], e[:, lnb.E_SIDE], e[:, lnb.E_KIND] = row, s, lnb.E_ENTER
        e[:, lnb.E_PRICE], e[:, lnb.E_SIZE], e[:, lnb.E_BOUND], e[:, lnb.E_CLEAR] = p, csz[r, j], bound, ~own
        out.append(e)
        nreal = real.sum(axis=1)
        short = np.flatnonzero(nreal < L)
        b = np.zeros((short.size, lnb.E_COLS), np.int64)
        b[:, lnb.E_ROW], b[:, lnb.E_SIDE], b[:, lnb.E_KIND] = rows[short], s, lnb.E_BEYOND
        last = nreal[short] - 1
        b[:, lnb.E_BOUND] = np.where(last >= 0, cur[short, np.maximum(last, 0)], none)
        out.append(b)
    ev = np.concatenate(out)
    # by row; within a row entering levels before clearing beyond the last level
    order = np.lexsort((ev[:, lnb.E_KIND], ev[:, lnb.E_ROW]))
    return np.ascontiguousarray(ev[order])


def prepare(lf: LobsterFile) -> LobsterData:
    """The replay kernel's arrays of a file read by :func:`lobkit.data.lobster.read_lobster`.

    Raises :class:`InputFormatError` when the file's prices span more than ``MAX_WINDOW`` ticks."""
    from lobkit.data.lobster import EMPTY_ASK, EMPTY_BID, T_EXEC, file_tick

    book, typ = lf.book, lf.typ
    n, L = typ.shape[0], lf.levels
    is_book = typ <= T_EXEC
    ap, az, bp, bz = book[:, 0::4], book[:, 1::4], book[:, 2::4], book[:, 3::4]
    real_a, real_b = ap != EMPTY_ASK, bp != EMPTY_BID
    tick = file_tick(lf)
    price = np.where(is_book, lf.price // tick, 0).astype(np.int64)
    px = np.empty((n, 2, L), np.int64)
    px[:, 0] = np.where(real_b, bp // tick, NO_BID)
    px[:, 1] = np.where(real_a, ap // tick, NO_ASK)
    sz = np.empty((n, 2, L), np.int64)
    sz[:, 0] = bz
    sz[:, 1] = az
    lo = hi = 1
    if is_book.any() or real_a.any() or real_b.any():
        ticks = np.concatenate((price[is_book], px[:, 0][real_b], px[:, 1][real_a]))
        lo, hi = int(ticks.min()), int(ticks.max())
    window = hi - lo + 1 + 2 * WINDOW_MARGIN
    if window > MAX_WINDOW:
        raise InputFormatError(lf.message_name, None, f"prices span {hi - lo + 1:,} ticks of {tick} (from "
                               f"{lo * tick} to {hi * tick} in dollars x 10000), more than the engine's price "
                               f"window of {MAX_WINDOW:,} ticks")
    events = _entry_events(typ, price, lf.side, px, sz)
    return LobsterData(
        source=lf.source, message_name=lf.message_name, orderbook_name=lf.orderbook_name, ticker=lf.ticker,
        levels=L, tick=tick, base=lo - WINDOW_MARGIN, window=window, time_ns=lf.time_ns, typ=typ, oid=lf.oid,
        size=lf.size, price=price, side=lf.side, px=np.ascontiguousarray(px), sz=np.ascontiguousarray(sz),
        events=events, halts=lf.halts,
    )


def load(path: str | Path) -> LobsterData:
    """Read a LOBSTER zip or csv pair (:func:`lobkit.data.lobster.read_lobster`) and :func:`prepare` it."""
    from lobkit.data.lobster import read_lobster

    return prepare(read_lobster(path))


def _as_data(source) -> LobsterData:
    if isinstance(source, LobsterData):
        return source
    from lobkit.data.lobster import LobsterFile

    if isinstance(source, LobsterFile):
        return prepare(source)
    if isinstance(source, str | Path):
        return load(source)
    raise ConfigError(f"replay: expected a path, a LobsterFile or LobsterData, got a {type(source).__name__}")


# ------------------------------------------------------------------------------------------------ replay
@dataclass(frozen=True)
class Mismatch:
    """One orderbook row the engine did not reproduce: levels as (price dollars x 10000, size), best first."""

    row: int  # 0-based orderbook row (= message index)
    line: int  # 1-based line in both files
    message: tuple  # (time_ns, type, id, size, price, direction) as in the file (price in LOBSTER units)
    engine_bids: tuple
    engine_asks: tuple
    file_bids: tuple
    file_asks: tuple


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did. ``seconds`` times the jitted loop only (after warm-up), checking included if on."""

    source: str
    ticker: str
    levels: int  # L of the file
    levels_checked: int
    tick: int
    messages: int
    rows_checked: int
    rows_matched: int
    levels_seeded: int  # levels entering the window with volume no message showed
    levels_reconciled: int  # stale levels re-based or removed on entry
    initial_levels: int  # levels of row 0 the replay started from
    placeholder_hits: int  # cancels/executions of ids unknown to the book, served by a placeholder
    unapplied: int  # messages the engine could not apply
    unresolved: int  # entering-level situations the rules could not fix
    hidden_executions: int
    cross_trades: int
    halts: tuple  # ((line, time_ns, code), ...), code -1 halt, 0 quoting, 1 resume
    seconds: float
    messages_per_s: float
    mismatches: tuple = ()  # the first Mismatch records

    @property
    def ok(self) -> bool:
        return self.rows_checked == self.rows_matched

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "source", "ticker", "levels", "levels_checked", "tick", "messages", "rows_checked", "rows_matched",
            "levels_seeded", "levels_reconciled", "initial_levels", "placeholder_hits", "unapplied", "unresolved",
            "hidden_executions", "cross_trades", "seconds", "messages_per_s")}
        from lobkit.data.lobster import HALT_NAMES

        d["halts"] = [{"line": ln, "time_ns": t, "kind": HALT_NAMES.get(c, str(c))} for ln, t, c in self.halts]
        d["first_mismatch_rows"] = [m.row for m in self.mismatches]
        return d


def _capacity_bound(d: LobsterData) -> int:
    """Resting orders can never exceed the adds plus one placeholder per side and price of the window."""
    return int(np.count_nonzero(d.typ == 1)) + 2 * d.window + 64


def _run(d: LobsterData, check: bool, levels: int, max_mismatches: int, stop: int | None = None,
         capacity: int | None = None):
    """One replay of ``d`` (or of its first ``stop`` messages).

    The book starts small (a small id hash table stays in cache) and the replay is rerun with a larger one in
    the rare case the order pool fills up. Returns (counters, mm_rows, mm_lv, seconds, capacity)."""
    bound = _capacity_bound(d)
    cap = min(bound, capacity or 16384)
    L = d.levels
    ep, ev, ec = lnb.scratch(L)
    sl = slice(0, stop)
    events = d.events if stop is None else d.events[d.events[:, lnb.E_ROW] < stop]
    arrays = (d.typ[sl], d.oid[sl], d.size[sl], d.price[sl], d.side[sl], d.px[sl], d.sz[sl], events)
    while True:
        st = alloc_state(cap, d.window, 4096, base_price=d.base)
        ctr = np.zeros(lnb.N_COUNTERS, np.int64)
        mm_rows = np.zeros(max(max_mismatches, 1), np.int64)
        mm_lv = np.zeros((max(max_mismatches, 1), 2, 2, max(levels, 1)), np.int64)
        t0 = time.perf_counter()
        lnb.replay_kernel(st, *arrays, L, check, levels, ctr, ep, ev, ec, mm_rows, mm_lv)
        secs = time.perf_counter() - t0
        if ctr[lnb.C_CAPACITY] == 0 or cap >= bound:
            return ctr, mm_rows, mm_lv, secs, cap
        cap = min(bound, cap * 8)


def _warm(d: LobsterData) -> None:
    """Compile or load the kernels from the cache on a tiny prefix, so that timings exclude it."""
    _run(d, True, d.levels, 1, stop=min(d.messages, 3))


def _levels(prices: np.ndarray, sizes: np.ndarray, tick: int) -> tuple:
    return tuple((int(p) * tick, int(v)) for p, v in zip(prices, sizes, strict=True) if v > 0)


def replay(source, check: bool = True, levels: int | None = None, max_mismatches: int = 10,
           data: LobsterData | None = None) -> ReplayResult:
    """Replay a LOBSTER file through the engine; with ``check``, compare the top ``levels`` (default: all L
    of the file) after every message with the orderbook file. See the module docstring for the rules.

    ``source``: a path (read with :func:`lobkit.data.lobster.read_lobster`), a ``LobsterFile`` or a
    :class:`LobsterData`. Raises :class:`InputFormatError` for a bad file, :class:`ConfigError` for bad
    ``levels`` / ``max_mismatches``."""
    d = data if data is not None else _as_data(source)
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int | np.integer)):
        raise ConfigError(f"levels must be an integer from 1 to {d.levels}, got {levels}")
    lv = d.levels if levels is None else int(levels)
    if not 1 <= lv <= d.levels:
        raise ConfigError(f"levels: {levels} is outside 1..{d.levels} (the orderbook file has {d.levels} levels)")
    if isinstance(max_mismatches, bool) or not isinstance(max_mismatches, int | np.integer) or \
            not 0 <= max_mismatches <= 1_000_000:
        raise ConfigError(f"max_mismatches must be an integer from 0 to 1,000,000, got {max_mismatches}")
    _warm(d)
    ctr, mm_rows, mm_lv, secs, _ = _run(d, check, lv, max_mismatches)
    nmm = int(min(ctr[lnb.C_MISMATCHES], max_mismatches))
    mism = []
    for k in range(nmm):
        i = int(mm_rows[k])
        raw_price = int(d.price[i]) * d.tick if d.typ[i] <= 4 else None
        mism.append(Mismatch(
            row=i, line=i + 1,
            message=(int(d.time_ns[i]), int(d.typ[i]), int(d.oid[i]), int(d.size[i]), raw_price, int(d.side[i])),
            engine_bids=_levels(mm_lv[k, 0, 0], mm_lv[k, 0, 1], d.tick),
            engine_asks=_levels(mm_lv[k, 1, 0], mm_lv[k, 1, 1], d.tick),
            file_bids=_levels(d.px[i, 0, :lv], d.sz[i, 0, :lv], d.tick),
            file_asks=_levels(d.px[i, 1, :lv], d.sz[i, 1, :lv], d.tick),
        ))
    n = d.messages
    return ReplayResult(
        source=d.source, ticker=d.ticker, levels=d.levels, levels_checked=lv if check else 0, tick=d.tick,
        messages=n, rows_checked=int(ctr[lnb.C_ROWS_CHECKED]), rows_matched=int(ctr[lnb.C_ROWS_MATCHED]),
        levels_seeded=int(ctr[lnb.C_SEEDED]), levels_reconciled=int(ctr[lnb.C_RECONCILED]),
        initial_levels=int(ctr[lnb.C_INITIAL]), placeholder_hits=int(ctr[lnb.C_PLACEHOLDER_HITS]),
        unapplied=int(ctr[lnb.C_UNAPPLIED]), unresolved=int(ctr[lnb.C_UNRESOLVED]),
        hidden_executions=int(np.count_nonzero(d.typ == 5)), cross_trades=int(np.count_nonzero(d.typ == 6)),
        halts=d.halts, seconds=secs, messages_per_s=n / secs if secs > 0 else float("inf"),
        mismatches=tuple(mism),
    )


def replay_throughput(path, repeats: int = 15) -> dict:
    """Book-maintenance speed of replaying ``path``: parsed once, warmed up, then the best of ``repeats`` timed
    replays without checking (a fresh book each time, allocated outside the timing).

    Returns ``messages``, ``seconds`` (best run), ``messages_per_s``, ``median_seconds``, ``repeats``, ``file``.
    """
    d = _as_data(path)
    _warm(d)
    cap = _run(d, False, d.levels, 1)[4]  # a full run settles the book's size, outside the timing
    times = [_run(d, False, d.levels, 1, capacity=cap)[3] for _ in range(max(int(repeats), 1))]
    best = min(times)
    return {
        "file": d.source,
        "messages": d.messages,
        "seconds": best,
        "messages_per_s": d.messages / best if best > 0 else float("inf"),
        "median_seconds": float(np.median(times)),
        "repeats": len(times),
    }
