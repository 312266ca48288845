"""LOBSTER files: the one reader (file names, zips, CSV parsing, validation), and what is made from them.

Everything that reads a LOBSTER file goes through :func:`read_lobster`: ``lobkit lobster replay`` (the
engine's replay, :mod:`lobkit.engine.lobster`, works on the arrays it returns), ``lobkit lobster import``
(:func:`import_lobster`, the orderbook rows as snapshots in the database) and the ``lobster`` data source
(:class:`LobsterSource`: snapshot chunks and ``MESSAGE_DTYPE`` rows).

Files
-----
A LOBSTER sample zip holds one ``TICKER_DATE_START_END_message_L.csv`` and one ``..._orderbook_L.csv`` (other
members, such as the ReadMe, are ignored). Outside a zip, a message csv is read with the orderbook csv beside
it (the same name with the last ``message`` replaced by ``orderbook``), or the other way round. A file is read
as a zip when its name ends in ``.zip`` or its bytes start like one; a damaged archive (truncated, bad CRC, a
member that does not inflate) is one error naming the file (and the member), whatever reads it.

* message row: time (seconds after midnight, exchange local time, on the date of the file name), type (1 add,
  2 partial cancel, 3 delete, 4 visible execution, 5 hidden execution, 6 cross trade, 7 halt), order id,
  size (shares), price (dollars x 10000), direction (1 buy, -1 sell);
* orderbook row i, the book after message i: ask price 1, ask size 1, bid price 1, bid size 1, ask price 2,
  ... for L levels; an empty level is ask 9999999999 / bid -9999999999 with size 0.

Parsing is vectorised (numpy and Polars, nothing per line in Python) into int64 arrays. Times are converted
from the decimal text to int64 nanoseconds exactly, never through a float (digits beyond the 9th decimal,
e.g. the float noise of ``43002.632812672004``, are rounded half up).

Validation (one for every reader; each error is :class:`lobkit.errors.InputFormatError` naming the file --
``zip:member`` inside a zip -- and the 1-based line):

* every line has the same number of comma-separated fields (6 in a message file; 4 per level in an
  orderbook file, agreeing with the ``_L`` of the name), every field is an integer (the time a decimal);
* time: ``0 <= seconds after midnight < 86400``, and never earlier than the line before;
* type 1-7; types 1-6 carry direction 1 or -1, an order id >= 0, ``1 <= size <= MAX_SIZE`` (2**40, the
  engine's bound) and ``1 <= price <= PRICE_LIMIT`` (2**60; a tick is at least one LOBSTER price unit, so the
  price in ticks is within the engine's bound too); type 7 carries price -1 (halt), 0 (quoting) or 1 (resume);
* an orderbook level is either real (``1 <= price <= PRICE_LIMIT`` and ``1 <= size <= MAX_SIZE``) or empty
  (ask 9999999999 / bid -9999999999 with size 0); the levels of a side are best first (asks ascending, bids
  descending, no price twice) with the empty ones last;
* both files have one row per message.

Snapshots (import and the data source): each orderbook row becomes a snapshot with ``source_id`` = its
1-based row number, prices in dollars (``price / 10000``), sizes in shares, ``ts`` = midnight of the file's
date in ``tz`` (default America/New_York; an unknown zone is a :class:`ConfigError`) plus the message time,
in UTC. ``ts`` is the snapshot table's key with microsecond resolution, and many LOBSTER rows share a
timestamp: of the rows that fall on the same microsecond only the last is kept (the book once all those
messages are applied); the number collapsed this way is reported. Use one table per ticker (``--table``):
the key is the time alone.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from lobkit.data.books import CleanBatch, clean
from lobkit.data.errors import ConfigError, InputFormatError, check_int
from lobkit.data.sources import SnapshotSource, SnapshotStream
from lobkit.data.sqlite import Levels, RawBatch

EMPTY_ASK = 9_999_999_999
EMPTY_BID = -9_999_999_999
PRICE_SCALE = 10_000  # LOBSTER prices are dollars x 10000
SECONDS_PER_DAY = 86_400
DEFAULT_TZ = "America/New_York"
PRICE_LIMIT = 2**60  # = lobkit.engine.book.PRICE_LIMIT (ticks); a test keeps them equal
MAX_SIZE = 2**40  # = lobkit.engine.book.MAX_SIZE (lots)

# event types
T_ADD, T_CANCEL, T_DELETE, T_EXEC, T_HIDDEN, T_CROSS, T_HALT = 1, 2, 3, 4, 5, 6, 7
HALT_NAMES = {-1: "halt", 0: "quoting", 1: "resume"}

# file names: TICKER_DATE_START_END_{message|orderbook}_L.csv (the ticker may hold dots or dashes)
MESSAGE_RE = re.compile(r"_message_(\d+)\.csv$", re.IGNORECASE)
ORDERBOOK_RE = re.compile(r"_orderbook_(\d+)\.csv$", re.IGNORECASE)
_STEM_RE = re.compile(r"^(?P<ticker>[A-Za-z0-9.\-]+?)_(?P<date>\d{4}-\d{2}-\d{2})_")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError)


# ---------------------------------------------------------------------------------------------- names
def is_lobster_name(path: str | Path) -> bool:
    """Whether ``path`` looks like a LOBSTER file: a ``.zip``, or a ``*_message_L.csv`` / ``*_orderbook_L.csv``."""
    name = Path(path).name
    return name.lower().endswith(".zip") or bool(MESSAGE_RE.search(name) or ORDERBOOK_RE.search(name))


def name_parts(name: str) -> tuple[str, str | None]:
    """(ticker, date) from a LOBSTER file name such as ``AMZN_2012-06-21_34200000_57600000_message_5.csv``;
    the ticker is the part before the first ``_`` when there is no date, the date None."""
    base = Path(name.split(":")[-1]).name
    m = _STEM_RE.match(base)
    if m:
        return m.group("ticker"), m.group("date")
    return (base.split("_", 1)[0] if "_" in base else ""), None


def _swap(name: str, a: str, b: str) -> str:
    i = name.lower().rfind(a)
    return name[:i] + b + name[i + len(a):]


def _looks_like_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as f:
            return f.read(4) in _ZIP_MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class _Raw:
    message: bytes
    message_name: str
    orderbook: bytes
    orderbook_name: str
    name_levels: int | None


def _read_zip(path: Path) -> _Raw:
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise InputFormatError(path, None, f"not a readable zip archive (truncated or damaged: {_reason(exc)})") \
            from None
    with zf:
        names = zf.namelist()
        msgs = [m for m in names if MESSAGE_RE.search(m)]
        books = [m for m in names if ORDERBOOK_RE.search(m)]
        if len(msgs) != 1 or len(books) != 1:
            missing = "message" if not msgs else "orderbook" if not books else None
            what = (f"has no *_{missing}_L.csv member" if missing else
                    f"holds {len(msgs)} message and {len(books)} orderbook files (expected one pair)")
            raise InputFormatError(path, None, f"LOBSTER zip {what}; members: {', '.join(names) or 'none'}")

        def member(m: str) -> bytes:
            try:
                return zf.read(m)
            except _ZIP_ERRORS as exc:
                raise InputFormatError(f"{path}:{m}", None, f"damaged zip member ({_reason(exc)})") from None

        return _Raw(member(msgs[0]), f"{path}:{msgs[0]}", member(books[0]), f"{path}:{books[0]}",
                    int(ORDERBOOK_RE.search(books[0]).group(1)))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _read_raw(path: Path) -> _Raw:
    if not path.exists():
        raise InputFormatError(path, None, "no such file")
    if path.is_dir():
        raise InputFormatError(path, None, "is a directory, not a LOBSTER zip or csv")
    if _looks_like_zip(path):
        return _read_zip(path)
    name = path.name
    low = name.lower()
    if MESSAGE_RE.search(name) or "message" in low:
        msg_path, book_path = path, path.with_name(_swap(name, "message", "orderbook"))
    elif ORDERBOOK_RE.search(name) or "orderbook" in low:
        book_path, msg_path = path, path.with_name(_swap(name, "orderbook", "message"))
    else:
        raise InputFormatError(path, None, "not a LOBSTER zip, and the name contains neither 'message' nor "
                                           "'orderbook' (the partner file cannot be found)")
    for p, other in ((msg_path, book_path), (book_path, msg_path)):
        if not p.is_file():
            raise InputFormatError(p, None, f"not found: the LOBSTER file that goes with {other}")
    m = ORDERBOOK_RE.search(book_path.name)
    try:
        mdata, bdata = msg_path.read_bytes(), book_path.read_bytes()
    except OSError as exc:
        raise InputFormatError(path, None, f"cannot read ({exc.strerror or exc})") from None
    return _Raw(mdata, str(msg_path), bdata, str(book_path), int(m.group(1)) if m else None)


# ---------------------------------------------------------------------------------------------- parsing
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
        line = bytes(buf[starts[k]: min(ends[k], starts[k] + 80)]).decode("utf-8", "replace").rstrip("\r")
        hint = " (truncated file?)" if k == len(starts) - 1 else ""
        raise InputFormatError(where, k + 1, f"expected {ncols} comma-separated fields, found {int(commas[k]) + 1}"
                                             f"{hint}: {line}")
    return len(starts), ncols


def _read_ints(data: bytes, where: str, ncols: int, nlines: int, str_cols=()) -> pl.DataFrame:
    """Read a headerless csv whose fields are integers (except ``str_cols``, kept as text).

    A non-numeric (or out of int64 range) field raises InputFormatError with its line and column."""
    names = [f"c{j}" for j in range(ncols)]
    schema = {c: (pl.Utf8 if j in str_cols else pl.Int64) for j, c in enumerate(names)}
    try:
        df = pl.read_csv(data, has_header=False, schema=schema, quote_char=None)
    except pl.exceptions.PolarsError:
        df = pl.read_csv(data, has_header=False, schema={c: pl.Utf8 for c in names}, quote_char=None)
        for j, c in enumerate(names):
            if j in str_cols:
                continue
            col = df[c].str.strip_chars()
            ok = col.cast(pl.Int64, strict=False)
            badm = ok.is_null().to_numpy()
            if badm.any():
                k = int(np.flatnonzero(badm)[0])
                raise InputFormatError(where, k + 1, f"field {j + 1} is not an integer: '{col[k]}'") from None
            df = df.with_columns(ok.alias(c))
    if df.height != nlines:
        raise InputFormatError(where, None, f"read {df.height} rows from {nlines} lines (blank or odd lines?)")
    return df


def _time_ns(col: pl.Series, where: str) -> np.ndarray:
    """Seconds after midnight -> int64 ns, exactly from the decimal text (no float on the way), checked to lie
    within one day and never to go backwards."""
    col = col.str.strip_chars()
    ok = col.str.contains(r"^\d{1,5}(\.\d*)?$").fill_null(False).to_numpy()
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise InputFormatError(where, k + 1, f"time '{col[k]}' is not a decimal number of seconds after midnight "
                                             f"(0 <= seconds < {SECONDS_PER_DAY})")
    parts = col.str.split_exact(".", 1)
    sec = parts.struct.field("field_0").cast(pl.Int64).to_numpy()
    late = sec >= SECONDS_PER_DAY
    if late.any():
        k = int(np.flatnonzero(late)[0])
        raise InputFormatError(where, k + 1, f"time {col[k]} is not within a day (0 <= seconds after midnight < "
                                             f"{SECONDS_PER_DAY})")
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(10, "0")
    ns = frac.str.slice(0, 9).cast(pl.Int64).to_numpy()
    up = frac.str.slice(9, 1).cast(pl.Int64).to_numpy() >= 5
    t = sec * 1_000_000_000 + ns + up
    back = np.flatnonzero(t[1:] < t[:-1])
    if back.size:
        k = int(back[0]) + 1
        raise InputFormatError(where, k + 1, f"time {col[k]} is earlier than the line before ({col[k - 1]}): "
                                             "message times must not go backwards")
    return t


def _first_bad(mask: np.ndarray, where: str, what) -> None:
    if mask.any():
        k = int(np.flatnonzero(mask)[0])
        raise InputFormatError(where, k + 1, what(k))


def parse_messages(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Parse and validate a LOBSTER message file (its bytes; ``where`` names it in errors).

    Returns int64 arrays ``time_ns`` (ns after midnight), ``typ``, ``oid``, ``size``, ``price`` (dollars x
    10000), ``side`` (+1 buy, -1 sell), one entry per line. Raises :class:`InputFormatError` (see the module
    docstring for the rules)."""
    nlines, _ = _split_lines(data, where, 6)
    df = _read_ints(data, where, 6, nlines, str_cols=(0,))
    t = _time_ns(df["c0"], where)
    typ, oid, size, price, side = (df[f"c{j}"].to_numpy().astype(np.int64, copy=False) for j in range(1, 6))
    _first_bad((typ < 1) | (typ > 7), where, lambda k: f"unknown event type {typ[k]} (LOBSTER types are 1-7)")
    ev = typ <= T_CROSS
    _first_bad(ev & (side != 1) & (side != -1), where,
               lambda k: f"direction {side[k]} on a type {typ[k]} event (expected 1 buy or -1 sell)")
    _first_bad(ev & ((price < 1) | (price > PRICE_LIMIT)), where,
               lambda k: f"price {price[k]} on a type {typ[k]} event (must be 1 to 2**60 = {PRICE_LIMIT})")
    _first_bad(ev & ((size < 1) | (size > MAX_SIZE)), where,
               lambda k: f"size {size[k]} on a type {typ[k]} event (must be 1 to 2**40 = {MAX_SIZE})")
    _first_bad(ev & (oid < 0), where, lambda k: f"order id {oid[k]} is negative")
    _first_bad((typ == T_HALT) & (price != -1) & (price != 0) & (price != 1), where,
               lambda k: f"halt message (type 7) with price {price[k]} (expected -1 halt, 0 quoting or 1 resume)")
    return {"time_ns": t, "typ": typ, "oid": oid, "size": size, "price": price, "side": side}


