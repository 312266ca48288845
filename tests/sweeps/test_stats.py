"""lobkit.stats: the t quantile against an exact one (SciPy when installed, else mpmath), mean and CI, t-statistic,
and the sweep summary using them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lobkit import stats

DFS = [*range(1, 31), 31, 32, 35, 40, 50, 60, 80, 100, 120, 200, 500, 1000, 10**6]


def _exact_t975(df: int) -> float:
    """The 97.5% quantile of Student's t: SciPy's when it is installed, else solved with mpmath."""
    try:
        from scipy.stats import t

        return float(t.ppf(0.975, df))
    except ImportError:
        mp = pytest.importorskip("mpmath", reason="neither scipy nor mpmath to compare with")
        mp.mp.dps = 30

        def cdf_minus(x):  # P(T <= x) - 0.975 for x > 0, by the regularised incomplete beta function
            return 1 - mp.betainc(mp.mpf(df) / 2, mp.mpf(1) / 2, 0, df / (df + x * x), regularized=True) / 2 - \
                mp.mpf("0.975")

        return float(mp.findroot(cdf_minus, 2.0))


@pytest.mark.parametrize("df", DFS)
def test_t975_matches_the_exact_quantile(df):
    exact = _exact_t975(df)
    tol = 5e-4 + 1e-12 if df <= 30 else 1e-4  # the table has three decimals; the expansion is closer
    assert abs(stats.t975(df) - exact) <= tol, (df, stats.t975(df), exact)


def test_t975_is_decreasing_towards_the_normal_quantile():
    q = [stats.t975(df) for df in range(1, 400)]
    assert all(a > b for a, b in zip(q, q[1:], strict=False))
    assert stats.t975(10**9) == pytest.approx(1.959964, abs=1e-6)
    assert math.isnan(stats.t975(0)) and math.isnan(stats.t975(-3))


@pytest.mark.parametrize("x", [[1.0, 2.0, 4.0], [3.5, -1.0], list(np.linspace(-2, 5, 40)), [7.0] * 5])
def test_mean_ci_matches_the_textbook_formula(x):
    a = np.asarray(x)
    mu, lo, hi = stats.mean_ci(x)
    half = _exact_t975(len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a))
    assert mu == pytest.approx(a.mean())
    assert lo == pytest.approx(a.mean() - half, abs=1e-3 * max(half, 1e-9))
    assert hi == pytest.approx(a.mean() + half, abs=1e-3 * max(half, 1e-9))


def test_mean_ci_and_t_statistic_edge_cases():
    assert all(math.isnan(v) for v in stats.mean_ci([]))
    mu, lo, hi = stats.mean_ci([2.5])
    assert mu == 2.5 and math.isnan(lo) and math.isnan(hi)
    assert math.isnan(stats.t_statistic(1.0, 0.0, 5))  # no spread: undefined
    assert math.isnan(stats.t_statistic(1.0, 2.0, 1))  # one value: undefined
    assert math.isnan(stats.sem(2.0, 1))
    assert stats.t_statistic(2.0, 4.0, 16) == pytest.approx(2.0)
    t = stats.t_statistic(np.array([1.0, 2.0, np.nan]), np.array([1.0, 0.0, 1.0]), np.array([4, 4, 4]))
    assert t[0] == pytest.approx(2.0) and np.isnan(t[1]) and np.isnan(t[2])
    assert stats.ci_halfwidth(1.0, 4) == pytest.approx(stats.t975(3) / 2)
    assert np.isnan(stats.ci_halfwidth(np.array([1.0]), np.array([1]))[0])


def test_sweep_summary_uses_lobkit_stats():
    import polars as pl

    from lobkit.sweeps.results import aggregate

    pnl = [1.0, 3.0, 2.0, 6.0, -1.0, 4.0, 4.0]
    df = pl.DataFrame({"config_index": [0, 0, 0, 1, 1, 2, 2], "repeat": [0, 1, 2, 0, 1, 0, 1],
                       "x": [1, 1, 1, 2, 2, 3, 3], "status": ["ok"] * 7, "error": [None] * 7, "final_pnl": pnl})
    s = aggregate(df, ["x"])
    for row, vals in zip(s.iter_rows(named=True), ([1.0, 3.0, 2.0], [6.0, -1.0], [4.0, 4.0]), strict=True):
        a = np.asarray(vals)
        mu, lo, hi = stats.mean_ci(a)
        assert row["mean"] == pytest.approx(mu) and row["ci95_low"] == pytest.approx(lo)
        assert row["ci95_high"] == pytest.approx(hi)
        t = stats.t_statistic(a.mean(), a.std(ddof=1), len(a))
        assert (row["t_stat"] is None) if np.isnan(t) else row["t_stat"] == pytest.approx(t)
    assert s["t_stat"][2] is None  # two equal values: no spread, no t-statistic
