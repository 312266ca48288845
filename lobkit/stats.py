"""Small statistics shared by the simulator and the sweeps (placeholder; the sweeps helper provides the real
module: merged later)."""

from __future__ import annotations

import math

import numpy as np

_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    if df < 1:
        return float("nan")
    if df <= 30:
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(x) -> tuple[float, float, float]:
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mu = float(x.mean())
    if len(x) < 2:
        return mu, float("nan"), float("nan")
    h = t975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mu, mu - h, mu + h
