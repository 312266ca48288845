"""lobkit run / compare / impact / options through click: outputs, and clear errors with a non-zero exit."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main as cli

FAST = ["--duration", "2min", "--warmup", "30s", "--no-progress"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_run_writes_everything(tmp_path):
    out = tmp_path / "x"
    r = invoke("run", "--agent", "momentum", "--short", 5, "--long", 20, "--size", 1, "--duration", "3min",
               "--warmup", "30s", "--seed", 7, "--out", out, "--no-progress")
    assert r.exit_code == 0, r.output
    for name in ("orders.parquet", "trades.parquet", "agent_orders.parquet", "pnl.parquet", "summary.json",
                 "pnl.png"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "summary.json").read_text())
    for key in ("final_pnl", "n_trades", "final_position", "max_drawdown", "sharpe", "fees", "mean_spread",
                "realised_vol", "volume", "n_events", "rejected_orders", "n_crossovers"):
        assert key in doc["summary"], key
    assert pl.read_parquet(out / "pnl.parquet").columns[:4] == ["t_ns", "t_s", "mid", "pnl"]
    assert doc["config"]["agent.short"] == 5 and doc["seed"] == "7"
    assert not list(out.glob(".lobkit-*")), "no temporary files are left"


def test_compare_with_repeats(tmp_path):
    out = tmp_path / "cmp"
    r = invoke("compare", "--agent", "momentum", "--size", 3, *FAST, "--seed", 7, "--repeats", 3, "--out", out)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "compare.json").read_text())
    assert doc["summary"]["repeats"] == 3 and len(doc["pairs"]) == 3
    for key in ("pnl_ci_low", "mid_diff_mean_mean", "paper_pnl_mean", "impact_cost_mean", "coupling_variance_ratio"):
        assert key in doc["summary"], key
    assert (out / "compare.png").stat().st_size > 0
    assert "coupling variance ratio" in r.output


def test_impact_writes_curves(tmp_path):
    out = tmp_path / "imp"
    r = invoke("impact", "--lots", "1,10", "--pairs", 3, "--horizon", "30s", "--warmup", "30s", "--seed", 2,
               "--out", out, "--no-progress")
    assert r.exit_code == 0, r.output
    curves = pl.read_parquet(out / "impact.parquet")
    assert set(curves["lots"].unique()) == {1, 10}
    assert curves.filter(pl.col("lots") == 1)["lag_s"].max() == 30.0
    doc = json.loads((out / "impact.json").read_text())
    assert doc["lots"] == [1, 10] and "sd_ticks_1" in doc["summary"]
    assert (out / "impact.png").stat().st_size > 0


def test_fresh_seed_is_printed_and_replays(tmp_path):
    r = invoke("run", *FAST, "--out", tmp_path / "a", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output[r.output.index("{"):])
    seed = doc["seed"]
    assert seed.isdigit() and int(seed) > 2**64  # fresh 128-bit entropy, recorded
    again = invoke("run", *FAST, "--seed", seed, "--out", tmp_path / "b", "--json")
    assert json.loads(again.output[again.output.index("{"):]) == doc


def test_a_rerun_with_no_record_leaves_no_files_of_the_first(tmp_path):
    out = tmp_path / "mix"
    assert invoke("run", *FAST, "--seed", 1, "--out", out).exit_code == 0
    assert (out / "orders.parquet").exists()
    assert invoke("run", *FAST, "--seed", 3, "--no-record", "--out", out).exit_code == 0
    assert not (out / "orders.parquet").exists() and not (out / "trades.parquet").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == "3"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--size", "-1"], "size"),
        (["--size", "9223372036854775807"], "size: must be an integer in [1, 1,000,000] lots"),
        (["--size", "99999999999999999999"], "size"),
        (["--size", "1.5"], "size: expected an integer"),
        (["--max-position", "0"], "max_position"),
        (["--short", "20", "--long", "20"], "short"),
        (["--short", "30"], "short"),
        (["--agent", "martingale"], "unknown agent"),
        (["--agent", "os:path"], "not a subclass of Agent"),
        (["--flow", "nope"], "unknown flow model"),
        (["--duration", "ten minutes"], "duration"),
        (["--duration", "400d"], "duration: at most 366 days"),
        (["--warmup", "2h"], "warmup"),
        (["--interval", "0"], "interval"),
        (["--tick-size", "nan"], "tick_size"),
        (["--initial-mid", "-1"], "initial_mid"),
        (["--fee-bps", "inf"], "fee_bps"),
        (["--set", "limit_rate=-3"], "limit_rate"),
        (["--set", "nope=1"], "nope: unknown option"),
        (["--set", "limit_rate"], "--set: expected NAME=VALUE"),
        (["--set", "capacity=12"], "capacity"),
        (["--set", "record=maybe"], "record: expected true or false"),
        (["--order-type", "stop"], "order_type"),
        (["--imbalance", "0.7"], "imbalance: unknown option"),  # the momentum agent has no imbalance
        (["--seed", "-1"], "--seed"),
        (["--seed", "abc"], "--seed"),
    ],
)
@pytest.mark.parametrize("cmd", ["run", "compare"])
def test_bad_parameters_clear_error(tmp_path, cmd, args, needle):
    r = invoke(cmd, "--duration", "1min", "--warmup", "10s", *args, "--out", tmp_path / "o", "--no-progress")
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output and "np.float64" not in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "o").exists()


def test_unusable_out_dirs_are_refused_before_running(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for out, needle in ((tmp_path / "file.txt" / "sub", "is a file"), (tmp_path / "file.txt", "not a directory"),
                        ("/proc/lobkit-x", "cannot write there")):
        r = invoke("run", *FAST, "--out", out)
        assert r.exit_code == 2 and needle in r.output, r.output
        assert "Traceback" not in r.output


def test_options_lists_every_field():
    r = invoke("options", "--json")
    names = {row["qualified"] for row in json.loads(r.output)}
    assert {"agent", "flow", "market.duration", "market.tick_size", "agent.size", "agent.short",
            "flow.limit_rate", "record"} <= names
    r = invoke("options", "--agent", "strategic")
    assert "agent.imbalance" in r.output and "agent.short" not in r.output
