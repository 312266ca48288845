"""Books as images and back (lobkit.data.images): exact round trips, what the transform loses, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lobkit.data.errors import ConfigError, InputFormatError
from lobkit.data.images import BookImageTransform, empirical_draw
from lobkit.data.stream import BookArrays

from .conftest import require_data


def _books(bid_px, bid_q, ask_px, ask_q, levels=None):
    """BookArrays from absolute prices in ticks (lists of lists, best first), tick 1 (so mid is in ticks)."""
    n = len(bid_px)
    L = levels or max(max(map(len, bid_px)), max(map(len, ask_px)), 1)
    bt, at = np.zeros((n, L), np.int64), np.zeros((n, L), np.int64)
    bv, av = np.zeros((n, L)), np.zeros((n, L))
    nb = np.array([len(b) for b in bid_px], np.int64)
    na = np.array([len(a) for a in ask_px], np.int64)
    mid = np.full(n, np.nan)
    for i in range(n):
        if nb[i] and na[i]:
            mid[i] = (bid_px[i][0] + ask_px[i][0]) / 2
        for j, (p, q) in enumerate(zip(bid_px[i], bid_q[i], strict=True)):
            bt[i, j], bv[i, j] = (np.floor(p - mid[i]) if na[i] else 0), q
        for j, (p, q) in enumerate(zip(ask_px[i], ask_q[i], strict=True)):
            at[i, j], av[i, j] = (np.ceil(p - mid[i]) if nb[i] else 0), q
    return BookArrays(np.zeros(n, np.int64), mid, bt, at, bv, av, nb, na)


def _absolute(books: BookArrays, i: int, tick: float = 1.0):
    m = round(books.mid[i] / tick * 2) / 2
    bids = [(int(books.bid_ticks[i, j] + np.ceil(m)), books.bid_vol[i, j]) for j in range(books.n_bids[i])]
    asks = [(int(books.ask_ticks[i, j] + np.floor(m)), books.ask_vol[i, j]) for j in range(books.n_asks[i])]
    return bids, asks


# ------------------------------------------------------------------------------------------ the layout, by hand
@pytest.mark.parametrize("bid, ask, bid_row, ask_row", [
    (100, 101, 7, 8),     # one-tick spread: mid 100.5, anchor 100, the touch next to the middle
    (100, 102, 6, 8),     # mid 101 on a tick: anchor 101 (row 7 would be the mid's own price, never a bid)
    (99, 104, 5, 10),     # five ticks: mid 101.5, anchor 101: bid 2 below it, ask 3 above
])
def test_rows_of_the_touch(bid, ask, bid_row, ask_row):
    t = BookImageTransform(rows=16, tick_size=1.0)
    img = t.to_images(_books([[bid]], [[2.0]], [[ask]], [[1.0]])).images
    occupied = np.flatnonzero(img[0, 0, :, 0] == 1.0)
    assert occupied.tolist() == [bid_row, ask_row]
    # proximity decays with the distance in buckets to the nearest level; the volume channel is that level's
    d = np.minimum(np.abs(np.arange(16) - bid_row), np.abs(np.arange(16) - ask_row))
    np.testing.assert_allclose(img[0, 0, :, 0], np.exp(-d / t.proximity_buckets), rtol=1e-6)
    nearest_is_bid = np.abs(np.arange(16) - bid_row) <= np.abs(np.arange(16) - ask_row)
    np.testing.assert_array_equal(img[0, 1, :, 0], np.where(nearest_is_bid, img[0, 1, bid_row, 0],
                                                            img[0, 1, ask_row, 0]))
    # the largest volume is 1 on the log scale; half of it is 1 + log(1/2) / log_range
    assert img[0, 1, bid_row, 0] == 1.0
    assert img[0, 1, ask_row, 0] == pytest.approx(1 + np.log(0.5) / t.log_range)


def test_buckets_sum_the_levels_they_share():
    t = BookImageTransform(rows=16, bucket_ticks=2, tick_size=1.0)
    im = t.to_images(_books([[100, 99, 98]], [[1.0, 2.0, 4.0]], [[101, 102]], [[3.0, 5.0]]))
    # anchor 100: bids 100 and 99 share the first bid bucket (1 + 2), 98 is alone; asks 101, 102 share one
    vol = np.exp((im.images[0, 1, :, 0] - 1) * t.log_range) * im.scale[0] * (im.images[0, 0, :, 0] == 1)
    assert vol[7] == pytest.approx(3.0) and vol[6] == pytest.approx(4.0) and vol[8] == pytest.approx(8.0)
    assert im.scale[0] == 8.0


# ------------------------------------------------------------------------------------------ round trips
def test_round_trip_is_exact_on_the_real_snapshots():
    """lob-btc.db (Bitstamp BTC/USD, 5,011 snapshots x 20 levels): with one-tick buckets every level within the
    image's span comes back at its price, with its volume to float32 rounding of the log scale."""
    from lobkit.training.data import load_books

    books, _, _ = load_books(str(require_data("lob-btc.db")), levels=20, tick_size=0.01)
    t = BookImageTransform()
    im = t.to_images(books)
    assert len(im) == len(books.mid) and not im.skipped
    back, two = t.to_books(im.images, im.mid_ticks, im.scale, levels=20)
    assert two.all()
    assert np.isfinite(back.mid).all()
    np.testing.assert_allclose(back.mid, books.mid[im.kept], rtol=0, atol=1e-9)
    mid_t = np.round(books.mid / 0.01 * 2) / 2
    anchor = np.floor(mid_t)[:, None]  # bids at most the anchor, asks above it; h rows each
    inside_b = anchor - (books.bid_ticks + np.ceil(mid_t)[:, None]) <= t.half - 1
    inside_a = (books.ask_ticks + np.floor(mid_t)[:, None]) - anchor <= t.half
    real_b = np.arange(20)[None, :] < books.n_bids[:, None]
    real_a = np.arange(20)[None, :] < books.n_asks[:, None]
    kb, ka = (inside_b & real_b).sum(1), (inside_a & real_a).sum(1)
    np.testing.assert_array_equal(back.n_bids, kb)
    np.testing.assert_array_equal(back.n_asks, ka)
    # levels are sorted best first and the kept ones are a prefix: compare the prefix
    j = np.arange(20)[None, :]
    mb, ma = j < kb[:, None], j < ka[:, None]
    np.testing.assert_array_equal(back.bid_ticks[mb], books.bid_ticks[mb])
    np.testing.assert_array_equal(back.ask_ticks[ma], books.ask_ticks[ma])
    floor = np.exp(-t.log_range) * im.scale
    for got, want, m in ((back.bid_vol, books.bid_vol, mb), (back.ask_vol, books.ask_vol, ma)):
        above = m & (want >= floor[:, None])
        np.testing.assert_allclose(got[above], want[above], rtol=2e-5)  # float32 log scale x 20 e-folds
        assert np.all(got[m & ~above] == pytest.approx(np.broadcast_to(floor[:, None], got.shape)[m & ~above]))
    # what is lost, counted: levels beyond the span (the 20th level can be 140 ticks out)
    assert im.levels_dropped == int((real_b & ~inside_b).sum() + (real_a & ~inside_a).sum())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_round_trip_property(data):
    """Random books of distinct prices within the span: every level and volume comes back (one-tick buckets)."""
    rows = data.draw(st.sampled_from([16, 32, 64]))
    t = BookImageTransform(rows=rows, tick_size=1.0)
    best_bid = data.draw(st.integers(1000, 2000))
    spread = data.draw(st.integers(1, rows // 2))
    half = rows // 2
    anchor = (2 * best_bid + spread) // 2
    bids = sorted(data.draw(st.sets(st.integers(anchor - half + 1, best_bid - 1), max_size=6)) | {best_bid},
                  reverse=True)
    asks = sorted(data.draw(st.sets(st.integers(best_bid + spread + 1, anchor + half), max_size=6))
                  | {best_bid + spread})
    q = st.floats(1e-3, 1e3)
    bq = [data.draw(q) for _ in bids]
    aq = [data.draw(q) for _ in asks]
    books = _books([bids], [bq], [asks], [aq])
    im = t.to_images(books)
    assert im.levels_dropped == 0
    back, two = t.to_books(im.images, im.mid_ticks, im.scale, levels=len(bids) + len(asks))
    assert two[0]
    got_b, got_a = _absolute(back, 0)
    assert [p for p, _ in got_b] == bids and [p for p, _ in got_a] == asks
    np.testing.assert_allclose([v for _, v in got_b], bq, rtol=1e-5)
    np.testing.assert_allclose([v for _, v in got_a], aq, rtol=1e-5)


def test_wide_buckets_keep_the_volume_and_move_prices_to_the_bucket_edge():
    t = BookImageTransform(rows=16, bucket_ticks=3, tick_size=1.0)
    books = _books([[100, 99, 97, 95]], [[1.0, 1.0, 2.0, 4.0]], [[101, 103, 104]], [[1.0, 2.0, 2.0]])
    im = t.to_images(books)
    back, _ = t.to_books(im.images, im.mid_ticks, im.scale, levels=10)
    bids, asks = _absolute(back, 0)
    # buckets (anchor 100): bids {100,99,98}, {97,96,95}; asks {101,102,103}, {104,...}
    assert [p for p, _ in bids] == [100, 97] and [p for p, _ in asks] == [101, 104]
    assert sum(v for _, v in bids) == pytest.approx(8.0) and sum(v for _, v in asks) == pytest.approx(5.0)


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("books, match", [
    (_books([[100]], [[1.0]], [[]], [[]], levels=1), "snapshot 0: cannot become an image: an empty side"),
    (_books([[100]], [[np.nan]], [[101]], [[1.0]]), "snapshot 0: .*a volume that is not a positive number"),
    (_books([[100], [100]], [[1.0], [1.0]], [[101], [101]], [[1.0], [-2.0]]), "snapshot 1: .*not a positive"),
    (_books([[10]], [[1.0]], [[101]], [[1.0]]), r"snapshot 0: .*no level within 8 ticks of the mid on one side"),
])
def test_snapshots_that_cannot_become_images(books, match):
    t = BookImageTransform(rows=16, tick_size=1.0)
    with pytest.raises(InputFormatError, match=match):
        t.to_images(books, source="x.db")
    if len(books.mid) > 1:  # not strict: left out and counted, the rest kept
        im = t.to_images(books, strict=False)
        assert im.kept.tolist() == [0] and sum(im.skipped.values()) == 1


def test_empty_and_all_bad():
    t = BookImageTransform(rows=16, tick_size=1.0)
    with pytest.raises(InputFormatError, match="x.db: no snapshots"):
        t.to_images(_books([], [], [], [], levels=1), source="x.db")
    with pytest.raises(InputFormatError, match="none of the 1 snapshots can become an image"):
        t.to_images(_books([[100]], [[1.0]], [[]], [[]], levels=1), strict=False)


@pytest.mark.parametrize("kw, match", [
    ({"rows": 17}, "rows: must be even"), ({"rows": 8192}, "rows"), ({"bucket_ticks": 0}, "bucket_ticks"),
    ({"tick_size": float("nan")}, "tick_size"), ({"log_range": 0.5}, "log_range"),
    ({"proximity_buckets": 0.0}, "proximity_buckets"),
])
def test_bad_transform_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        BookImageTransform(**kw)


def test_to_books_checks_the_shape_and_empirical_draw_needs_values():
    t = BookImageTransform(rows=16, tick_size=1.0)
    with pytest.raises(ConfigError, match=r"expected shape \(n, 2, 16, 1\)"):
        t.to_books(np.zeros((3, 2, 32, 1)), np.zeros(3), np.ones(3))
    with pytest.raises(ConfigError, match="no values"):
        empirical_draw(np.array([]), 3, np.random.default_rng(0))

