"""Order books as fixed-size images and back: what the WGAN (:mod:`lobkit.training.wgan`) learns and generates.

A snapshot (a row of :class:`lobkit.data.stream.BookArrays`) becomes its mid price, its scale (its largest level
volume) and an image of shape ``(2, rows, 1)`` (float32): one row per price bucket at a fixed offset from the
mid, bids in the lower half and asks in the upper half, nearest the mid in the middle.

* The anchor is ``a = floor(mid)`` in ticks. Every bid price is at most ``a`` and every ask at least ``a + 1``, so
  bid row ``rows/2 - 1 - floor((a - p) / w)`` and ask row ``rows/2 + floor((p - a - 1) / w)`` (``w`` =
  ``bucket_ticks``) put the sides in their halves whatever the spread, with the touch next to the middle.
* Channel 0 is proximity: ``exp(-d / proximity_buckets)``, where ``d`` is the distance in buckets from the bucket
  to the nearest bucket holding a level (1 at a level, decaying away from it). Channel 1 is the volume of that
  nearest level relative to the snapshot's largest, on a log scale: ``1 + log(v / vmax) / log_range`` (1 for the
  largest, ``0`` for ``v <= vmax * exp(-log_range)``); the volumes of levels sharing a bucket are summed. Both
  channels are dense and smooth, which a convolutional generator draws far better than a sparse 0/1 occupancy with
  zeros between levels (docs/training.md).

Back (:meth:`BookImageTransform.to_books`): a bucket is a level where the proximity is above ``exp(-1 / (2 *
proximity_buckets))`` (nearer than half a bucket to a level); its price is the bucket's price nearest the mid
(exact when ``w == 1``), its volume ``vmax * exp((x - 1) * log_range)``. The mid (an anchor) and the scale come
from the caller: given, or drawn from their empirical distributions (the transform keeps the training set's). The
book's own mid is then ``(best bid + best ask) / 2`` of what was generated.

What the round trip loses (measured by ``tests/data/test_images.py`` on the real BTC snapshots): levels farther
than ``rows/2 * w`` ticks from the mid; with ``w > 1`` the exact price inside a bucket and the count of levels that
share one (their volumes add); volumes below ``vmax * exp(-log_range)``, which become that floor; and the float
rounding of the log scale (a relative error below 1e-6).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.stream import BookArrays
from lobkit.validate import check_field

PROXIMITY = 0
VOLUME = 1
CHANNELS = 2


@dataclass(frozen=True)
class BookImageTransform:
    """How snapshots become images: ``rows`` price buckets (even, 16 to 4096) of ``bucket_ticks`` ticks each
    (1 to 1000), a tick of ``tick_size`` currency, volumes on a log scale spanning ``log_range`` (e-folds, 1 to
    50) below the snapshot's largest. Defaults: 256 one-tick buckets (128 ticks either side of the mid) and 20
    e-folds (down to 2e-9 of the largest: the smallest BTC order of lob-btc.db is 1.4e-8 of its book's largest);
    the proximity channel decays over ``proximity_buckets`` buckets (0.1 to 100)."""

    rows: int = 256
    bucket_ticks: int = 1
    tick_size: float = 0.01
    log_range: float = 20.0  # e-folds: volumes down to 2e-9 of the largest
    proximity_buckets: float = 2.0  # decay length of the proximity channel (buckets)

    def __post_init__(self):
        check_field(self, "rows", "int", lo=16, hi=4096)
        if self.rows % 2:
            raise ConfigError(f"rows: must be even (bids below the mid, asks above), got {self.rows}")
        check_field(self, "bucket_ticks", "int", lo=1, hi=1000, unit="ticks")
        check_field(self, "tick_size", "number", lo=0.0, lo_open=True)
        check_field(self, "log_range", "number", lo=1.0, hi=50.0)
        check_field(self, "proximity_buckets", "number", lo=0.1, hi=100.0, unit="buckets")

    @property
    def half(self) -> int:
        return self.rows // 2

    @property
    def span_ticks(self) -> int:
        """How far from the mid (ticks) the image reaches on each side."""
        return self.half * self.bucket_ticks

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # ---------------------------------------------------------------------------------------------- book -> image
    def to_images(self, books: BookArrays, source: str = "books", strict: bool = True) -> Images:
        """The images of ``books`` (vectorised: no loop over snapshots or levels).

        A snapshot that cannot become an image (an empty side, a non-finite mid, a volume that is not a positive
        number, no level inside the image on one side) raises :class:`InputFormatError` naming ``source`` and the
        snapshot when ``strict``; otherwise it is left out and counted (``Images.skipped``, ``Images.kept``).
        """
        n = len(books.mid)
        if n == 0:
            raise InputFormatError(source, None, "no snapshots")
        mid_t = np.asarray(books.mid, np.float64) / self.tick_size
        L = books.bid_ticks.shape[1]
        real_b = np.arange(L)[None, :] < books.n_bids[:, None]
        real_a = np.arange(L)[None, :] < books.n_asks[:, None]
        reasons: dict[str, np.ndarray] = {
            "an empty side": (books.n_bids < 1) | (books.n_asks < 1) | ~np.isfinite(mid_t),
            "a volume that is not a positive number": (
                (real_b & ~(np.isfinite(books.bid_vol) & (books.bid_vol > 0))).any(axis=1)
                | (real_a & ~(np.isfinite(books.ask_vol) & (books.ask_vol > 0))).any(axis=1)),
        }
        ok_mid = np.where(np.isfinite(mid_t), mid_t, 0.0)
        mid_t = np.round(ok_mid * 2.0) / 2.0  # exact half ticks (float noise of price / tick)
        anchor = np.floor(mid_t).astype(np.int64)
        # absolute prices from the offsets, which the data layer rounds away from the mid
        bid_p = books.bid_ticks + np.ceil(mid_t).astype(np.int64)[:, None]
        ask_p = books.ask_ticks + anchor[:, None]
        w, h = self.bucket_ticks, self.half
        bid_row = h - 1 - (anchor[:, None] - bid_p) // w
        ask_row = h + (ask_p - anchor[:, None] - 1) // w
        in_b = real_b & (bid_row >= 0)
        in_a = real_a & (ask_row < self.rows)
        reasons[f"no level within {self.span_ticks} ticks of the mid on one side"] = (
            ~in_b.any(axis=1) | ~in_a.any(axis=1))
        bad = np.zeros(n, bool)
        for why, mask in reasons.items():
            new = mask & ~bad
            if strict and new.any():
                i = int(np.flatnonzero(new)[0])
                raise InputFormatError(source, None, f"snapshot {i}: cannot become an image: {why}")
            bad |= mask
        keep = ~bad
        if not keep.any():
            raise InputFormatError(source, None, f"none of the {n} snapshots can become an image (the first: "
                                                 f"{next(w_ for w_, m in reasons.items() if m[0])})")
        idx = np.flatnonzero(keep)
        m = len(idx)
        in_b, in_a = in_b[idx], in_a[idx]
        bid_row, ask_row = bid_row[idx], ask_row[idx]
        vol = np.zeros((m, self.rows), np.float64)
        rows_i = np.repeat(np.arange(m), L)
        np.add.at(vol, (rows_i[in_b.ravel()], bid_row.ravel()[in_b.ravel()]), books.bid_vol[idx].ravel()[in_b.ravel()])
        np.add.at(vol, (rows_i[in_a.ravel()], ask_row.ravel()[in_a.ravel()]), books.ask_vol[idx].ravel()[in_a.ravel()])
        scale = vol.max(axis=1)
        occ = vol > 0
        with np.errstate(divide="ignore"):
            x = 1.0 + np.log(np.where(occ, vol / scale[:, None], 1.0)) / self.log_range
        x = np.where(occ, np.clip(x, 0.0, 1.0), 0.0)
        dist, nearest = _nearest_level(occ)
        proximity = np.exp(-dist / self.proximity_buckets)
        img = np.stack([proximity.astype(np.float32),
                        np.take_along_axis(x, nearest, axis=1).astype(np.float32)], axis=1)[..., None]
        spread = (ask_p[idx, 0] - bid_p[idx, 0]).astype(np.int64)
        dropped = int((real_b[idx].sum() + real_a[idx].sum()) - (in_b.sum() + in_a.sum()))
        skipped = {why: int(mask.sum()) for why, mask in reasons.items() if mask.any()}
        return Images(images=img, mid_ticks=mid_t[idx], scale=scale, spread_ticks=spread, levels_dropped=dropped,
                      kept=idx, skipped=skipped)

    # ---------------------------------------------------------------------------------------------- image -> book
    @property
    def level_threshold(self) -> float:
        """The proximity above which a bucket holds a level: nearer than half a bucket to one."""
        return float(np.exp(-0.5 / self.proximity_buckets))

    def to_books(self, images: np.ndarray, mid_ticks: np.ndarray, scale: np.ndarray,
                 levels: int = 20) -> tuple[BookArrays, np.ndarray]:
        """Books of ``images`` (``(n, 2, rows, 1)``) anchored at ``mid_ticks`` (``(n,)``, ticks, the anchor is its
        floor) with largest volume ``scale`` (``(n,)``): the :class:`BookArrays` of the data layer (``levels`` a
        side, best first) and a boolean ``(n,)`` array of the books with both sides (the others have an empty side
        and a NaN mid)."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[1:] != (CHANNELS, self.rows, 1):
            raise ConfigError(f"images: expected shape (n, {CHANNELS}, {self.rows}, 1), got {images.shape}")
        n = images.shape[0]
        anchor = np.floor(np.asarray(mid_ticks, np.float64)).astype(np.int64)
        occ = images[:, PROXIMITY, :, 0] > self.level_threshold
        vol = np.asarray(scale, np.float64)[:, None] * np.exp(
            (np.clip(images[:, VOLUME, :, 0], 0.0, 1.0).astype(np.float64) - 1.0) * self.log_range)
        w, h = self.bucket_ticks, self.half
        # bids: rows h-1, h-2, ... (best first); asks: rows h, h+1, ...
        b_rows = np.arange(h - 1, -1, -1)
        a_rows = np.arange(h, self.rows)
        b_occ, a_occ = occ[:, b_rows], occ[:, a_rows]
        b_price = anchor[:, None] - (h - 1 - b_rows)[None, :] * w
        a_price = anchor[:, None] + 1 + (a_rows - h)[None, :] * w
        bp, bv, nb = _first_levels(b_occ, b_price, vol[:, b_rows], levels)
        ap, av, na = _first_levels(a_occ, a_price, vol[:, a_rows], levels)
        two = (nb > 0) & (na > 0)
        mid_t = np.where(two, (bp[:, 0] + ap[:, 0]) / 2.0, np.nan)
        with np.errstate(invalid="ignore"):
            bid_off = np.where(np.arange(levels)[None, :] < nb[:, None], bp - np.ceil(mid_t)[:, None], 0)
            ask_off = np.where(np.arange(levels)[None, :] < na[:, None], ap - np.floor(mid_t)[:, None], 0)
        bid_off = np.nan_to_num(bid_off).astype(np.int64)
        ask_off = np.nan_to_num(ask_off).astype(np.int64)
        books = BookArrays(ts=np.zeros(n, np.int64), mid=mid_t * self.tick_size, bid_ticks=bid_off,
                           ask_ticks=ask_off, bid_vol=bv, ask_vol=av, n_bids=nb, n_asks=na)
        return books, two


def _nearest_level(occ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each bucket of ``occ`` (``(n, rows)`` bool, at least one True a row): the distance in buckets to the
    nearest occupied one and its index (the lower one on a tie). Vectorised running maxima and minima."""
    n, rows = occ.shape
    at = np.broadcast_to(np.arange(rows), occ.shape)
    below = np.maximum.accumulate(np.where(occ, at, -(10 ** 9)), axis=1)
    above = np.minimum.accumulate(np.where(occ, at, 10 ** 9)[:, ::-1], axis=1)[:, ::-1]
    d_below, d_above = at - below, above - at
    take_below = d_below <= d_above
    return (np.where(take_below, d_below, d_above).astype(np.float64),
            np.clip(np.where(take_below, below, above), 0, rows - 1))


def _first_levels(occ: np.ndarray, price: np.ndarray, vol: np.ndarray, levels: int):
    """The first ``levels`` occupied buckets of each row (in the given order: best first), left-aligned."""
    n = occ.shape[0]
    order = np.argsort(~occ, axis=1, kind="stable")[:, :levels]  # occupied first, keeping the price order
    taken = np.take_along_axis(occ, order, axis=1)
    p = np.where(taken, np.take_along_axis(price, order, axis=1), 0)
    v = np.where(taken, np.take_along_axis(vol, order, axis=1), 0.0)
    if p.shape[1] < levels:  # fewer buckets than levels asked for
        pad = levels - p.shape[1]
        p = np.pad(p, ((0, 0), (0, pad)))
        v = np.pad(v, ((0, 0), (0, pad)))
        taken = np.pad(taken, ((0, 0), (0, pad)))
    return p.astype(np.int64), v, taken.sum(axis=1).astype(np.int64).reshape(n)


@dataclass(frozen=True)
class Images:
    """Snapshots as images: ``images`` float32 ``(n, 2, rows, 1)``; ``mid_ticks`` float64 ``(n,)`` (half ticks);
    ``scale`` float64 ``(n,)`` (the largest bucket volume, quantity units); ``spread_ticks`` int64 ``(n,)``;
    ``levels_dropped``: levels outside the image (farther than its span from the mid); ``kept``: the indices of
    the input snapshots these are; ``skipped``: the snapshots left out, by reason."""

    images: np.ndarray
    mid_ticks: np.ndarray
    scale: np.ndarray
    spread_ticks: np.ndarray
    levels_dropped: int = 0
    kept: np.ndarray | None = None  # indices of the snapshots that became images
    skipped: dict = dataclasses.field(default_factory=dict)  # reason -> snapshots left out

    def __len__(self) -> int:
        return len(self.mid_ticks)

    def take(self, idx: np.ndarray) -> Images:
        return Images(self.images[idx], self.mid_ticks[idx], self.scale[idx], self.spread_ticks[idx])

    def fingerprint(self) -> str:
        """sha256 of the images, mids and scales: what a checkpoint records of its training data."""
        h = hashlib.sha256()
        for a in (self.images, self.mid_ticks, self.scale):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def empirical_draw(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws with replacement from ``values`` (the empirical distribution)."""
    values = np.asarray(values)
    if len(values) == 0:
        raise ConfigError("no values to draw from")
    return values[rng.integers(0, len(values), n)]
