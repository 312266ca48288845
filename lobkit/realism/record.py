"""What the realism statistics read: a :class:`MarketRecord` (books sampled in time, and the order events), built from
real snapshots (:func:`record_from_snapshots`, :func:`real_record`) or from one simulation (:func:`simulated_record`,
:func:`simulated_records`).

Everything inside is integer: prices in ticks (int64), times in ns (int64) from the record's start. Volumes stay in
the source's units (BTC, shares, lots) as float64: the statistics use normalised profiles, so units cancel.

Event types are the simulator's six (:data:`lobkit.flows.nb.EVENT_NAMES`, the same codes as
:data:`lobkit.training.events.EVENT_TYPES`): 0 limit_buy, 1 limit_sell, 2 market_buy, 3 market_sell, 4 cancel_buy,
5 cancel_sell.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lobkit.errors import ConfigError, InputFormatError

NS = 1_000_000_000
#: The six event types, in code order.
EVENT_NAMES = ("limit_buy", "limit_sell", "market_buy", "market_sell", "cancel_buy", "cancel_sell")
#: A side with no order: the value of ``bid`` / ``ask``.
EMPTY = -1
MAX_LEVELS = 10_000


def _fail(source: str, message: str) -> ConfigError:
    return ConfigError(f"MarketRecord {source}: {message}")


def _check_array(source: str, name: str, a, dtype, ndim: int) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise _fail(source, f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise _fail(source, f"{name} must have dtype {np.dtype(dtype).name}, got {a.dtype.name} "
                            f"(convert it with .astype(np.{np.dtype(dtype).name}))")
    if a.ndim != ndim:
        raise _fail(source, f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    return a


@dataclass(frozen=True, eq=False)
class MarketRecord:
    """Books sampled over time and (optionally) the order events of one market, validated on construction.

    Fields (``n`` samples, ``L`` levels a side, ``m`` events):

    * ``source``: where it came from (a path, a configuration and seed) and, for real data, which events were used;
    * ``tick_size``: currency per tick (float, > 0);
    * ``t_ns``: int64 (n,), sample times in ns from the record's start, ``t_ns[0] >= 0``, strictly increasing;
    * ``bid``, ``ask``: int64 (n,), best prices in ticks, :data:`EMPTY` (-1) when the side is empty (such rows are
      skipped by every statistic); where both exist, ``ask > bid``;
    * ``bid_volume``, ``ask_volume``: float64 (n, L), volume at the k-th *occupied* price level of each side, best
      first, NaN where there is no such level; finite and >= 0 elsewhere (units: the source's);
    * ``event_t_ns``: int64 (m,) event times in ns from the record's start (sorted, in ``[0, duration_ns]``), or
      None when the events are unknown; ``event_type``: int8 (m,) codes 0-5 (:data:`EVENT_NAMES`), or None;
    * ``duration_ns``: the observed window, ``[0, duration_ns]`` (int, >= the last sample time, > 0).

    Raises :class:`~lobkit.errors.ConfigError` naming the field for a wrong shape, dtype or value.
    """

    source: str
    tick_size: float
    t_ns: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_volume: np.ndarray
    ask_volume: np.ndarray
    event_t_ns: np.ndarray | None
    event_type: np.ndarray | None
    duration_ns: int

    def __post_init__(self):
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError(f"MarketRecord source: a non-empty description, got {self.source!r}")
        src = self.source
        if isinstance(self.tick_size, bool) or not isinstance(self.tick_size, int | float | np.number) \
                or not (math.isfinite(float(self.tick_size)) and float(self.tick_size) > 0):
            raise _fail(src, f"tick_size must be a finite number > 0 (currency per tick), got {self.tick_size!r}")
        t = _check_array(src, "t_ns", self.t_ns, np.int64, 1)
        n = len(t)
        if n == 0:
            raise _fail(src, "t_ns: no samples")
        if t[0] < 0:
            raise _fail(src, f"t_ns[0] is {int(t[0])} ns: times count from the record's start (>= 0)")
        back = np.flatnonzero(np.diff(t) <= 0)
        if len(back):
            i = int(back[0]) + 1
            raise _fail(src, f"t_ns[{i}] = {int(t[i])} ns is not after t_ns[{i - 1}] = {int(t[i - 1])} ns (sample "
                             "times must increase)")
        for name in ("bid", "ask"):
            a = _check_array(src, name, getattr(self, name), np.int64, 1)
            if len(a) != n:
                raise _fail(src, f"{name} has {len(a)} values for {n} samples")
            bad = np.flatnonzero((a != EMPTY) & (a < 1))
            if len(bad):
                i = int(bad[0])
                raise _fail(src, f"{name}[{i}] = {int(a[i])}: prices are ticks >= 1, or -1 for an empty side")
        both = (self.bid != EMPTY) & (self.ask != EMPTY)
        crossed = np.flatnonzero(both & (self.ask <= self.bid))
        if len(crossed):
            i = int(crossed[0])
            raise _fail(src, f"sample {i}: ask {int(self.ask[i])} is not above bid {int(self.bid[i])} (a crossed or "
                             "locked book)")
        levels = None
        for name in ("bid_volume", "ask_volume"):
            v = _check_array(src, name, getattr(self, name), np.float64, 2)
            if v.shape[0] != n:
                raise _fail(src, f"{name} has {v.shape[0]} rows for {n} samples")
            if not 1 <= v.shape[1] <= MAX_LEVELS:
                raise _fail(src, f"{name} must have 1 to {MAX_LEVELS:,} levels, got {v.shape[1]}")
            if levels is not None and v.shape[1] != levels:
                raise _fail(src, f"bid_volume has {levels} levels but ask_volume {v.shape[1]}")
            levels = v.shape[1]
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(v) & ~(np.isfinite(v) & (v >= 0))
            if bad.any():
                i, j = (int(x) for x in np.argwhere(bad)[0])
                raise _fail(src, f"{name}[{i}, {j}] = {float(v[i, j])!r}: volumes are finite and >= 0 (NaN: no "
                                 "such level)")
        d = self.duration_ns
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or int(d) <= 0:
            raise _fail(src, f"duration_ns must be an integer > 0, got {d!r}")
        if int(d) < int(t[-1]):
            raise _fail(src, f"duration_ns ({int(d)}) ends before the last sample ({int(t[-1])} ns)")
        object.__setattr__(self, "duration_ns", int(d))
        et, ek = self.event_t_ns, self.event_type
        if (et is None) != (ek is None):
            raise _fail(src, "event_t_ns and event_type must both be given or both be None")
        if et is not None:
            et = _check_array(src, "event_t_ns", et, np.int64, 1)
            ek = _check_array(src, "event_type", ek, np.int8, 1)
            if len(ek) != len(et):
                raise _fail(src, f"event_type has {len(ek)} values for {len(et)} event times")
            if len(et):
                if et[0] < 0 or et[-1] > d:
                    i = 0 if et[0] < 0 else len(et) - 1
                    raise _fail(src, f"event_t_ns[{i}] = {int(et[i])} ns is outside the window [0, {int(d)}] ns")
                back = np.flatnonzero(np.diff(et) < 0)
                if len(back):
                    i = int(back[0]) + 1
                    raise _fail(src, f"event_t_ns[{i}] = {int(et[i])} ns is before event_t_ns[{i - 1}] = "
                                     f"{int(et[i - 1])} ns (events must be sorted)")
                bad = np.flatnonzero((ek < 0) | (ek >= len(EVENT_NAMES)))
                if len(bad):
                    i = int(bad[0])
                    raise _fail(src, f"event_type[{i}] = {int(ek[i])}: types are 0 to 5 ({', '.join(EVENT_NAMES)})")

    # -- views ---------------------------------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return len(self.t_ns)

    @property
    def levels(self) -> int:
        """L, the levels a side of ``bid_volume`` / ``ask_volume``."""
        return int(self.bid_volume.shape[1])

    @property
    def has_events(self) -> bool:
        return self.event_t_ns is not None

    @property
    def hours(self) -> float:
        return self.duration_ns / (3600 * NS)

    def window(self, start_ns: int, end_ns: int) -> MarketRecord:
        """The part ``[start_ns, end_ns]`` of the record as a record of its own, times counted from ``start_ns``.

        Its first sample is the book at ``start_ns`` (the last sample at or before it, timed 0), then every sample
        in ``(start_ns, end_ns]``; events in ``[start_ns, end_ns]``. Raises :class:`ConfigError` for an empty or
        reversed window, or one outside ``[0, duration_ns]``.
        """
        s, e = int(start_ns), int(end_ns)
        if not 0 <= s < e <= self.duration_ns:
            raise ConfigError(f"window: need 0 <= start < end <= {self.duration_ns} ns, got [{s}, {e}]")
        t = self.t_ns
        lo = max(int(np.searchsorted(t, s, side="right")) - 1, 0)
        hi = int(np.searchsorted(t, e, side="right"))
        if lo >= hi:
            raise ConfigError(f"window: no sample in [{s}, {e}] ns")
        tt = np.maximum(t[lo:hi] - s, 0)
        ev_t = ev_k = None
        if self.has_events:
            a = int(np.searchsorted(self.event_t_ns, s, side="left"))
            b = int(np.searchsorted(self.event_t_ns, e, side="right"))
            ev_t, ev_k = self.event_t_ns[a:b] - s, self.event_type[a:b]
        return MarketRecord(f"{self.source} [{s / NS:g} s, {e / NS:g} s]", self.tick_size, tt, self.bid[lo:hi],
                            self.ask[lo:hi], self.bid_volume[lo:hi], self.ask_volume[lo:hi], ev_t, ev_k, e - s)

    def halves(self) -> tuple[MarketRecord, MarketRecord]:
        """The first and the second half of the window (see :meth:`window`)."""
        mid = self.duration_ns // 2
        return self.window(0, mid), self.window(mid, self.duration_ns)

    def describe(self) -> dict:
        """A JSON-able summary: source, hours, samples, levels, events (count, or None)."""
        return {"source": self.source, "hours": self.hours, "samples": self.n_samples, "levels": self.levels,
                "tick_size": float(self.tick_size),
                "events": None if self.event_t_ns is None else len(self.event_t_ns)}


# ------------------------------------------------------------------------------------------------- real data
def _events_arrays(events, offset_ns: int, duration_ns: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(event_t_ns, event_type) of an EventStream or a (times ns, types) pair, shifted by ``+offset_ns`` (the
    events' origin minus the record's start), kept in the window ``[0, duration_ns]``."""
    if hasattr(events, "time_ns") and hasattr(events, "type"):
        t, k = np.asarray(events.time_ns), np.asarray(events.type)
    else:
        try:
            t, k = events
        except (TypeError, ValueError):
            raise ConfigError(f"events: an EventStream (lobkit.training.events) or a (times ns, types) pair, got "
                              f"{type(events).__name__}") from None
        t, k = np.asarray(t), np.asarray(k)
    if t.shape != k.shape or t.ndim != 1:
        raise ConfigError(f"events of {source}: times {t.shape} and types {k.shape} must be two 1-d arrays of one "
                          "length")
    if t.dtype.kind not in "iu" or k.dtype.kind not in "iu":
        raise ConfigError(f"events of {source}: times (ns) and types must be integers, got {t.dtype} and {k.dtype}")
    t = t.astype(np.int64) + int(offset_ns)
    keep = (t >= 0) & (t <= duration_ns)
    return np.ascontiguousarray(t[keep]), np.ascontiguousarray(k[keep].astype(np.int8))


def _side_columns(frame, side: str, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(prices, quantities) of one side of a snapshot chunk as (rows, levels) float64, NaN where absent."""
    import polars as pl

    out = []
    for col in (f"{side}_px", f"{side}_qty"):
        cols = [pl.col(col).list.get(k, null_on_oob=True).cast(pl.Float64).alias(str(k)) for k in range(levels)]
        a = frame.select(cols).to_numpy().astype(np.float64)
        out.append(np.where(np.isfinite(a), a, np.nan) if a.size else a.reshape(len(frame), levels))
    return out[0], out[1]


def _to_ticks(px: np.ndarray, tick: float, where: str, times_us: np.ndarray) -> np.ndarray:
    """Prices (float currency) as int64 ticks, exactly: ``round(price / tick)`` when it is on the grid (to 1e-6 of a
    tick); an :class:`InputFormatError` naming the snapshot otherwise. NaN -> -1."""
    x = px / tick
    r = np.round(x)
    real = np.isfinite(x)
    off = real & (np.abs(x - r) > 1e-6)
    if off.any():
        i, j = (int(v) for v in np.argwhere(off)[0]) if off.ndim == 2 else (int(np.flatnonzero(off)[0]), 0)
        price = px[i, j] if px.ndim == 2 else px[i]
        raise InputFormatError(where, None, f"snapshot at {int(times_us[i])} µs (epoch), level {j + 1}: price "
                                            f"{float(price)!r} is not on the tick grid of {tick!r} (give tick_size)")
    return np.where(real, r, EMPTY).astype(np.int64)


def _check_build_args(tick_size, levels, sample_ns) -> tuple[float, int, int | None]:
    if isinstance(tick_size, bool) or not isinstance(tick_size, int | float | np.number) \
            or not (math.isfinite(float(tick_size)) and float(tick_size) > 0):
        raise ConfigError(f"tick_size must be a finite number > 0 (currency per tick), got {tick_size!r}")
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or not 1 <= int(levels) <= MAX_LEVELS:
        raise ConfigError(f"levels must be an integer from 1 to {MAX_LEVELS:,}, got {levels!r}")
    if sample_ns is not None and (isinstance(sample_ns, bool) or not isinstance(sample_ns, int | np.integer)
                                  or int(sample_ns) < 1_000_000):
        raise ConfigError(f"sample_ns must be None (every snapshot) or an integer number of ns >= 1 ms, got "
                          f"{sample_ns!r}")
    return float(tick_size), int(levels), None if sample_ns is None else int(sample_ns)


def record_from_snapshots(spec, *, tick_size: float = 0.01, levels: int = 20, events=None,
                          events_start_ns: int | None = None, sample_ns: int | None = None,
                          chunk_size: int = 50_000, source: str | None = None) -> MarketRecord:
    """A :class:`MarketRecord` of a snapshot source, read with lobkit's own readers
    (:func:`lobkit.data.sources.open_source`: a SQLite file such as lob-btc.db, a LOBSTER zip, a TimescaleDB URL).

    ``tick_size``: currency per tick; prices become ticks exactly, ``round(price / tick_size)``, and a price off the
    grid is an :class:`InputFormatError`. ``levels``: L, the levels a side kept (fewer in the data: NaN).
    ``sample_ns``: None keeps every snapshot (right for sources polled at a steady rate, like lob-btc.db);
    an integer resamples on the grid ``0, sample_ns, 2 sample_ns, ...`` taking at each grid time the last snapshot
    at or before it (right for event-time rows such as LOBSTER's, where every row is one message: the statistics
    weight samples equally, so they must be equally spaced in time). Time 0 is the first valid snapshot; the window
    ends at the last one; of several snapshots at one time the last is kept. ``events``: None, an
    :class:`lobkit.training.events.EventStream` or a ``(times ns, types)`` pair, with times counted from
    ``events_start_ns`` (UTC epoch ns; default: the first snapshot's time); events outside the window are left out.
    ``source``: the description (default: the source's).
    """
    from lobkit.data.sources import open_source

    src = open_source(spec)
    rec, info = _read_snapshots(src, tick_size, levels, sample_ns, chunk_size, source)
    if events is None:
        return rec
    start = info["start_ns"] if events_start_ns is None else int(events_start_ns)
    ev_t, ev_k = _events_arrays(events, start - info["start_ns"], rec.duration_ns, rec.source)
    return dataclasses.replace(rec, event_t_ns=ev_t, event_type=ev_k)


def _read_snapshots(src, tick_size, levels, sample_ns, chunk_size, source) -> tuple[MarketRecord, dict]:
    """The record of an opened source without events, and ``{"start_ns": epoch ns of time 0,
    "first_two_sided_ns": time of the first snapshot with both sides, from the start}``."""
    tick, L, step = _check_build_args(tick_size, levels, sample_ns)
    desc = source or src.description
    first_two_sided = None
    ts_parts, bid_parts, ask_parts, bv_parts, av_parts = [], [], [], [], []
    start_us = None
    carry = None  # (t_ns, bid, ask, bv, av) of the last snapshot of the previous chunk (resampling)
    last_ns = 0
    next_grid = 0  # next grid time, ns from the start
    with src.snapshots(chunk_size=chunk_size) as stream:
        for frame in stream:
            if not frame.height:
                continue
            t_us = frame["ts"].dt.epoch("us").to_numpy().astype(np.int64)
            bp, bq = _side_columns(frame, "bid", L)
            ap, aq = _side_columns(frame, "ask", L)
            bid = _to_ticks(bp, tick, desc, t_us)[:, 0]  # every level checked on the grid; the best kept
            ask = _to_ticks(ap, tick, desc, t_us)[:, 0]
            bq = np.where(np.isnan(bp), np.nan, bq)
            aq = np.where(np.isnan(ap), np.nan, aq)
            if start_us is None:
                start_us = int(t_us[0])
            t_ns = (t_us - start_us) * 1000
            if first_two_sided is None:
                two = np.flatnonzero((bid != EMPTY) & (ask != EMPTY))
                first_two_sided = int(t_ns[two[0]]) if len(two) else None
            if step is not None:  # the last snapshot at or before each grid time
                if carry is not None:
                    t_ns, bid, ask, bq, aq = (np.concatenate([c, x]) for c, x in
                                              zip(carry, (t_ns, bid, ask, bq, aq), strict=True))
                carry = tuple(x[-1:] for x in (t_ns, bid, ask, bq, aq))
                grid = np.arange(next_grid, int(t_ns[-1]) + 1, step, dtype=np.int64)
                idx = np.searchsorted(t_ns, grid, side="right") - 1
                next_grid += step * len(grid)
                t_ns, bid, ask, bq, aq = grid, bid[idx], ask[idx], bq[idx], aq[idx]
            last_ns = int((int(frame["ts"].dt.epoch("us")[-1]) - start_us) * 1000)
            for lst, x in zip((ts_parts, bid_parts, ask_parts, bv_parts, av_parts), (t_ns, bid, ask, bq, aq),
                              strict=True):
                lst.append(x)
        rejected = stream.rejected_snapshots
    if start_us is None:
        raise InputFormatError(desc, None, "no valid snapshot")
    t_ns = np.concatenate(ts_parts).astype(np.int64)
    last = np.r_[t_ns[1:] != t_ns[:-1], True]  # snapshots at one time: the last one is the book at that time
    bid, ask, bv, av = (np.concatenate(x)[last] for x in (bid_parts, ask_parts, bv_parts, av_parts))
    duration = max(last_ns, int(t_ns[-1]), 1)
    if rejected:
        desc = f"{desc} ({rejected} invalid snapshots skipped)"
    rec = MarketRecord(desc, tick, t_ns[last], bid, ask, np.ascontiguousarray(bv), np.ascontiguousarray(av), None,
                       None, duration)
    return rec, {"start_ns": start_us * 1000, "first_two_sided_ns": first_two_sided}


def _capture_first_book(path: Path, max_lines: int = 200_000) -> tuple[int, float, float] | None:
    """``(epoch ms, best bid, best ask)`` of the first ``order_book`` line of a Bitstamp capture (the origin of
    :func:`lobkit.training.events.bitstamp_events`' times), or None when there is none near the top or the file is
    not a capture."""
    import json
    import lzma

    opener = lzma.open if path.suffix == ".xz" else open
    try:
        with opener(path, "rt") as fh:
            for n, line in enumerate(fh):
                if n >= max_lines:
                    return None
                parts = line.split(" ", 2)
                if len(parts) == 3 and parts[1] == "order_book":
                    doc = json.loads(parts[2])
                    return int(parts[0]), float(doc["bids"][0][0]), float(doc["asks"][0][0])
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, lzma.LZMAError):
        return None
    return None


def _capture_matches(path: Path, rec: MarketRecord, start_ns: int) -> int | None:
    """The capture's origin (epoch ns) when its first snapshot is one of the record's: within the record's window
    and with the best bid and ask of the record's sample at that time; else None."""
    first = _capture_first_book(path)
    if first is None:
        return None
    ms, b, a = first
    t = ms * 1_000_000 - start_ns
    if not -NS <= t <= rec.duration_ns:
        return None
    i = max(int(np.searchsorted(rec.t_ns, t, side="right")) - 1, 0)
    tick = rec.tick_size
    if int(rec.bid[i]) != round(b / tick) or int(rec.ask[i]) != round(a / tick):
        return None
    return ms * 1_000_000


def find_capture(spec, record: MarketRecord, start_ns: int) -> tuple[Path, int] | None:
    """The Bitstamp websocket capture (``bitstamp*.log.xz`` / ``bitstamp*.log``) that ``record`` (read from
    ``spec``, its time 0 at epoch ``start_ns``) was recorded from: beside ``spec`` or in the shared data directory
    (:func:`lobkit.paths.shared_data_dir`), whose first snapshot is one of the record's (same time, to a second,
    and same best bid and ask). Returns ``(path, its origin in UTC epoch ns)``, or None."""
    from lobkit.paths import shared_data_dir

    dirs = []
    if isinstance(spec, str | Path) and "://" not in str(spec):
        p = Path(str(spec).split(":", 1)[1] if str(spec).startswith("sqlite:") else str(spec))
        dirs.append(p.parent)
    dirs.append(shared_data_dir())
    seen = set()
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("bitstamp*.log*")):
            key = path.resolve()
            if key in seen or not path.is_file():
                continue
            seen.add(key)
            origin = _capture_matches(path, record, start_ns)
            if origin is not None:
                return path, origin
    return None


EVENT_SOURCES = ("auto", "lobster", "bitstamp", "snapshots", "none")


def real_record(spec, *, tick_size: float = 0.01, levels: int = 20, events: str | None = "auto",
                capture=None, sample_ns="auto", chunk_size: int = 50_000) -> MarketRecord:
    """The record of real data, with its order events picked automatically (``events="auto"``):

    * a LOBSTER zip: its messages (:func:`lobkit.training.events.lobster_events`), and the book rows resampled on a
      1 s grid (LOBSTER has one row per message; ``sample_ns`` overrides);
    * another snapshot source (lob-btc.db): the Bitstamp capture it was recorded from
      (:func:`lobkit.training.events.bitstamp_events`) when one is beside it or in the shared data directory and
      its first snapshot is one of the record's (:func:`find_capture`; ``capture`` names one explicitly);
    * else events inferred from consecutive snapshots (:func:`lobkit.training.events.snapshot_events`; their
      times are spread evenly between snapshots, so their inter-event times say little).

    ``events`` may also name the choice (``"lobster"``, ``"bitstamp"``, ``"snapshots"``) or be ``"none"`` / None.
    The record's ``source`` says which events were used. Times of the events are placed on the record's clock
    from their own origin (LOBSTER's first message, the capture's first snapshot, the first two-sided snapshot).
    Raises :class:`ConfigError` for an unknown choice or a capture that does not cover the record,
    :class:`InputFormatError` for bad data.
    """
    from lobkit.data.lobster import LobsterSource
    from lobkit.data.sources import open_source
    from lobkit.training.events import bitstamp_events, lobster_events, snapshot_events

    choice = "none" if events is None else events
    if choice not in EVENT_SOURCES:
        raise ConfigError(f"events: one of {', '.join(EVENT_SOURCES)}, got {events!r}")
    src = open_source(spec)
    is_lobster = isinstance(src, LobsterSource)
    if isinstance(sample_ns, str):
        if sample_ns != "auto":
            raise ConfigError(f"sample_ns: 'auto', None or an integer number of ns, got {sample_ns!r}")
        sample_ns = NS if is_lobster else None
    rec, info = _read_snapshots(src, tick_size, levels, sample_ns, chunk_size, None)
    start, dur = info["start_ns"], rec.duration_ns
    found = None
    if choice == "auto":
        if is_lobster:
            choice = "lobster"
        else:
            found = find_capture(spec, rec, start) if capture is None else None
            choice = "bitstamp" if (found or capture is not None) else "snapshots"
    if choice == "none":
        return dataclasses.replace(rec, source=f"{rec.source}; events: none")
    if choice == "lobster":
        if not is_lobster:
            raise ConfigError(f"events lobster: {src.description} is not a LOBSTER file")
        lf = src.file()
        origin = lf.midnight_utc_ns(src.tz) + int(lf.time_ns[0])
        stream, what = lobster_events(src.location), "LOBSTER messages"
    elif choice == "bitstamp":
        if capture is not None:
            path = Path(capture)
            if not path.is_file():
                raise InputFormatError(path, None, "no such file")
            origin = _capture_matches(path, rec, start)
            if origin is None:
                raise ConfigError(f"capture: {path.name} is not a Bitstamp capture whose first snapshot is one of "
                                  f"{rec.source}'s (same time and best prices)")
            found = (path, origin)
        elif found is None:
            found = find_capture(spec, rec, start)
            if found is None:
                raise ConfigError(f"events bitstamp: no Bitstamp capture covering {rec.source} beside it or in the "
                                  "shared data directory (give capture=PATH)")
        stream, origin = bitstamp_events(found[0]), found[1]
        what = f"Bitstamp capture {found[0].name}"
    else:
        if info["first_two_sided_ns"] is None:
            raise InputFormatError(rec.source, None, "no two-sided snapshot: no events can be inferred")
        stream = snapshot_events(src.location, levels=levels, tick_size=tick_size)
        origin = start + info["first_two_sided_ns"]
        what = "inferred from the snapshots (times spread evenly between snapshots)"
    ev_t, ev_k = _events_arrays(stream, origin - start, dur, rec.source)
    return dataclasses.replace(rec, source=f"{rec.source}; events: {what}", event_t_ns=ev_t, event_type=ev_k)


# ------------------------------------------------------------------------------------------------- simulation
def simulated_record(cfg, seed, *, levels: int = 20, sample_ns: int = NS) -> MarketRecord:
    """One simulation of ``cfg`` (a :class:`lobkit.sim.config.RunConfig`) as a record.

    The run (:class:`lobkit.sim.simulation.Simulation` with ``seed``) is driven in chunks of ``sample_ns``: after
    ``advance(t)`` for ``t = warmup, warmup + sample_ns, ...`` up to the end, the book (every event strictly before
    ``t``) is read with :func:`lobkit.engine.nb.top_levels` (``levels`` a side; volumes in lots). Chunked runs are
    the same run as one call (:mod:`lobkit.sim.nb`), so the chunking changes nothing. Times count from the end of
    the warm-up; the window is ``duration - warmup``.

    Events: the background order flow's (owners after the agents'), from the run's order log (the run is made with
    ``record=True``; recording changes nothing else): accepted limit orders, market orders and cancellations after
    the warm-up, typed by operation and side; the initial book's orders (logged at time 0) and the strategic
    agents' own orders are left out. Raises :class:`ConfigError` for a bad configuration, seed or argument.
    """
    from lobkit.engine import nb as eng
    from lobkit.engine.messages import BUY, OK, OP_CANCEL, OP_LIMIT, OP_MARKET, SELL
    from lobkit.seeds import label
    from lobkit.sim import nb as snb
    from lobkit.sim.config import RunConfig, format_duration
    from lobkit.sim.simulation import Simulation

    if not isinstance(cfg, RunConfig):
        raise ConfigError(f"cfg: expected a lobkit.sim.config.RunConfig, got {type(cfg).__name__}")
    _, L, step = _check_build_args(cfg.market.tick_size, levels, sample_ns)
    if step is None:
        raise ConfigError("sample_ns: an integer number of ns >= 1 ms, got None")
    run_cfg = cfg if cfg.record else dataclasses.replace(cfg, record=True)
    sim = Simulation(run_cfg, seed)
    n_initial = int(sim.state.scalars[snb.S_N_LOGGED_ORDERS])  # the initial book's orders, logged at time 0
    m = run_cfg.market
    warm, end = m.warmup_ns, m.duration_ns
    times = np.arange(warm, end + 1, step, dtype=np.int64)
    n = len(times)
    bid, ask = np.full(n, EMPTY, np.int64), np.full(n, EMPTY, np.int64)
    bv, av = np.full((n, L), np.nan), np.full((n, L), np.nan)
    px, vol, cnt = np.zeros(L, np.int64), np.zeros(L, np.int64), np.zeros(L, np.int64)
    for i, t in enumerate(times):
        sim.advance(int(t))
        for side, best, out in ((0, bid, bv), (1, ask, av)):
            k = int(eng.top_levels(sim.book, side, L, px, vol, cnt))
            if k:
                best[i] = px[0]
                out[i, :k] = vol[:k]
    sim.flush_logs()
    log = sim.order_log[n_initial:]
    op, sd, ts = log[:, snb.LOG_OP], log[:, snb.LOG_SIDE], log[:, snb.LOG_TS]
    keep = (log[:, snb.LOG_OWNER] >= len(sim.agents)) & (log[:, snb.LOG_STATUS] == OK) & (ts >= warm) & (ts <= end)
    code = np.full(len(log), -1, np.int64)
    for o, base in ((OP_LIMIT, 0), (OP_MARKET, 2), (OP_CANCEL, 4)):
        code[(op == o) & (sd == BUY)] = base
        code[(op == o) & (sd == SELL)] = base + 1
    keep &= code >= 0
    ev_t = np.ascontiguousarray(ts[keep] - warm)
    order = np.argsort(ev_t, kind="stable")  # already in time order; kept stable for equal times
    desc = (f"simulation (flow {cfg.flow.spec}, agent {cfg.agent.name}, seed {label(sim.ss)}, "
            f"{format_duration(end - warm)} after a {format_duration(warm)} warm-up)")
    return MarketRecord(desc, float(m.tick_size), times - warm, bid, ask, bv, av, ev_t[order],
                        code[keep][order].astype(np.int8), int(end - warm))


def simulated_records(cfg, seed, runs: int, *, duration_ns: int | None = None, levels: int = 20,
                      sample_ns: int = NS) -> list[MarketRecord]:
    """``runs`` simulations of ``cfg`` (:func:`simulated_record`), run ``i`` seeded with child ``i`` of ``seed``
    (:func:`lobkit.seeds.child`). ``duration_ns``: the window after the warm-up of each run (e.g. the real record's
    ``duration_ns``, to simulate as many hours as the real data covers); None keeps ``cfg``'s duration."""
    from lobkit.seeds import child, seed_sequence
    from lobkit.sim.config import RunConfig

    if not isinstance(cfg, RunConfig):
        raise ConfigError(f"cfg: expected a lobkit.sim.config.RunConfig, got {type(cfg).__name__}")
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or not 1 <= int(runs) <= 10_000:
        raise ConfigError(f"runs must be an integer from 1 to 10,000, got {runs!r}")
    if duration_ns is not None:
        if isinstance(duration_ns, bool) or not isinstance(duration_ns, int | np.integer) or int(duration_ns) <= 0:
            raise ConfigError(f"duration_ns must be an integer > 0, got {duration_ns!r}")
        market = dataclasses.replace(cfg.market, duration_ns=cfg.market.warmup_ns + int(duration_ns))
        cfg = dataclasses.replace(cfg, market=market)
    ss = seed_sequence(seed)
    return [simulated_record(cfg, child(ss, i), levels=levels, sample_ns=sample_ns) for i in range(int(runs))]
