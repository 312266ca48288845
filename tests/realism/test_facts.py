"""The statistics: known answers on constructed records, the known figures of lob-btc.db, pooling, distances and the
block bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from lobkit.errors import ConfigError
from lobkit.realism import (
    bootstrap_facts,
    distances,
    intervals,
    market_facts,
    noise_floor,
    pearson_kurtosis,
    pooled_acf,
    scalar_facts,
    total_variation,
)
from lobkit.realism.facts import SIGNATURE_S, SPREAD_EDGES

from .conftest import NS, log_path_record, make_record


# ------------------------------------------------------------------------------------------------- the book
@pytest.mark.parametrize(("a", "b", "tv"), [
    (3, 3, 0.0),  # constant spread 3 against itself
    (3, 5, 1.0),  # against a constant spread 5: disjoint bins
    (3, [3, 5], 0.5),  # against half 3, half 5
    (4, 5, 1.0),  # bins [4, 5) and [5, 6)
    (8, 9, 0.0),  # both in the bin [8, 10)
    (250, 900, 0.0),  # both in the open bin >= 200
])
def test_spread_tv_table(a, b, tv):
    n = 40
    fa = market_facts(make_record(n=n, spread=a))
    fb = market_facts(make_record(n=n, spread=np.resize(np.asarray(b), n)))
    assert distances(fa, fb)["spread_tv"] == pytest.approx(tv)
    assert distances(fb, fa)["spread_tv"] == pytest.approx(tv)


def test_spread_quantiles_are_the_inverted_cdf_of_integer_spreads():
    sp = np.array([1] * 10 + [2] * 30 + [4] * 50 + [9] * 10)
    f = market_facts(make_record(n=len(sp), spread=sp))["spread"]
    assert (f["q10"], f["q50"], f["q90"]) == (1.0, 4.0, 4.0)
    assert f["mean"] == pytest.approx(sp.mean())
    assert sum(f["hist"]) == pytest.approx(1.0)
    assert f["hist"][SPREAD_EDGES.index(8)] == pytest.approx(0.1)


def test_empty_sides_are_skipped():
    rec = make_record(n=6, spread=2)
    bid = rec.bid.copy()
    bid[2] = -1
    import dataclasses

    gap = dataclasses.replace(rec, bid=bid, ask=np.where(np.arange(6) == 3, -1, rec.ask))
    assert market_facts(gap)["samples"] == 4


def test_volume_profile_known_answer_and_common_levels():
    a = make_record(n=5, volumes=[2.0, 1.0, 1.0, 0.0], levels=4)
    f = market_facts(a)["volume_by_level"]
    assert f["bid"] == pytest.approx([0.5, 0.25, 0.25, 0.0]) and f["both"] == pytest.approx(f["bid"])
    assert f["mean_ask"] == pytest.approx([2.0, 1.0, 1.0, 0.0])
    # units cancel: the same shape in other units is at distance 0
    b = make_record(n=5, volumes=[200.0, 100.0, 100.0, 0.0], levels=4)
    assert distances(market_facts(a), market_facts(b))["volume_by_level_tv"] == pytest.approx(0.0)
    # fewer levels: compared on the first two, renormalised (2/3, 1/3 against 1/2, 1/2)
    c = make_record(n=5, volumes=[1.0, 1.0], levels=2)
    assert distances(market_facts(a), market_facts(c))["volume_by_level_tv"] == pytest.approx(1 / 6)
    # NaN (no such level) counts as no volume
    import dataclasses

    nan = dataclasses.replace(a, bid_volume=np.where(a.bid_volume == 0, np.nan, a.bid_volume))
    assert market_facts(nan)["volume_by_level"]["bid"] == pytest.approx(f["bid"])


# ------------------------------------------------------------------------------------------------- returns
def test_ar1_returns_give_acf_phi_and_gaussian_kurtosis_three():
    rng = np.random.default_rng(1)
    n, phi = 20_000, 0.5
    e = rng.standard_normal(n) * 1e-4
    r = np.zeros(n)
    for i in range(1, n):
        r[i] = phi * r[i - 1] + e[i]
    f = market_facts(log_path_record(np.r_[0.0, np.cumsum(r)]))
    assert f["returns"]["1min"]["n"] == n
    assert f["acf"]["r"][0] == pytest.approx(phi, abs=0.03)
    assert f["acf"]["r"][1] == pytest.approx(phi**2, abs=0.03)
    g = market_facts(log_path_record(np.r_[0.0, np.cumsum(e)]))
    assert g["returns"]["1min"]["kurtosis"] == pytest.approx(3.0, abs=0.15)
    assert abs(g["acf"]["r"][0]) < 0.03 and abs(g["acf"]["abs_mean_lags_1_5"]) < 0.03
    assert g["returns"]["1min"]["std"] == pytest.approx(1e-4, rel=0.03)
    # 5-minute returns: sums of five 1-minute ones
    assert g["returns"]["5min"]["n"] == n // 5
    assert g["returns"]["5min"]["std"] == pytest.approx(1e-4 * math.sqrt(5), rel=0.05)


def test_returns_take_the_previous_sample_at_each_grid_time():
    # samples at 0, 50 s, 70 s, 130 s: the 1-minute grid sees the values of 0 s (t=0), 50 s (t=60), 70 s (t=120)
    x = np.array([0.0, 0.01, 0.03, 0.06])
    rec = log_path_record(x)
    import dataclasses

    rec = dataclasses.replace(rec, t_ns=np.array([0, 50, 70, 130], np.int64) * NS, duration_ns=180 * NS)
    from lobkit.realism.facts import _grid_returns, _prepare

    r = _grid_returns(_prepare(rec), 0, rec.duration_ns, 60 * NS)
    assert r == pytest.approx([0.01, 0.02, 0.03], abs=1e-8)


def test_kurtosis_is_pearson_and_agrees_with_scipy():
    x = np.random.default_rng(2).standard_t(5, 500)
    assert pearson_kurtosis(x) == pytest.approx(stats.kurtosis(x, fisher=False, bias=True))
    assert pearson_kurtosis(x) == pytest.approx(stats.kurtosis(x) + 3.0)
    assert math.isnan(pearson_kurtosis([1.0, 1.0, 1.0, 1.0])) and math.isnan(pearson_kurtosis([1.0, 2.0]))


def _acf_oracle(x, k):
    x = np.asarray(x, float)
    m = x.mean()
    return sum((x[t] - m) * (x[t + k] - m) for t in range(len(x) - k)) / sum((v - m) ** 2 for v in x)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=12, max_size=60))
def test_pooled_acf_of_one_series_is_the_box_jenkins_acf(xs):
    x = np.asarray(xs)
    if np.ptp(x) < 1e-6:
        return
    got = pooled_acf([x], lags=(1, 2, 5, 10))
    assert got == pytest.approx([_acf_oracle(x, k) for k in (1, 2, 5, 10)], abs=1e-9)


def test_pooled_returns_never_cross_records():
    rng = np.random.default_rng(3)
    xa = np.r_[0.0, np.cumsum(rng.standard_normal(300) * 1e-3)]
    xb = 0.5 + np.r_[0.0, np.cumsum(rng.standard_normal(300) * 1e-3)]  # far from where a ends
    a, b = log_path_record(xa), log_path_record(xb)
    pooled = market_facts([a, b])
    ra, rb = np.diff(xa), np.diff(xb)
    both = np.r_[ra, rb]
    assert pooled["returns"]["1min"]["n"] == 600
    assert pooled["returns"]["1min"]["kurtosis"] == pytest.approx(stats.kurtosis(both, fisher=False), rel=1e-4)
    m = both.mean()
    num = np.dot(ra[:-1] - m, ra[1:] - m) + np.dot(rb[:-1] - m, rb[1:] - m)
    assert pooled["acf"]["r"][0] == pytest.approx(num / np.dot(both - m, both - m), abs=1e-6)
    assert pooled["records"] == 2 and pooled["hours"] == pytest.approx(2 * 300 / 60)


# ------------------------------------------------------------------------------------------------- signature
def test_signature_plot_bid_ask_bounce_and_drift_are_exact():
    a, n = 1e-4, 3601
    bounce = log_path_record(np.where(np.arange(n) % 2 == 0, 0.0, a), step_s=1.0)
    f = market_facts(bounce)["signature"]
    rv = dict(zip(f["interval_s"], f["rv_per_hour"], strict=True))
    assert rv[1] == pytest.approx(a * a * 3600, rel=1e-4)  # every 1 s return is +-a
    assert rv[2] == pytest.approx(0.0, abs=1e-12)  # every 2 s return is 0
    drift = log_path_record(np.arange(n) * a, step_s=1.0)
    f = market_facts(drift)["signature"]
    for dt, v in zip(f["interval_s"], f["rv_per_hour"], strict=True):
        if dt <= 360:  # at least 10 returns in the hour
            assert v == pytest.approx((a * dt) ** 2 / dt * 3600, rel=1e-4)
        else:
            assert math.isnan(v)


def test_signature_plot_of_a_random_walk_is_flat():
    rng = np.random.default_rng(4)
    sigma = 1e-4
    rec = log_path_record(np.r_[0.0, np.cumsum(rng.standard_normal(4 * 3600) * sigma)], step_s=1.0)
    f = market_facts(rec)["signature"]
    for dt, v, n in zip(f["interval_s"], f["rv_per_hour"], f["n_returns"], strict=True):
        if n >= 10:
            assert v == pytest.approx(sigma**2 * 3600, rel=4 / math.sqrt(n) + 0.02), dt
        else:  # 8 returns of 30 min in 4 h: too few
            assert dt == 1800 and math.isnan(v)
    coarse = market_facts(make_record(n=400, step_s=3.0))["signature"]
    assert math.isnan(coarse["rv_per_hour"][0]) and math.isnan(coarse["rv_per_hour"][1])  # finer than samples
    assert coarse["sampling_s"] == pytest.approx(3.0)


# ------------------------------------------------------------------------------------------------- events
def test_inter_event_times_and_the_event_mix():
    t = np.array([0.0, 0.0, 0.5, 1.5, 3.5, 3.5005]) * NS
    k = [0, 1, 2, 4, 4, 5]
    f = market_facts(make_record(n=5, step_s=1.0, events=(t.astype(np.int64), k)))
    ie, mix = f["inter_event"], f["event_mix"]
    assert ie["available"] and ie["n"] == 5
    assert ie["q50"] == pytest.approx(0.5) and ie["zero_share"] == pytest.approx(0.2)
    assert sum(ie["hist"]) == pytest.approx(1.0) and ie["hist"][0] == pytest.approx(0.2)
    assert mix["shares"] == pytest.approx([1 / 6, 1 / 6, 1 / 6, 0, 2 / 6, 1 / 6])
    none = market_facts(make_record(n=5))
    assert not none["inter_event"]["available"] and not none["event_mix"]["available"]
    d = distances(f, none)
    assert math.isnan(d["inter_event_tv"]) and math.isnan(d["event_mix_tv"])
    assert math.isnan(scalar_facts(none)["share_limit_buy"])
    # pooled with a record without events: not available (never faked)
    assert not market_facts([make_record(n=5, step_s=1.0, events=(t.astype(np.int64), k)), make_record(n=5)]
                            )["event_mix"]["available"]


# ------------------------------------------------------------------------------------------------- distances
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 10), min_size=3, max_size=3), st.lists(st.floats(0, 10), min_size=3, max_size=3))
def test_total_variation_properties(p, q):
    if sum(p) <= 0 or sum(q) <= 0:
        assert math.isnan(total_variation(p, q))
        return
    tv = total_variation(p, q)
    assert 0.0 <= tv <= 1.0 + 1e-12
    assert tv == pytest.approx(total_variation(q, p))
    assert total_variation(p, p) == pytest.approx(0.0, abs=1e-12)


def test_total_variation_needs_the_same_bins():
    with pytest.raises(ConfigError, match="different bins"):
        total_variation([1, 2], [1, 2, 3])


def test_bad_inputs():
    with pytest.raises(ConfigError, match="no record"):
        market_facts([])
    with pytest.raises(ConfigError, match="MarketRecord"):
        market_facts(["x"])
    rec = make_record(n=4)
    import dataclasses

    empty = dataclasses.replace(rec, bid=np.full(4, -1, np.int64))
    with pytest.raises(ConfigError, match="no sample with both sides"):
        market_facts(empty)
    with pytest.raises(ConfigError, match="seed"):
        bootstrap_facts(rec, None)
    with pytest.raises(ConfigError, match="replicates"):
        bootstrap_facts(rec, 1, replicates=1)
    with pytest.raises(ConfigError, match="block_ns"):
        bootstrap_facts(rec, 1, block_ns=10)


# ------------------------------------------------------------------------------------------------- lob-btc.db
def test_known_figures_of_lob_btc(lob_btc_facts):
    """The published figures of the Bitstamp day (1-minute log-mid returns on the grid from the first snapshot,
    previous-sample values; Pearson kurtosis; spreads per snapshot)."""
    f = scalar_facts(lob_btc_facts)
    assert f["kurtosis_1min"] == pytest.approx(24.1, abs=0.05)
    assert f["acf_lag1"] == pytest.approx(-0.09, abs=0.005)
    for lag, value in ((1, 0.18), (2, 0.21), (5, 0.11), (10, 0.04)):
        assert f[f"abs_acf_lag{lag}"] == pytest.approx(value, abs=0.005), lag
    assert f["abs_acf_mean_lags_1_5"] == pytest.approx(0.10, abs=0.01)
    assert f["spread_q50"] == 17  # $0.17
    assert f["spread_q90"] * 0.01 == pytest.approx(0.28)
    assert lob_btc_facts["returns"]["1min"]["n"] == 304


def test_bootstrap_is_reproducible_and_brackets_the_figures(lob_btc, lob_btc_facts):
    reps = bootstrap_facts(lob_btc, np.random.default_rng(7), replicates=60)
    again = bootstrap_facts(lob_btc, np.random.SeedSequence(8), replicates=60)
    same = bootstrap_facts(lob_btc, np.random.SeedSequence(8), replicates=60)
    np.testing.assert_equal(intervals(again), intervals(same))  # NaN == NaN here
    iv = intervals(reps)
    f = scalar_facts(lob_btc_facts)
    for name in ("spread_q50", "acf_lag1", "abs_acf_mean_lags_1_5", "iet_q50", "share_limit_buy"):
        lo, hi = iv[name][0][0], iv[name][1][0]
        assert lo <= f[name] <= hi, (name, lo, f[name], hi)
    # kurtosis: a few extreme returns drive the full-day figure, and a replicate often misses them, so the percentile
    # interval can end below 24.1; what it does establish is heavy tails (the lower end is well above normal's 3)
    assert iv["kurtosis_1min"][0][0] > 5
    lo, hi = np.asarray(iv["volume_both"][0]), np.asarray(iv["volume_both"][1])
    assert lo.shape == (20,) and (lo <= hi).all()
    floor = noise_floor(reps, tuple(market_facts(h) for h in lob_btc.halves()))
    for name in ("spread_tv", "volume_by_level_tv", "event_mix_tv", "acf_lag1"):
        assert 0 < floor[name]["q50"] <= floor[name]["q95"], name
        assert floor[name]["halves"] >= 0
    with pytest.raises(ConfigError, match="level"):
        intervals(reps, level=1.5)


def test_every_signature_interval_with_its_count(lob_btc_facts):
    sig = lob_btc_facts["signature"]
    assert sig["interval_s"] == list(SIGNATURE_S)
    assert sig["n_returns"][SIGNATURE_S.index(60)] == 304
    assert math.isnan(sig["rv_per_hour"][0])  # 1 s is finer than the snapshots (about 2.4 s apart)
    assert all(v > 0 for v in sig["rv_per_hour"][2:])
