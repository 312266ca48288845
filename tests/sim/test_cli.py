"""lobkit run / lobkit compare through click: outputs and clear errors with a non-zero exit."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click
import polars as pl
import pytest
from click.testing import CliRunner


def _group() -> click.Group:
    """The real ``lobkit`` group when it imports; else a group with just our commands (same commands)."""
    try:
        from lobkit.cli import main

        return main
    except ImportError:  # another concern's CLI module is missing: test ours on their own
        path = Path(__file__).resolve().parents[2] / "lobkit" / "cli" / "sim.py"
        spec = importlib.util.spec_from_file_location("_lobkit_cli_sim", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)

        @click.group()
        def g():
            pass

        mod.register(g)
        return g


@pytest.fixture(scope="module")
def cli():
    return _group()


def test_run_writes_everything(cli, tmp_path):
    out = tmp_path / "x"
    r = CliRunner().invoke(
        cli,
        [
            "run",
            "--agent",
            "momentum",
            "--short",
            "5",
            "--long",
            "20",
            "--size",
            "1",
            "--duration",
            "3min",
            "--warmup",
            "30s",
            "--seed",
            "7",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    for name in ("orders.parquet", "trades.parquet", "pnl.parquet", "summary.json", "pnl.png"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "summary.json").read_text())
    for key in (
        "final_pnl",
        "n_trades",
        "final_position",
        "max_drawdown",
        "sharpe",
        "fees",
        "mean_spread",
        "realised_vol",
        "volume",
        "n_events",
    ):
        assert key in doc["summary"], key
    assert pl.read_parquet(out / "pnl.parquet").columns[:4] == ["t_ns", "t_s", "mid", "pnl"]
    assert doc["config"]["agent.short"] == 5


def test_compare_with_repeats(cli, tmp_path):
    out = tmp_path / "cmp"
    r = CliRunner().invoke(
        cli,
        [
            "compare",
            "--agent",
            "momentum",
            "--size",
            "3",
            "--duration",
            "2min",
            "--warmup",
            "30s",
            "--seed",
            "7",
            "--repeats",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "compare.json").read_text())
    assert doc["summary"]["repeats"] == 2 and len(doc["pairs"]) == 2
    assert "pnl_ci_low" in doc["summary"] and "mid_diff_mean_mean" in doc["summary"]
    assert (out / "compare.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--size", "-1"], "size"),
        (["--short", "20", "--long", "20"], "short"),
        (["--short", "30"], "short"),
        (["--agent", "martingale"], "unknown agent"),
        (["--duration", "ten minutes"], "--duration"),
        (["--warmup", "2h"], "warmup"),
        (["--market", "limit_rate=-3"], "limit_rate"),
        (["--market", "nope=1"], "nope"),
        (["--order-type", "stop"], "order_type"),
    ],
)
@pytest.mark.parametrize("cmd", ["run", "compare"])
def test_bad_parameters_clear_error(cli, tmp_path, cmd, args, needle):
    r = CliRunner().invoke(
        cli, [cmd, "--duration", "1min", "--warmup", "10s", *args, "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert r.exit_code != 0
    assert needle in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_config_from_options_matches_defaults():
    path = Path(__file__).resolve().parents[2] / "lobkit" / "cli" / "sim.py"
    spec = importlib.util.spec_from_file_location("_lobkit_cli_sim2", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from lobkit.sim import RunConfig

    cfg = mod.config_from_options(duration="1h", warmup="5min")
    assert cfg == RunConfig()
    cfg = mod.config_from_options(market_set=("limit_rate=25", "warmup_ns=2min"), long_=30)
    assert cfg.market.limit_rate == 25.0 and cfg.market.warmup_ns == 120 * 10**9 and cfg.agent.long == 30
