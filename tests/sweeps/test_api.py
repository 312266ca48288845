"""The Python API (``lobkit.run``, ``lobkit.compare``, ``lobkit.sweep``): lazy exports, typed results, errors."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

import lobkit
from lobkit.errors import ConfigError
from lobkit.sim.config import parse_duration

TINY = {"duration": "2min", "warmup": "30s"}


def test_import_lobkit_is_lazy():
    # what the lazy exports control: the API, the simulator and Polars load on first use, not on import
    code = ("import sys, lobkit; heavy = [m for m in ('polars', 'lobkit.api', 'lobkit.sim', 'lobkit.sweeps') "
            "if m in sys.modules]; assert not heavy, heavy; assert callable(lobkit.sweep); "
            "assert 'lobkit.api' in sys.modules; print(sorted(n for n in dir(lobkit) if not n.startswith('_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "build_config" in out and "compare" in out and "run" in out and "sweep" in out
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lobkit.nope  # noqa: B018


def test_build_config_mirrors_the_cli_options():
    cfg = lobkit.build_config(agent="momentum", short=4, long=30, size=2, duration="10min", warmup="1min",
                              interval="500ms", fee_bps=0.5, seed=None)
    assert cfg.agent.params.short == 4 and cfg.agent.params.long == 30
    assert cfg.agent.size == 2 and cfg.agent.position_limit == 2
    assert cfg.market.duration_ns == parse_duration("10min") and cfg.agent.interval_ns == 500_000_000
    assert cfg.agent.fee_bps == 0.5 and not cfg.record
    for kw, needle in (({"size": -1}, "size"), ({"short": 20, "long": 10}, "short"), ({"agent": "bogus"}, "agent"),
                       ({"duration": "10 parsecs"}, "duration"),
                       ({"shrot": 3}, "shrot: unknown option.*did you mean short")):
        with pytest.raises(ConfigError, match=needle):
            lobkit.build_config(**kw)


def test_run_and_compare_return_typed_results(tmp_path):
    from lobkit.sim.results import CompareResult, RunResult

    r = lobkit.run(seed=3, **TINY)
    assert isinstance(r, RunResult) and isinstance(r.timeline, pl.DataFrame) and r.orders is None
    assert r.summary == lobkit.run(seed=3, **TINY).summary
    r2 = lobkit.run(seed=3, out=tmp_path / "run", plot=False, **TINY)
    assert r2.summary == r.summary and (tmp_path / "run" / "summary.json").exists()
    assert (tmp_path / "run" / "trades.parquet").exists()  # out= records the per-order logs
    c = lobkit.compare(seed=3, repeats=2, **TINY)
    assert isinstance(c, CompareResult) and c.pairs.height == 2
    with pytest.raises(ConfigError, match="repeats"):
        lobkit.compare(repeats=0, **TINY)
    with pytest.raises(ConfigError, match="seed"):
        lobkit.run(seed=-3, **TINY)


def test_sweep_api(tmp_path):
    from lobkit.sweeps.runner import SweepResult

    res = lobkit.sweep("short=2,3 long=8,16", repeats=2, seed=1, out=tmp_path, progress=False, **TINY)
    assert isinstance(res, SweepResult) and res.n_run == 4
    assert isinstance(res.table(), pl.DataFrame) and res.table().height == 8
    best = res.best(2)
    assert isinstance(best, pl.DataFrame) and best.height == 2
    assert best["mean"].to_list() == sorted(res.summary()["mean"].to_list(), reverse=True)[:2]
    assert res.heatmap is not None and res.heatmap.exists()
