"""Small-sample statistics of repeated simulations: the mean, its Student-t 95% confidence interval and the
t-statistic. The one implementation: ``lobkit compare`` (the simulator's seed pairs) and the sweeps
(:mod:`lobkit.sweeps.results`) both use it.

For ``n`` values ``x_1 .. x_n`` with mean ``m`` and sample standard deviation ``s`` (``ddof=1``):

- standard error of the mean ``sem = s / sqrt(n)``;
- t-statistic ``t = m / sem``: how many standard errors the mean is from zero (the one-sample t-test of
  "mean = 0");
- 95% confidence interval of the mean ``m -+ t_{0.975, n-1} * sem``, where ``t_{0.975, n-1}`` is the 97.5%
  quantile of Student's t distribution with ``n - 1`` degrees of freedom (the values are assumed independent
  and roughly normal; with few runs and a skewed PnL the interval is only indicative).

All three are undefined (NaN) with fewer than two values; the t-statistic is also NaN when ``s = 0``.

The quantile ``t_{0.975, df}``: SciPy is not a dependency of lobkit, so it comes from the standard table for
``df <= 30`` (three decimals, as printed in every statistics textbook, e.g. NIST/SEMATECH e-Handbook of
Statistical Methods, section 1.3.6.7.2) and, above, from the Cornish-Fisher expansion of the t quantile in
powers of ``1/df`` around the normal quantile ``z = 1.959964`` (Abramowitz and Stegun, *Handbook of
Mathematical Functions*, formula 26.7.5, first two terms; absolute error below 1e-4 for ``df > 30``, less than
the table's rounding).
``tests/sweeps/test_stats.py`` checks both against an exact quantile (SciPy when installed, else mpmath).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["T975_TABLE", "ci_halfwidth", "mean_ci", "sem", "t975", "t_statistic"]

#: ``t_{0.975, df}`` for ``df = 1 .. 30`` (index ``df - 1``), three decimals.
T975_TABLE: tuple[float, ...] = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
_Z975 = 1.959963984540054  # the standard normal's 97.5% quantile


def t975(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom (``t_{0.975, df}``).

    ``df``: a positive integer (``n - 1`` for ``n`` values). Returns NaN for ``df < 1``. See the module
    docstring for the source of the values.
    """
    df = int(df)
    if df < 1:
        return float("nan")
    if df <= len(T975_TABLE):
        return T975_TABLE[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def sem(std: Any, n: Any) -> Any:
    """Standard error of the mean, ``std / sqrt(n)``, elementwise (floats or NumPy arrays); NaN where ``n < 2``.

    ``std``: sample standard deviations (``ddof=1``); ``n``: counts. Returns a float for scalars, else a
    float64 array of the broadcast shape.
    """
    std = np.asarray(std, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n >= 2, std / np.sqrt(np.maximum(n, 1.0)), np.nan)
    return float(out) if out.ndim == 0 else out


def t_statistic(mean: Any, std: Any, n: Any) -> Any:
    """The t-statistic of the mean, ``mean / (std / sqrt(n))``, elementwise (floats or NumPy arrays).

    NaN where it is undefined: ``n < 2``, ``std`` zero or NaN, or ``mean`` NaN. Returns a float for scalars,
    else a float64 array of the broadcast shape.
    """
    mean = np.asarray(mean, dtype=np.float64)
    se = np.asarray(sem(std, n), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(se > 0, mean / np.where(se > 0, se, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def mean_ci(x: Any) -> tuple[float, float, float]:
    """Mean of the values ``x`` (a 1-D sequence or array of numbers) and its Student-t 95% confidence interval.

    Returns ``(mean, low, high)`` as floats: all NaN for no values, the interval NaN for one value. NaN values
    in ``x`` propagate (filter them first).
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        return float("nan"), float("nan"), float("nan")
    mu = float(a.mean())
    if a.size < 2:
        return mu, float("nan"), float("nan")
    h = t975(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    return mu, mu - h, mu + h


def ci_halfwidth(std: Any, n: Any) -> Any:
    """Half-width of the 95% confidence interval of a mean, ``t_{0.975, n-1} * std / sqrt(n)``, elementwise.

    ``std``: sample standard deviations (``ddof=1``); ``n``: counts. NaN where ``n < 2``. Returns a float for
    scalars, else a float64 array.
    """
    n_arr = np.asarray(n)
    q = np.vectorize(t975, otypes=[np.float64])(np.maximum(n_arr.astype(np.int64) - 1, 0))
    out = q * np.asarray(sem(std, n), dtype=np.float64)
    return float(out) if np.ndim(out) == 0 else out