def parse_orderbook(data: bytes, where: str, levels: int | None = None) -> np.ndarray:
    """Parse and validate a LOBSTER orderbook file (bytes) into an (n, 4L) int64 array (ask price, ask size,
    bid price, bid size per level, as in the file)."""
    nlines, ncols = _split_lines(data, where, None if levels is None else 4 * levels)
    if ncols % 4:
        raise InputFormatError(where, 1, f"{ncols} fields: an orderbook row has 4 per level")
    book = _read_ints(data, where, ncols, nlines).to_numpy().astype(np.int64, copy=False)
    ap, az, bp, bz = book[:, 0::4], book[:, 1::4], book[:, 2::4], book[:, 3::4]

    def real_ok(p, z):
        return (p >= 1) & (p <= PRICE_LIMIT) & (z >= 1) & (z <= MAX_SIZE)

    bad = np.where(ap == EMPTY_ASK, az != 0, ~real_ok(ap, az)) | np.where(bp == EMPTY_BID, bz != 0, ~real_ok(bp, bz))
    rows = bad.any(axis=1)
    if rows.any():
        k = int(np.flatnonzero(rows)[0])
        j = int(np.flatnonzero(bad[k])[0])
        raise InputFormatError(where, k + 1, f"bad level {j + 1}: ask {ap[k, j]} x {az[k, j]}, bid {bp[k, j]} x "
                                             f"{bz[k, j]} (a real level has 1 <= price <= 2**60 and 1 <= size <= "
                                             f"2**40, an empty one ask {EMPTY_ASK} / bid {EMPTY_BID} with size 0)")
    if ap.shape[1] > 1:  # levels best first, strictly, and no real level after an empty one
        ra, rb = ap != EMPTY_ASK, bp != EMPTY_BID
        sides = (("ask", ap, ra, ap[:, 1:] <= ap[:, :-1]), ("bid", bp, rb, bp[:, 1:] >= bp[:, :-1]))
        for name, p, real, worse in sides:
            wrong = real[:, 1:] & (worse | ~real[:, :-1])
            if wrong.any():
                k, j = (int(x) for x in np.argwhere(wrong)[0])
                what = (f"follows an empty level {j + 1}" if not real[k, j] else
                        f"is not {'above' if name == 'ask' else 'below'} level {j + 1} ({p[k, j]})")
                raise InputFormatError(where, k + 1, f"{name} level {j + 2} ({p[k, j + 1]}) {what}: levels are "
                                                     "best first, one price each")
    return book


