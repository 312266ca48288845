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
