"""Snapshot and message sources: one registry, one way to open them, one initial book for the simulator.

A *source* is where order books come from. Each kind has one home under ``lobkit/data/`` and is registered
here by name:

========== ===================================== ==================================================
name       spec                                  home
========== ===================================== ==================================================
sqlite     ``PATH.db`` (also ``.sqlite``,        :class:`lobkit.data.sqlite.SqliteSource`
           ``.sqlite3``, or any SQLite file),
           ``sqlite:PATH``
timescale  ``postgresql://USER:PW@HOST:PORT/DB``  :class:`lobkit.data.timescale.TimescaleSource`
           (option ``table``, or ``?table=T``
           in the URL), ``timescale:DSN``
lobster    ``PATH.zip``, ``*_message_L.csv``,    :class:`lobkit.data.lobster.LobsterSource`
           ``lobster:PATH``
========== ===================================== ==================================================

:func:`open_source` turns a spec into a source: ``NAME:LOCATION`` picks a registered source by name; a URL
(``scheme://...``) goes to the source that lists its scheme; a bare path to the first source that claims it
(by suffix, else by content). Every source yields the same thing:

* :meth:`SnapshotSource.snapshots` -> :class:`SnapshotStream`: Polars chunks in time order in the layout of
  :func:`lobkit.data.books.to_frame` (``ts`` UTC µs, ``bid_px``/``bid_qty``/``ask_px``/``ask_qty`` lists best
  first, ``source_id``), holding only snapshots that pass :func:`lobkit.data.books.clean`; the stream counts
  the snapshots it skipped (``rejected_snapshots``) and keeps the first reasons (``rejections``);
* :meth:`SnapshotSource.messages` -> the source's order events as ``MESSAGE_DTYPE`` rows, where it has them
  (LOBSTER); the others raise :class:`ConfigError`.

Adding a source is one new file and one register call (see docs/data.md, "Adding a source").

:func:`first_book` gives the simulator its initial book from any snapshot source, exactly (prices on the tick
grid or an error, bounds checked, quantity rounding counted).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import ClassVar

import numpy as np

from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.errors import show_number as _num

MAX_REPORTED = 1000  # rejections a stream keeps (all are counted)

_REGISTRY: dict[str, type[SnapshotSource]] = {}
_builtins_loaded = False


class SnapshotStream:
    """An iterator of snapshot chunks (Polars DataFrames) that counts what it skipped.

    ``rejected_snapshots``: snapshots the source held but did not yield because they failed validation (final
    once the stream is exhausted); ``rejections``: the first :data:`MAX_REPORTED` reasons
    (:class:`lobkit.data.books.Rejection`: table, row id, field, reason). ``close()`` releases the source
    (files, connections, threads); exhausting the stream or using it as a context manager does too.
    """

    def __init__(self, make: Callable[[SnapshotStream], Iterator], description: str = "",
                 on_close: Callable[[], None] | None = None):
        self.description = description
        self._on_close = on_close
        self.rejected_snapshots = 0
        self.rejected_rows = 0
        self.rejections: list = []
        self._it = make(self)

    def add_rejections(self, cb) -> None:
        """Count the rejected snapshots and rows of a :class:`lobkit.data.books.CleanBatch`."""
        self.rejected_snapshots += len(cb.rejected_snapshots)
        self.rejected_rows += len(cb.rejections)
        room = MAX_REPORTED - len(self.rejections)
        if room > 0:
            self.rejections.extend(cb.rejections[:room])

    def __iter__(self) -> SnapshotStream:
        return self

    def __next__(self):
        try:
            return next(self._it)
        except StopIteration:
            if self._on_close is not None:
                self._on_close()
            raise

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        try:
            if close is not None:
                close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> SnapshotStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SnapshotSource:
    """Base class of the sources. A subclass sets ``suffixes`` / ``schemes`` and implements :meth:`snapshots`
    (and :meth:`messages` when it has order events).

    ``location`` is the spec without its ``NAME:`` prefix (a path, or the whole URL for URL sources);
    keyword options are the subclass's own (an unknown one is a :class:`ConfigError`).
    """

    name: ClassVar[str] = ""  # set by register_source
    suffixes: ClassVar[tuple[str, ...]] = ()  # bare paths with these suffixes are this kind
    schemes: ClassVar[tuple[str, ...]] = ()  # URLs ``scheme://...`` of this kind (handed over whole)

    def __init__(self, location: str):
        self.location = str(location)

    @classmethod
    def claims(cls, path: Path) -> bool:
        """Whether a bare path (no ``NAME:`` prefix) is this kind of source: by suffix by default."""
        return path.suffix.lower() in cls.suffixes

    @property
    def description(self) -> str:
        """How errors and reports name the source (a path, a table at a masked DSN)."""
        return self.location

    def snapshots(self, chunk_size: int = 50_000, start=None, end=None) -> SnapshotStream:
        """Valid snapshots in time order, ``start <= ts < end`` (datetimes, naive = UTC, or ISO text)."""
        raise NotImplementedError

    def messages(self):
        """The source's order events as ``MESSAGE_DTYPE`` rows; :class:`ConfigError` for snapshot-only sources."""
        raise ConfigError(f"{self.description}: a {self.name or type(self).__name__} source holds snapshots only, "
                          "no order messages")

    @staticmethod
    def time_bounds(start, end) -> tuple[int | None, int | None]:
        """``start``/``end`` as epoch µs (UTC) or None; :class:`ConfigError` for what is not a time."""
        from lobkit.data.stream import _as_utc, _us

        s, e = _as_utc(start, "start"), _as_utc(end, "end")
        return (_us(s) if s else None), (_us(e) if e else None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from lobkit.data.lobster import LobsterSource
    from lobkit.data.sqlite import SqliteSource
    from lobkit.data.timescale import TimescaleSource

    for name, cls in (("sqlite", SqliteSource), ("timescale", TimescaleSource), ("lobster", LobsterSource)):
        if name not in _REGISTRY:
            register_source(name, cls)
    # the next sources (a Bitstamp capture, generated books) are registered here the same way


_NAME_RE = re.compile(r"^[a-z][a-z0-9_+.-]*$")


def register_source(name: str, cls: type[SnapshotSource], *, replace: bool = False) -> None:
    """Register ``cls`` (a :class:`SnapshotSource` subclass) under ``name``, the prefix of ``NAME:LOCATION``
    specs. A name already taken by another class is a :class:`ConfigError` unless ``replace``."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) < 2:
        raise ConfigError(f"source name must be lower-case letters, digits or _+.- (at least 2 characters, "
                          f"starting with a letter), got {name}")
    if not (isinstance(cls, type) and issubclass(cls, SnapshotSource)):
        raise ConfigError(f"source {name}: {cls} is not a subclass of lobkit.data.sources.SnapshotSource")
    if name != "sqlite" and not _builtins_loaded:
        _load_builtins()
    old = _REGISTRY.get(name)
    if old is not None and old is not cls and not replace:
        raise ConfigError(f"source {name} is registered already ({old.__module__}.{old.__qualname__}); pass "
                          "replace=True to replace it")
    cls.name = name
    _REGISTRY[name] = cls


def registered_sources() -> dict[str, type[SnapshotSource]]:
    """Name -> class of every registered source (built-in ones included)."""
    _load_builtins()
    return dict(_REGISTRY)


def _known() -> str:
    parts = []
    for name, cls in _REGISTRY.items():
        extra = [*(f"*{s}" for s in cls.suffixes), *(f"{s}://..." for s in cls.schemes)]
        parts.append(f"{name}:PATH" + (f" ({', '.join(extra)})" if extra else ""))
    return "; ".join(parts)


def open_source(spec, **options) -> SnapshotSource:
    """The source a spec names (see the module docstring); ``options`` go to the source's constructor.

    ``spec``: a :class:`SnapshotSource` (returned as is), a path, ``NAME:LOCATION`` or a URL. Raises
    :class:`ConfigError` when no registered source takes the spec or an option is unknown; the sources
    themselves raise :class:`InputFormatError` for a missing or unreadable file when they are read.
    """
    _load_builtins()
    if isinstance(spec, SnapshotSource):
        if options:
            raise ConfigError(f"open_source: options {', '.join(options)} given with an opened source")
        return spec
    from lobkit.data.timescale import DbConfig

    if isinstance(spec, DbConfig):
        cls, location = _REGISTRY["timescale"], spec
    else:
        if not isinstance(spec, str | Path):
            raise ConfigError(f"source must be a path or a URI, got a {type(spec).__name__}")
        text = str(spec).strip()
        if not text:
            raise ConfigError("source: empty path")
        cls = location = None
        m = re.match(r"^([A-Za-z][A-Za-z0-9_+.-]*):(//)?", text)
        if m and len(m.group(1)) > 1:  # not a Windows drive letter
            scheme = m.group(1).lower()
            if m.group(2):
                cls = next((c for c in _REGISTRY.values() if scheme in c.schemes), None)
                location = text
                if cls is None and scheme in _REGISTRY:  # NAME://... : a registered name
                    cls, location = _REGISTRY[scheme], text[len(m.group(1)) + 1:]
            elif scheme in _REGISTRY:
                cls, location = _REGISTRY[scheme], text[len(m.group(1)) + 1:]
            if cls is None and m.group(2):
                raise ConfigError(f"source {_mask(text)}: no registered source reads {scheme}:// URLs (known: "
                                  f"{_known()})")
        if cls is None:
            path = Path(text)
            cls = next((c for c in _REGISTRY.values() if _claims(c, path)), None)
            location = text
            if cls is None:
                if not path.exists():
                    raise InputFormatError(path, None, f"no such file (sources: {_known()})")
                raise ConfigError(f"source {text}: cannot tell what kind of source this is; name it as NAME:PATH "
                                  f"(known: {_known()})")
    try:
        return cls(location, **options)
    except TypeError as exc:
        raise ConfigError(f"source {cls.name}: {exc}".replace("__init__() ", "")) from None


def _claims(cls: type[SnapshotSource], path: Path) -> bool:
    try:
        return bool(cls.claims(path))
    except OSError:
        return False


def _mask(text: str) -> str:
    from lobkit.data.timescale import mask

    return mask(text)


# ---------------------------------------------------------------------------------------------- initial book
@dataclass(frozen=True, eq=False)
class InitialBook:
    """A snapshot as engine orders: one order per level, bids best first, then asks best first.

    ``side``: (n,) int64, +1 bid, -1 ask. ``price``: (n,) int64 ticks (1 <= price <= PRICE_LIMIT).
    ``size``: (n,) int64 lots (1 <= size <= MAX_SIZE). ``ts``: the snapshot's time, UTC epoch ns.
    ``source``: where it came from (path or table, and the snapshot id). ``rounded``: how many quantities were
    not a whole number of lots and were rounded (to the nearest lot, halves up, at least 1 lot).
    ``snapshot_id``: the snapshot's id in the source, when it has one. ``skipped``: invalid snapshots before it
    (failing :func:`lobkit.data.books.clean`; they are never used, and the stream reports them).
    """

    side: np.ndarray
    price: np.ndarray
    size: np.ndarray
    ts: int
    source: str
    rounded: int
    snapshot_id: int | None = None
    skipped: int = 0

    @property
    def best_bid(self) -> int:
        return int(self.price[self.side == 1].max())

    @property
    def best_ask(self) -> int:
        return int(self.price[self.side == -1].min())


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _positive(name: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive number, got {v}") from None
    if not (np.isfinite(f) and f > 0):
        raise ConfigError(f"{name} must be a finite positive number, got {_num(f) if np.isfinite(f) else v}")
    return f


def first_book(spec, tick_size: float, lot_size: float, **options) -> InitialBook:
    """The first valid snapshot of a snapshot source (any :func:`open_source` spec) as an :class:`InitialBook`.

    Exact and checked: a price must be a whole number of ticks (exact decimal arithmetic on the values as
    written; a difference below 1e-6 tick is float noise), at least 1 tick and at most ``PRICE_LIMIT``
    (2**60) ticks; a quantity becomes the nearest whole number of lots (halves up), at least 1 lot, at most
    ``MAX_SIZE`` (2**40) lots, and every quantity not already a whole number of lots is counted in
    ``rounded``. Two levels on the same tick, an empty side or a crossed or locked book are errors.

    Raises :class:`ConfigError` (bad ``tick_size``/``lot_size``, unknown source) or :class:`InputFormatError`
    naming the source, the snapshot and the level (one line), never rounding a price silently.
    """
    from lobkit.engine.book import MAX_SIZE, PRICE_LIMIT

    tick = _positive("tick_size", tick_size)
    lot = _positive("lot_size", lot_size)
    src = open_source(spec, **options)
    stream = src.snapshots(chunk_size=64)
    try:
        with warnings.catch_warnings():  # skipped snapshots are reported here (``skipped``, or the error)
            warnings.simplefilter("ignore", UserWarning)
            frame = next(stream, None)
    finally:
        stream.close()
    where = src.description
    if frame is None or frame.height == 0:
        why = (f"; {stream.rejected_snapshots} snapshot(s) were rejected, the first: {stream.rejections[0]}"
               if stream.rejections else "")
        raise InputFormatError(where, None, f"no valid snapshot{why}")
    row = frame.row(0, named=True)
    sid = row.get("source_id")
    ts_ns = int(frame["ts"].dt.epoch("us")[0]) * 1000
    when = row["ts"].strftime("%Y-%m-%d %H:%M:%S.%f")
    snap = f"snapshot {sid} ({when} UTC)" if sid is not None else f"the snapshot at {when} UTC"
    sides, prices, sizes = [], [], []
    rounded = 0
    eps_tick, eps_lot = Decimal("1e-6"), Decimal("1e-9")
    dtick, dlot = _dec(tick), _dec(lot)
    with localcontext() as ctx:
        ctx.prec = 60
        for s, name, pcol, qcol in ((1, "bid", "bid_px", "bid_qty"), (-1, "ask", "ask_px", "ask_qty")):
            px, qty = row[pcol] or [], row[qcol] or []
            if not px:
                raise InputFormatError(where, None, f"{snap}: the {name} side is empty (an initial book needs both)")
            for j, (p, q) in enumerate(zip(px, qty, strict=True)):
                lvl = f"{snap}, {name} level {j + 1}"
                if not (np.isfinite(p) and p > 0 and np.isfinite(q) and q > 0):
                    raise InputFormatError(where, None, f"{lvl}: price {_num(p)} and quantity {_num(q)} must be "
                                                        "finite and positive")
                ticks = _dec(p) / dtick
                whole = ticks.to_integral_value(rounding=ROUND_HALF_UP)
                if abs(ticks - whole) > eps_tick:
                    raise InputFormatError(where, None, f"{lvl}: price {_num(p)} is not on the tick grid of "
                                                        f"{_num(tick)} ({_num(p)} / {_num(tick)} = {float(ticks):.10g}"
                                                        " ticks); pass the source's tick size")
                if whole < 1 or whole > PRICE_LIMIT:
                    raise InputFormatError(where, None, f"{lvl}: price {_num(p)} is {int(whole)} ticks of "
                                                        f"{_num(tick)}, outside 1 to 2**60 ticks")
                lots = _dec(q) / dlot
                n = max(int(lots.to_integral_value(rounding=ROUND_HALF_UP)), 1)
                if abs(lots - n) > eps_lot:
                    rounded += 1
                if n > MAX_SIZE:
                    raise InputFormatError(where, None, f"{lvl}: quantity {_num(q)} is {n} lots of {_num(lot)}, "
                                                        f"more than 2**40 = {MAX_SIZE}")
                sides.append(s)
                prices.append(int(whole))
                sizes.append(n)
    side, price, size = (np.array(v, np.int64) for v in (sides, prices, sizes))
    for s, name in ((1, "bid"), (-1, "ask")):
        p = price[side == s]
        uniq, counts = np.unique(p, return_counts=True)
        if (counts > 1).any():
            dup = int(uniq[counts > 1][0])
            levels = [j + 1 for j in np.flatnonzero(p == dup)]
            raise InputFormatError(where, None, f"{snap}, {name} levels {levels[0]} and {levels[1]}: both at "
                                                f"{Decimal(dup) * dtick} ({dup} ticks of {_num(tick)}): a "
                                                "duplicate price level")
    best_bid, best_ask = int(price[side == 1].max()), int(price[side == -1].min())
    if best_bid >= best_ask:
        raise InputFormatError(where, None, f"{snap}: crossed or locked book in ticks of {_num(tick)}: best bid "
                                            f"{best_bid} >= best ask {best_ask}")
    bad = {r.snapshot_id for r in stream.rejections if r.snapshot_id is not None}
    skipped = sum(1 for b in bad if sid is None or b < sid)
    return InitialBook(side, price, size, ts_ns, f"{where}, {snap}", rounded, None if sid is None else int(sid),
                       skipped)


__all__ = ["InitialBook", "SnapshotSource", "SnapshotStream", "first_book", "open_source", "register_source",
           "registered_sources"]