# ---------------------------------------------------------------------------------------------- the file
@dataclass(frozen=True, eq=False)
class LobsterFile:
    """A LOBSTER message/orderbook pair, read and validated (:func:`read_lobster`).

    Message columns, each (n,) int64: ``time_ns`` (ns after midnight, exchange local time), ``typ`` (1-7),
    ``oid``, ``size`` (shares), ``price`` (dollars x 10000; -1/0/1 on halts), ``side`` (+1 buy, -1 sell).
    ``book`` is the orderbook file, (n, 4 * levels) int64 as in the file (row i: the book after message i).
    """

    source: str  # the path given
    message_name: str  # ``zip:member`` or a path
    orderbook_name: str
    ticker: str
    date: str | None  # YYYY-MM-DD from the file name (None when the name has none)
    levels: int  # L of the orderbook file
    time_ns: np.ndarray
    typ: np.ndarray
    oid: np.ndarray
    size: np.ndarray
    price: np.ndarray
    side: np.ndarray
    book: np.ndarray
    halts: tuple = field(default=())  # ((line, time_ns, code), ...) code -1 halt, 0 quoting, 1 resume

    @property
    def messages(self) -> int:
        return int(self.typ.shape[0])

    def midnight_utc_ns(self, tz: str = DEFAULT_TZ) -> int:
        """Epoch ns (UTC) of midnight of the file's date in ``tz``.

        Raises :class:`ConfigError` for an unknown zone, :class:`InputFormatError` when the name has no date."""
        zone = time_zone(tz)
        if self.date is None:
            raise InputFormatError(self.message_name, None, "the file name carries no date (TICKER_YYYY-MM-DD_...), "
                                   "so its times cannot be placed in UTC")
        try:
            day = datetime.strptime(self.date, "%Y-%m-%d")
        except ValueError:
            raise InputFormatError(self.message_name, None, f"date {self.date} in the file name is not a calendar "
                                   "date") from None
        return int(day.replace(tzinfo=zone).timestamp()) * 1_000_000_000


