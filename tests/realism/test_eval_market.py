"""``lobkit eval-market`` end to end: every flow model against the real Bitstamp day, the files it writes, the
API and the CLI agree, and bad input is one clear line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import lobkit
from lobkit.cli import main as cli
from lobkit.flows import flow_names
from tests.conftest import require_data


@pytest.fixture(scope="module")
def lob_btc():
    return require_data("lob-btc.db")


@pytest.mark.parametrize("flow", flow_names())
def test_every_flow_gets_a_report_against_the_bitstamp_day(flow, flow_spec, lob_btc, tmp_path):
    rep = lobkit.eval_market(flow=flow_spec(flow), against=lob_btc, runs=1, replicates=20, seed=3, out=tmp_path,
                             initial_book=f"snapshot:{lob_btc}")
    for name in ("realism.md", "realism.json", "realism.png"):
        assert (tmp_path / name).stat().st_size > 500, name
    doc = json.loads((tmp_path / "realism.json").read_text())
    assert doc["config"]["flow"] == flow_spec(flow) and doc["config"]["runs"] == 1
    # the simulation covers the real day (5.08 hours after its warm-up)
    assert doc["config"]["hours_each"] == pytest.approx(5.08, abs=0.01)
    targets = {t["name"]: t for t in rep.data["targets"]}
    assert set(targets) == {"spread_tv", "kurtosis_1min", "abs_acf_mean_lags_1_5", "acf_lag1", "volume_by_level_tv"}
    for t in targets.values():  # each target is met, missed, or said not computable: never silently absent
        assert t["met"] in (True, False, None)
    md = (tmp_path / "realism.md").read_text()
    assert "## Targets" in md and "spread" in md


def test_the_cli_writes_the_same_report_as_the_api(lob_btc, tmp_path):
    r = CliRunner().invoke(cli, ["eval-market", "--against", str(lob_btc), "--runs", "1", "--replicates", "20",
                                 "--seed", "3", "--out", str(tmp_path / "cli"), "--json",
                                 "--no-progress"])
    assert r.exit_code == 0, r.output
    printed = json.loads(r.output)
    api = lobkit.eval_market(against=lob_btc, runs=1, replicates=20, seed=3)
    assert printed["targets"] == json.loads(json.dumps(api.data["targets"]))


@pytest.mark.parametrize("args,match", [
    (["--against", "/nonexistent/lob.db"], "/nonexistent/lob.db"),
    (["--against", "{db}", "--runs", "0"], "runs"),
    (["--against", "{db}", "--flow", "nhp:/nonexistent/model.pth"], "/nonexistent/model.pth"),
])
def test_bad_input_is_one_line(args, match, lob_btc, tmp_path):
    args = [a.replace("{db}", str(lob_btc)) for a in args]
    r = CliRunner().invoke(cli, ["eval-market", *args, "--no-progress"])
    assert r.exit_code == 2, r.output
    err = r.output.strip()
    assert err.startswith("error:") and match in err and "\n" not in err and "Traceback" not in err
