"""The learned and calibrated markets through the commands a user runs: ``run``, ``compare`` and ``sweep`` with
``--flow nhp:...`` / ``--flow calibrated:...`` and ``--initial-book wgan:...``; the same seed gives the same result
on one or two workers."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main as cli
from lobkit.sim import simulate
from lobkit.sim.options import apply_options

FLOWS = ["nhp", "calibrated"]


def _ok(args):
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("flow", FLOWS)
def test_run_compare_and_sweep_on_a_learned_market_from_a_wgan_book(flow, flow_spec, wgan_model, tmp_path):
    spec = flow_spec(flow)
    market = ["--flow", spec, "--initial-book", f"wgan:{wgan_model}", "--initial-mid", "236", "--warmup", "1min"]
    _ok(["run", *market, "--agent", "momentum", "--short", "3", "--long", "8", "--duration", "15min", "--seed", "4",
         "--out", str(tmp_path / "run"), "--no-progress"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["summary"]
    assert summary["flow"] == flow and summary["n_events"] > 100
    # the initial book is the generator's: not the generated default's 30 one-tick levels of 6 orders
    cfg = apply_options(None, {"flow": spec, "initial_book": f"wgan:{wgan_model}", "initial_mid": 236.0,
                               "duration": "2min", "warmup": "1min", "record": True})
    first = simulate(cfg, 4).orders.filter(pl.col("ts") == 0)
    assert 2 <= first.height <= 40 and first["price"].min() < 23_600 < first["price"].max()  # ticks; one order a level
    _ok(["compare", *market, "--agent", "momentum", "--short", "3", "--long", "8", "--duration", "10min",
         "--repeats", "3", "--seed", "4", "--out", str(tmp_path / "cmp"), "--no-progress"])
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert np.isfinite(cmp["summary"]["coupling_variance_ratio"])
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"sweep{jobs}"
        _ok(["sweep", *market, "--grid", "short=2,3 long=6,9", "--repeats", "2", "--jobs", str(jobs), "--duration",
             "5min", "--seed", "4", "--out", str(out), "--no-progress"])
        tables.append(pl.read_parquet(out / "results" / "*.parquet").sort("config_index", "repeat")
                      .select("config_index", "repeat", "final_pnl", "n_events_total"))
    assert tables[0].equals(tables[1])  # same seed, same result, on one worker or two