def time_zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; :class:`ConfigError` naming it when there is no such zone."""
    try:
        if not isinstance(tz, str) or not tz.strip():
            raise ValueError
        return ZoneInfo(tz.strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ConfigError(f"tz: unknown time zone {tz} (use an IANA name such as America/New_York or UTC)") from None


def read_lobster(path: str | Path) -> LobsterFile:
    """Read and validate a LOBSTER zip or csv pair (see the module docstring). Errors name file and line."""
    path = Path(path)
    raw = _read_raw(path)
    msg = parse_messages(raw.message, raw.message_name)
    book = parse_orderbook(raw.orderbook, raw.orderbook_name, raw.name_levels)
    n = len(msg["typ"])
    if book.shape[0] != n:
        shorter, longer = ((raw.orderbook_name, raw.message_name) if book.shape[0] < n
                           else (raw.message_name, raw.orderbook_name))
        raise InputFormatError(shorter, min(n, book.shape[0]) + 1,
                               f"ends here, but {longer} has {max(n, book.shape[0])} lines: message and orderbook "
                               f"files must have one row per message ({n} messages, {book.shape[0]} rows)")
    ticker, date = name_parts(raw.message_name)
    halt_idx = np.flatnonzero(msg["typ"] == T_HALT)
    halts = tuple((int(k) + 1, int(msg["time_ns"][k]), int(msg["price"][k])) for k in halt_idx)
    return LobsterFile(source=str(path), message_name=raw.message_name, orderbook_name=raw.orderbook_name,
                       ticker=ticker, date=date, levels=book.shape[1] // 4, book=book, halts=halts, **msg)


# ---------------------------------------------------------------------------------------------- messages
@dataclass(frozen=True, eq=False)
class LobsterMessages:
    """The book events of a LOBSTER file as ``lobkit.engine.MESSAGE_DTYPE`` rows.

    ``rows``: (m,) MESSAGE_DTYPE: ``ts`` UTC epoch ns, ``price`` in ticks of ``tick`` LOBSTER units (dollars x
    10000; the gcd of the file's prices), ``size`` in shares, ``oid`` LOBSTER's order id, ``owner`` 0. Type 1
    is ``OP_LIMIT`` with ``FLAG_POST_ONLY`` (a LOBSTER add never trades), 2 ``OP_REDUCE``, 3 ``OP_CANCEL``,
    4 ``OP_EXECUTE``; types 5-7 (hidden executions, cross trades, halts) change no visible book and are left
    out. ``line``: (m,) the 1-based line of each row in the message file.

    Orders resting before the file starts appear only when cancelled or executed, so these rows on an empty
    book do not give LOBSTER's book: :func:`lobkit.engine.lobster.replay` does (placeholders, see
    docs/lobster.md).
    """

    rows: np.ndarray
    tick: int
    line: np.ndarray


def file_tick(lf: LobsterFile) -> int:
    """The file's tick in LOBSTER price units: the gcd of every book price (messages of types 1-4 and every
    real orderbook level); 1 when there is none."""
    is_book = lf.typ <= T_EXEC
    ap, bp = lf.book[:, 0::4], lf.book[:, 2::4]
    prices = np.concatenate((lf.price[is_book], ap[ap != EMPTY_ASK], bp[bp != EMPTY_BID]))
    return max(int(np.gcd.reduce(prices)) if prices.size else 1, 1)


def to_messages(lf: LobsterFile, tz: str = DEFAULT_TZ) -> LobsterMessages:
    """The book events of ``lf`` as ``MESSAGE_DTYPE`` rows (see :class:`LobsterMessages`)."""
    from lobkit.engine.messages import (
        FLAG_POST_ONLY,
        MESSAGE_DTYPE,
        OP_CANCEL,
        OP_EXECUTE,
        OP_LIMIT,
        OP_REDUCE,
    )

    base = lf.midnight_utc_ns(tz)
    tick = file_tick(lf)
    keep = np.flatnonzero(lf.typ <= T_EXEC)
    ops = np.array([0, OP_LIMIT, OP_REDUCE, OP_CANCEL, OP_EXECUTE], np.int8)
    rows = np.zeros(len(keep), MESSAGE_DTYPE)
    typ = lf.typ[keep]
    rows["ts"] = base + lf.time_ns[keep]
    rows["op"] = ops[typ]
    rows["side"] = lf.side[keep]
    rows["flags"] = np.where(typ == T_ADD, FLAG_POST_ONLY, 0)
    rows["price"] = lf.price[keep] // tick
    rows["size"] = lf.size[keep]
    rows["oid"] = lf.oid[keep]
    return LobsterMessages(rows, tick, keep + 1)


# ---------------------------------------------------------------------------------------------- snapshots
@dataclass(frozen=True, eq=False)
class LobsterBook:
    """The orderbook rows of a LOBSTER file placed in UTC, same-microsecond rows collapsed to the last."""

    ticker: str
    date: str
    levels: int
    book: np.ndarray  # (n, 4 * levels) int64, as in the file
    ts_us: np.ndarray  # (n,) epoch microseconds UTC
    row: np.ndarray  # (n,) 1-based row number in the orderbook file
    collapsed: int  # rows dropped because a later row has the same microsecond
    source: str = ""


def book_rows(lf: LobsterFile, tz: str = DEFAULT_TZ) -> LobsterBook:
    """The snapshots of ``lf`` (see the module docstring): times in UTC microseconds, one row per microsecond."""
    base_ns = lf.midnight_utc_ns(tz)
    ts_us = (base_ns + lf.time_ns + 500) // 1000  # to the nearest microsecond
    keep = np.append(ts_us[1:] != ts_us[:-1], True)
    return LobsterBook(lf.ticker, lf.date or "", lf.levels, lf.book[keep], ts_us[keep], np.flatnonzero(keep) + 1,
                       int((~keep).sum()), lf.source)


NAMES = {"items": "orderbook", "bids": "orderbook(bid)", "asks": "orderbook(ask)", "timestamp": "time",
         "price": "price", "quantity": "size", "item_id": "row"}


def _raw(lb: LobsterBook, lo: int, hi: int) -> RawBatch:
    n, L = hi - lo, lb.levels
    rows = lb.book[lo:hi].reshape(n, L, 4)
    ids = lb.row[lo:hi].astype(np.int64)

    def side(p_col: int, empty: int) -> Levels:
        price, size = rows[:, :, p_col], rows[:, :, p_col + 1]
        real = ~((price == empty) & (size == 0))
        item = np.broadcast_to(ids[:, None], (n, L))[real]
        return Levels(item.copy(), item.copy(), price[real] / PRICE_SCALE, size[real].astype(np.float64))

    empty = Levels(*(np.empty(0, t) for t in (np.int64, np.int64, np.float64, np.float64)))
    return RawBatch(ids, lb.ts_us[lo:hi], np.ones(n, bool), side(2, EMPTY_BID), side(0, EMPTY_ASK), empty, empty)


def clean_batches(lb: LobsterBook, batch_size: int = 50_000) -> Iterator[CleanBatch]:
    """The snapshots of ``lb`` validated like any other source's (:func:`lobkit.data.books.clean`)."""
    batch_size = check_int("batch_size", batch_size, 1, 10_000_000)
    for lo in range(0, len(lb.book), batch_size):
        yield clean(_raw(lb, lo, min(lo + int(batch_size), len(lb.book))), NAMES)


