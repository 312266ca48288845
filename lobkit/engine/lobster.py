"""Replay LOBSTER message files through the engine and check the book against LOBSTER's orderbook file.

Input
-----
A LOBSTER sample zip (one ``*_message_L.csv`` and one ``*_orderbook_L.csv`` member), or a message csv whose
orderbook csv lies beside it (the same name with ``message`` replaced by ``orderbook``; the orderbook csv may be
given instead, then the message csv is found the same way). Files are parsed whole, vectorised (numpy and
Polars), into int64 arrays before the jitted loop; nothing is parsed per line in Python:

* message row: time (seconds after midnight: converted exactly from the decimal text to int64 ns, never
  through a float; digits beyond the 9th are rounded), type, order id, size, price (dollars x 10000),
  direction (1 buy, -1 sell);
* orderbook row i, the book after message i: ask price 1, ask size 1, bid price 1, bid size 1, ask price 2, ...
  for L levels; an empty level is ask 9999999999 / bid -9999999999 with size 0. L is the column count / 4
  (and must agree with the ``_L.csv`` suffix when there is one).

Prices are exact integers: the tick is the greatest common divisor of every book price in the file (message
prices of types 1-4 and all orderbook prices), so one cent (100) on the sample files and 1 for a sub-penny
file. The engine's price window covers the file's whole price range, so it never re-centres.

Bad input raises :class:`lobkit.errors.InputFormatError` naming the file (``zip:member`` inside a zip) and the
1-based line: wrong field count (a truncated last line included), a non-numeric field, an unknown event type
(not 1-7), a bad direction, price, size or id on a book event (types 1-4), a bad orderbook level, message and
orderbook files of different lengths, a zip missing one of the two files.

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

import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from lobkit.engine import lobster_nb as lnb
from lobkit.engine.state import alloc_state
from lobkit.errors import ConfigError, InputFormatError

EMPTY_ASK = 9999999999
EMPTY_BID = -9999999999
NO_BID = lnb.NO_BID
NO_ASK = lnb.NO_ASK
HALT_NAMES = {-1: "halt", 0: "quoting", 1: "resume"}
_MSG_RE = re.compile(r"_message_(\d+)\.csv$", re.IGNORECASE)
_BOOK_RE = re.compile(r"_orderbook_(\d+)\.csv$", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ parsing
@dataclass(frozen=True)
class LobsterData:
    """A LOBSTER message/orderbook pair parsed into int64 arrays (prices in ticks of ``tick`` LOBSTER units)."""

    source: str  # the path given
    message_name: str  # where the messages came from (``zip:member`` or a path)
    orderbook_name: str
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

    @property
    def ticker(self) -> str:
        m = re.match(r"([A-Za-z.\-]+)_", Path(self.message_name.split(":")[-1]).name)
        return m.group(1) if m else ""


def _split_lines(data: bytes, where: str, ncols: int | None) -> tuple[int, int]:
    """Check that every line has ``ncols`` comma-separated fields (vectorised). Returns (lines, ncols)."""
    if not data.strip():
        raise InputFormatError(where, None, "empty file")
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    if buf[-1] != 10:
        ends = np.append(ends, buf.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.add.reduceat((buf == 44).view(np.uint8), starts, dtype=np.int64)
    if ncols is None:
        ncols = int(commas[0]) + 1
    bad = np.flatnonzero(commas != ncols - 1)
    if bad.size:
        k = int(bad[0])
        line = bytes(buf[starts[k] : min(ends[k], starts[k] + 80)]).decode("utf-8", "replace").rstrip("\r")
        hint = " (truncated file?)" if k == len(starts) - 1 else ""
        raise InputFormatError(where, k + 1, f"expected {ncols} comma-separated fields, found {int(commas[k]) + 1}"
                               f"{hint}: {line!r}")
    return len(starts), ncols


def _read_ints(data: bytes, where: str, ncols: int, nlines: int, str_cols=()) -> pl.DataFrame:
    """Read a headerless csv whose fields are integers (except ``str_cols``, kept as text).

    A non-numeric field raises InputFormatError with its line and column."""
    names = [f"c{j}" for j in range(ncols)]
    schema = {c: (pl.Utf8 if j in str_cols else pl.Int64) for j, c in enumerate(names)}
    try:
        df = pl.read_csv(data, has_header=False, schema=schema, quote_char=None)
    except pl.exceptions.PolarsError:
        df = pl.read_csv(data, has_header=False, schema={c: pl.Utf8 for c in names}, quote_char=None)
        for j, c in enumerate(names):
            if j in str_cols:
                continue
            col = df[c].str.strip_chars_end("\r")
            ok = col.cast(pl.Int64, strict=False)
            badm = ok.is_null().to_numpy()
            if badm.any():
                k = int(np.flatnonzero(badm)[0])
                raise InputFormatError(where, k + 1, f"field {j + 1} is not an integer: {col[k]!r}") from None
            df = df.with_columns(ok.alias(c))
    if df.height != nlines:
        raise InputFormatError(where, None, f"read {df.height} rows from {nlines} lines (blank or odd lines?)")
    return df


def _time_ns(col: pl.Series, where: str) -> np.ndarray:
    """Seconds after midnight -> int64 ns, exactly from the decimal text (no float on the way).

    More than 9 decimals (some files carry binary-float noise such as ``43002.632812672004``) are rounded
    half up to the nanosecond."""
    col = col.str.strip_chars()
    ok = col.str.contains(r"^\d+(\.\d*)?$").fill_null(False).to_numpy()
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise InputFormatError(where, k + 1, f"time is not a decimal number of seconds after midnight: {col[k]!r}")
    parts = col.str.split_exact(".", 1)
    sec = parts.struct.field("field_0").cast(pl.Int64).to_numpy()
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(10, "0")
    ns = frac.str.slice(0, 9).cast(pl.Int64).to_numpy()
    up = frac.str.slice(9, 1).cast(pl.Int64).to_numpy() >= 5
    return sec * 1_000_000_000 + ns + up


def _first_bad(mask: np.ndarray, where: str, what) -> None:
    if mask.any():
        k = int(np.flatnonzero(mask)[0])
        raise InputFormatError(where, k + 1, what(k))


def parse_messages(data: bytes, where: str) -> dict:
    """Parse and validate a LOBSTER message file (bytes). Returns its columns as int64 arrays."""
    nlines, _ = _split_lines(data, where, 6)
    df = _read_ints(data, where, 6, nlines, str_cols=(0,))
    t = _time_ns(df["c0"], where)
    typ, oid, size, price, side = (df[f"c{j}"].to_numpy().astype(np.int64, copy=False) for j in range(1, 6))
    _first_bad((typ < 1) | (typ > 7), where, lambda k: f"unknown event type {typ[k]} (LOBSTER types are 1-7)")
    book = typ <= 4
    _first_bad(book & (side != 1) & (side != -1), where,
               lambda k: f"direction {side[k]} on a type {typ[k]} event (expected 1 buy or -1 sell)")
    _first_bad(book & (price <= 0), where, lambda k: f"price {price[k]} on a type {typ[k]} event (must be > 0)")
    _first_bad(book & (size <= 0), where, lambda k: f"size {size[k]} on a type {typ[k]} event (must be > 0)")
    _first_bad(book & (oid < 0), where, lambda k: f"order id {oid[k]} is negative")
    return {"time_ns": t, "typ": typ, "oid": oid, "size": size, "price": price, "side": side}


def parse_orderbook(data: bytes, where: str, levels: int | None = None) -> np.ndarray:
    """Parse and validate a LOBSTER orderbook file (bytes) into an (n, 4L) int64 array."""
    nlines, ncols = _split_lines(data, where, None if levels is None else 4 * levels)
    if ncols % 4:
        raise InputFormatError(where, 1, f"{ncols} fields: an orderbook row has 4 per level")
    book = _read_ints(data, where, ncols, nlines).to_numpy().astype(np.int64, copy=False)
    ap, az, bp, bz = book[:, 0::4], book[:, 1::4], book[:, 2::4], book[:, 3::4]
    bad = ((ap == EMPTY_ASK) & (az != 0)) | ((ap != EMPTY_ASK) & ((ap <= 0) | (az <= 0)))
    bad |= ((bp == EMPTY_BID) & (bz != 0)) | ((bp != EMPTY_BID) & ((bp <= 0) | (bz <= 0)))
    rows = bad.any(axis=1)
    if rows.any():
        k = int(np.flatnonzero(rows)[0])
        j = int(np.flatnonzero(bad[k])[0])
        raise InputFormatError(where, k + 1, f"bad level {j + 1}: ask {ap[k, j]} x {az[k, j]}, bid {bp[k, j]} x "
                                             f"{bz[k, j]} (a real level has price > 0 and size > 0, an empty one "
                                             f"ask {EMPTY_ASK} / bid {EMPTY_BID} with size 0)")
    return book


def _read_sources(path: Path) -> tuple[bytes, str, bytes, str, int | None]:
    """(message bytes, its name, orderbook bytes, its name, L from the file name or None)."""
    if not path.exists():
        raise InputFormatError(path, None, "no such file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            msgs = [m for m in names if _MSG_RE.search(m)]
            books = [m for m in names if _BOOK_RE.search(m)]
            if len(msgs) != 1 or len(books) != 1:
                missing = "message" if len(msgs) == 0 else "orderbook" if len(books) == 0 else None
                what = (f"has no *_{missing}_L.csv member" if missing else
                        f"holds {len(msgs)} message and {len(books)} orderbook files (expected one pair)")
                raise InputFormatError(path, None, f"LOBSTER zip {what}; members: {', '.join(names) or 'none'}")
            return (zf.read(msgs[0]), f"{path}:{msgs[0]}", zf.read(books[0]), f"{path}:{books[0]}",
                    int(_BOOK_RE.search(books[0]).group(1)))
    name = path.name
    if _MSG_RE.search(name) or "message" in name:
        msg_path = path
        book_path = path.with_name(_swap(name, "message", "orderbook"))
    elif _BOOK_RE.search(name) or "orderbook" in name:
        book_path = path
        msg_path = path.with_name(_swap(name, "orderbook", "message"))
    else:
        raise InputFormatError(path, None, "not a LOBSTER zip, and the name contains neither 'message' nor "
                                           "'orderbook' (the partner file cannot be found)")
    for p, other in ((msg_path, book_path), (book_path, msg_path)):
        if not p.is_file():
            raise InputFormatError(p, None, f"not found: the LOBSTER file that goes with {other}")
    m = _BOOK_RE.search(book_path.name)
    return msg_path.read_bytes(), str(msg_path), book_path.read_bytes(), str(book_path), (int(m.group(1)) if m
                                                                                         else None)


def _swap(name: str, a: str, b: str) -> str:
    i = name.rfind(a)
    return name[:i] + b + name[i + len(a):]


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


def load(path: str | Path) -> LobsterData:
    """Read, validate and convert a LOBSTER file pair (see the module docstring) into :class:`LobsterData`."""
    path = Path(path)
    mdata, mname, bdata, bname, name_levels = _read_sources(path)
    msg = parse_messages(mdata, mname)
    book = parse_orderbook(bdata, bname, name_levels)
    n, L = len(msg["typ"]), book.shape[1] // 4
    if book.shape[0] != n:
        shorter, longer = (bname, mname) if book.shape[0] < n else (mname, bname)
        raise InputFormatError(shorter, min(n, book.shape[0]) + 1,
                               f"ends here, but {longer} has {max(n, book.shape[0])} lines: message and orderbook "
                               f"files must have one row per message ({n} messages, {book.shape[0]} rows)")

    typ = msg["typ"]
    is_book = typ <= 4
    ap, az, bp, bz = book[:, 0::4], book[:, 1::4], book[:, 2::4], book[:, 3::4]
    real_a, real_b = ap != EMPTY_ASK, bp != EMPTY_BID
    prices = np.concatenate((msg["price"][is_book], ap[real_a], bp[real_b]))
    tick = int(np.gcd.reduce(prices)) if prices.size else 1
    tick = max(tick, 1)
    price = np.where(is_book, msg["price"] // tick, 0).astype(np.int64)
    px = np.empty((n, 2, L), np.int64)
    px[:, 0] = np.where(real_b, bp // tick, NO_BID)
    px[:, 1] = np.where(real_a, ap // tick, NO_ASK)
    sz = np.empty((n, 2, L), np.int64)
    sz[:, 0] = bz
    sz[:, 1] = az
    events = _entry_events(typ, price, msg["side"], px, sz)
    if prices.size:
        lo, hi = int(prices.min()) // tick, int(prices.max()) // tick
    else:
        lo = hi = 1
    halt_idx = np.flatnonzero(typ == 7)
    halts = tuple((int(k) + 1, int(msg["time_ns"][k]), int(msg["price"][k])) for k in halt_idx)
    return LobsterData(
        source=str(path), message_name=mname, orderbook_name=bname, levels=L, tick=tick, base=lo - 64,
        window=hi - lo + 129, time_ns=msg["time_ns"], typ=typ, oid=msg["oid"], size=msg["size"], price=price,
        side=msg["side"], px=np.ascontiguousarray(px), sz=np.ascontiguousarray(sz), events=events, halts=halts,
    )


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


def replay(path: str | Path, check: bool = True, levels: int | None = None, max_mismatches: int = 10,
           data: LobsterData | None = None) -> ReplayResult:
    """Replay a LOBSTER file through the engine; with ``check``, compare the top ``levels`` (default: all L
    of the file) after every message with the orderbook file. See the module docstring for the rules."""
    d = data if data is not None else load(path)
    lv = d.levels if levels is None else int(levels)
    if not 1 <= lv <= d.levels:
        raise ConfigError(f"levels: {levels} is outside 1..{d.levels} (the orderbook file has {d.levels} levels)")
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


def replay_throughput(path: str | Path, repeats: int = 15) -> dict:
    """Book-maintenance speed of replaying ``path``: parsed once, warmed up, then the best of ``repeats`` timed
    replays without checking (a fresh book each time, allocated outside the timing).

    Returns ``messages``, ``seconds`` (best run), ``messages_per_s``, ``median_seconds``, ``repeats``, ``file``.
    """
    d = load(path)
    _warm(d)
    cap = _run(d, False, d.levels, 1)[4]  # a full run settles the book's size, outside the timing
    times = [_run(d, False, d.levels, 1, capacity=cap)[3] for _ in range(max(int(repeats), 1))]
    best = min(times)
    return {
        "file": str(path),
        "messages": d.messages,
        "seconds": best,
        "messages_per_s": d.messages / best if best > 0 else float("inf"),
        "median_seconds": float(np.median(times)),
        "repeats": len(times),
    }
