"""Results: the heatmap (file, cells, pooling, invalid cells), ranking, metrics, formatting."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from lobkit.errors import ConfigError
from lobkit.sweeps.grid import parse_grid
from lobkit.sweeps.results import (
    aggregate,
    best_configs,
    choose_heatmap_params,
    format_table,
    heatmap_cells,
    load_results,
    write_heatmap,
)
from lobkit.sweeps.runner import sweep


@pytest.fixture(scope="module")
def swept(tmp_path_factory, warm_numba_cache):
    from lobkit.sim.config import MarketConfig, RunConfig, parse_duration

    base = RunConfig(market=MarketConfig(duration_ns=parse_duration("2min"), warmup_ns=parse_duration("30s")))
    out = tmp_path_factory.mktemp("swept")
    res = sweep(base, "short=2,3,8 long=4,8 size=1,2", repeats=3, seed=21, jobs=1, out=out, progress=False)
    return res


def test_heatmap_png_is_written_with_two_panels(swept):
    import matplotlib.image as mpimg

    assert swept.heatmap == swept.out / "heatmap.png"
    img = mpimg.imread(swept.heatmap)
    h, w = img.shape[:2]
    assert w > 1.8 * h > 300  # two side-by-side panels
    assert img[..., :3].std() > 0.05  # not blank


def test_heatmap_cells_pool_the_other_parameters_and_mark_invalid(swept):
    df = swept.table()
    xs, ys, mean, t, n, errors = heatmap_cells(df, "short", "long", grid=swept.grid)
    assert xs == [2, 3, 8] and ys == [4, 8]
    # (short=8, long=4) and (short=8, long=8) are invalid: no runs, NaN cells
    assert n[0, 2] == 0 and n[1, 2] == 0 and np.isnan(mean[:, 2]).all()
    # a valid cell pools size=1 and size=2: 2 configurations x 3 repeats
    assert n[0, 0] == 6 and errors.sum() == 0
    cell = df.filter((pl.col("short") == 3) & (pl.col("long") == 8))["final_pnl"].to_numpy()
    assert mean[1, 1] == pytest.approx(cell.mean())
    if cell.std() > 0:
        assert t[1, 1] == pytest.approx(cell.mean() / (cell.std(ddof=1) / math.sqrt(len(cell))))


def test_heatmap_axes_choice_and_redraw(swept):
    assert choose_heatmap_params(swept.grid) == ("short", "long")
    assert choose_heatmap_params(parse_grid("size=1 long=4,8")) == ("long", None)
    p = write_heatmap(swept.out, params=("size", None))
    assert p.exists()
    with pytest.raises(ConfigError, match="not a swept parameter"):
        write_heatmap(swept.out, params=("fee_bps", "short"))


def test_ranking_and_table(swept):
    s = aggregate(load_results(swept.out), swept.grid.names)
    assert s.height == 8 and (s["n"] == 3).all()
    by_mean = best_configs(s, k=3)
    assert by_mean["mean"].to_list() == sorted(s["mean"].to_list(), reverse=True)[:3]
    by_t = best_configs(s, k=3, by="t_stat")
    assert by_t["t_stat"].to_list() == sorted(s["t_stat"].drop_nulls().to_list(), reverse=True)[:3]
    text = format_table(by_mean, swept.grid.names)
    assert text.splitlines()[0].split()[:3] == ["short", "long", "size"] and len(text.splitlines()) == 4
    with pytest.raises(ConfigError, match="rank by"):
        best_configs(s, by="median")


def test_other_metrics_and_unknown_metric(swept):
    t = swept.table()
    s = aggregate(t, swept.grid.names, metric="n_trades")
    expected = t.group_by("config_index").agg(pl.col("n_trades").mean()).sort("config_index")
    assert s["mean"].to_list() == pytest.approx(expected["n_trades"].to_list())
    assert "mean_final_pnl" in s.columns and "mean_n_trades" not in s.columns
    with pytest.raises(ConfigError, match="metric 'pnl' is not in the results"):
        aggregate(swept.table(), swept.grid.names, metric="pnl")


def test_load_results_of_a_non_sweep_directory(tmp_path):
    with pytest.raises(ConfigError, match="not a sweep directory"):
        load_results(tmp_path)


@pytest.mark.parametrize("n, errors, label", [(0, 0, "n/a"), (0, 2, "error"), (1, 0, "n<2"), (2, 0, "sd=0"),
                                              (5, 1, "sd=0")])
def test_blank_heatmap_cells_say_why(n, errors, label):
    from lobkit.sweeps.results import _blank_label

    assert _blank_label(n, errors) == label