def import_lobster(path: str | Path, cfg, *, batch_size: int = 50_000, strict: bool = False,
                   progress: bool = True, tz: str = DEFAULT_TZ) -> tuple:
    """Store the orderbook rows of a LOBSTER file as snapshots in ``cfg.table`` (idempotent, like migrate).

    The table is created when missing, exactly as ``lobkit db init`` creates it (the database itself must
    exist: ``lobkit db init`` makes it). Returns ``(MigrationSummary, LobsterBook)``; the summary's
    ``created_table`` says whether the table was made. Raises :class:`InputFormatError` for a bad file,
    :class:`ConfigError` for a bad ``tz``, :class:`lobkit.data.errors.DatabaseError` for the database.
    """
    from lobkit.data.migrate import ingest
    from lobkit.data.timescale import ensure_table

    time_zone(tz)  # before reading the file
    lf = read_lobster(path)
    lb = book_rows(lf, tz)
    created = ensure_table(cfg)
    summary = ingest(clean_batches(lb, batch_size), cfg, source=str(path), total=len(lb.book), strict=strict,
                     progress=progress)
    return replace(summary, created_table=created), lb


# ---------------------------------------------------------------------------------------------- source
class LobsterSource(SnapshotSource):
    """A LOBSTER zip or csv pair as a data source: snapshot chunks of its orderbook rows and its book events as
    ``MESSAGE_DTYPE`` rows. Option: ``tz`` (the exchange's zone, default America/New_York)."""

    suffixes = (".zip",)

    def __init__(self, location: str, *, tz: str = DEFAULT_TZ):
        super().__init__(location)
        time_zone(tz)
        self.tz = tz
        self._file: LobsterFile | None = None

    @classmethod
    def claims(cls, path: Path) -> bool:
        return is_lobster_name(path) or (path.is_file() and _looks_like_zip(path))

    @property
    def description(self) -> str:
        return self.location

    def file(self) -> LobsterFile:
        """The file, read once."""
        if self._file is None:
            self._file = read_lobster(self.location)
        return self._file

    def _frames(self, stream: SnapshotStream, chunk_size: int, lo_us: int | None, hi_us: int | None):
        from lobkit.data.books import to_frame

        lb = book_rows(self.file(), self.tz)
        for cb in clean_batches(lb, chunk_size):
            stream.add_rejections(cb)
            keep = np.ones(len(cb.ts_us), bool)
            if lo_us is not None:
                keep &= cb.ts_us >= lo_us
            if hi_us is not None:
                keep &= cb.ts_us < hi_us
            frame = to_frame(cb.ts_us, cb.bids, cb.asks, cb.source_id)
            if not keep.all():
                frame = frame.filter(pl.Series(keep))
            if frame.height:
                yield frame

    def snapshots(self, chunk_size: int = 50_000, start=None, end=None) -> SnapshotStream:
        lo, hi = self.time_bounds(start, end)
        chunk_size = check_int("chunk_size", chunk_size, 1, 10_000_000)
        return SnapshotStream(lambda s: self._frames(s, chunk_size, lo, hi), self.description)

    def messages(self) -> LobsterMessages:
        return to_messages(self.file(), self.tz)
