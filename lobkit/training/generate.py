"""Generated books as a Polars frame (what ``lobkit generate`` writes)."""

from __future__ import annotations

import numpy as np
import polars as pl


def books_frame(books, two_sided: np.ndarray, tick_size: float) -> pl.DataFrame:
    """The two-sided ``books`` (:class:`~lobkit.data.stream.BookArrays`) as one row each: ``book`` (its index among
    those generated), ``mid``, and ``bid_px``/``bid_qty``/``ask_px``/``ask_qty`` (lists, best first; the layout of
    the data layer's snapshot chunks, without ``ts``)."""
    keep = np.flatnonzero(two_sided)
    mid_t = np.round(np.asarray(books.mid)[keep] / tick_size * 2.0) / 2.0
    bid_p = (books.bid_ticks[keep] + np.ceil(mid_t)[:, None]) * tick_size
    ask_p = (books.ask_ticks[keep] + np.floor(mid_t)[:, None]) * tick_size

    def lists(values: np.ndarray, counts: np.ndarray) -> pl.Series:
        j = np.arange(values.shape[1])[None, :]
        flat = values[j < counts[:, None]]
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return pl.Series([flat[offsets[i]:offsets[i + 1]].tolist() for i in range(len(counts))],
                         dtype=pl.List(pl.Float64))

    nb, na = books.n_bids[keep], books.n_asks[keep]
    return pl.DataFrame({
        "book": keep.astype(np.int64),
        "mid": mid_t * tick_size,
        "bid_px": lists(bid_p, nb), "bid_qty": lists(books.bid_vol[keep], nb),
        "ask_px": lists(ask_p, na), "ask_qty": lists(books.ask_vol[keep], na),
    })


def initial_book_from_generator(path, seed, *, mid: float, tick_size: float, lot_size: float, window: int,
                                tries: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A simulator's initial book drawn from a trained WGAN generator (``--initial-book wgan:generator.pth``):
    ``(side, price, size, mid_ticks)``, one background order per generated level (side BUY = 1 / SELL = -1; price
    int64 ticks; size int64 lots, ``volume / lot_size`` rounded, at least 1), anchored at ``mid`` (currency).

    ``seed``: a SeedSequence (the run's book seed); the first two-sided book of ``tries`` drawn is used. The
    generator's tick size must be the market's (its books are in its own ticks). Raises
    :class:`~lobkit.errors.ConfigError` (another tick size, no two-sided book, a book wider than half the window)
    or :class:`~lobkit.errors.InputFormatError` (not a generator file)."""
    from lobkit.errors import ConfigError
    from lobkit.training.checkpoint import cached
    from lobkit.training.wgan_training import load_generator

    model = cached(path, load_generator, "no such generator file (train one with `lobkit train-wgan`)")
    if not np.isclose(model.config.tick_size, tick_size, rtol=1e-9):
        raise ConfigError(f"tick_size: the generator {path} draws books in ticks of {model.config.tick_size:g}, the "
                          f"market's tick is {tick_size:g} (--tick-size {model.config.tick_size:g})")
    books, two_sided = model.generate(tries, seed, mid=mid)
    ok = np.flatnonzero(two_sided)
    if not len(ok):
        raise ConfigError(f"initial_book: the generator {path} drew no two-sided book in {tries} tries")
    i = int(ok[0])
    mid_t = round(float(books.mid[i]) / tick_size * 2.0) / 2.0
    nb, na = int(books.n_bids[i]), int(books.n_asks[i])
    bid_p = books.bid_ticks[i, :nb] + int(np.ceil(mid_t))
    ask_p = books.ask_ticks[i, :na] + int(np.floor(mid_t))
    price = np.concatenate([bid_p, ask_p]).astype(np.int64)
    side = np.concatenate([np.ones(nb, np.int64), -np.ones(na, np.int64)])
    vol = np.concatenate([books.bid_vol[i, :nb], books.ask_vol[i, :na]])
    size = np.clip(np.rint(vol / lot_size), 1, 1 << 40).astype(np.int64)
    span = int(price.max() - price.min())
    if span > window // 2:
        raise ConfigError(f"window: the generated book spans {span:,} ticks; use a window of at least {2 * span:,} "
                          f"(--set window={2 * span})")
    return side, price, size, int(bid_p[0] + ask_p[0]) // 2
