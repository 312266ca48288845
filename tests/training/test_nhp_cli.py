"""`lobkit train-nhp`, `lobkit eval-nhp` and `lobkit bitstamp` from the command line, on the real data."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main

from .conftest import require_data


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_train_and_evaluate_on_events_inferred_from_the_real_snapshots(tmp_path):
    db = require_data("lob-btc.db")
    r = _cli("train-nhp", "--source", "snapshots", db, "--out", tmp_path, "--epochs", 1, "--hidden", 8,
             "--seed", 5, "--no-progress", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["epochs"] == 1 and doc["n_train_events"] > 10_000 and "inferred from books" in doc["source"]
    assert (tmp_path / "nhp_background_trader.pth").stat().st_size > 0
    r = _cli("eval-nhp", "--model", tmp_path / "nhp_background_trader.pth", "--source", "snapshots", db, "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    for key in ("test_ll_per_event", "poisson_test_ll_per_event", "hawkes_test_ll_per_event", "type_accuracy",
                "time_rmse", "ks_pvalue"):
        assert np.isfinite(res[key]), key


def test_an_events_file_trains(tmp_path):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.exponential(0.5, 400))
    pl.DataFrame({"time": t, "type": rng.integers(0, 6, 400), "size": rng.uniform(1, 5, 400)}).write_csv(
        tmp_path / "e.csv")
    r = _cli("train-nhp", "--source", "events", tmp_path / "e.csv", "--out", tmp_path / "m", "--epochs", 2,
             "--no-progress")
    assert r.exit_code == 0, r.output
    assert "trained 2 epochs on" in r.output


@pytest.mark.parametrize("args, match", [
    (["train-nhp", "--source", "oracle", "x.csv"], "--source oracle takes no PATH"),
    (["train-nhp", "--source", "lobster"], "source lobster: give the file's path"),
    (["train-nhp", "--source", "events", "none.parquet"], "none.parquet: no such file"),
    (["train-nhp", "--source", "events", "x.csv", "--split", "1.5"], "split"),
    (["eval-nhp", "--model", "none.pth", "--source", "oracle"], "none.pth: no such file"),
    (["bitstamp", "import", "none.log.xz", "--out", "o.db"], "none.log.xz: no such file"),
    (["bitstamp", "import", "none.log.xz", "--out", "o.db", "--every", "soon"], "--every: cannot read 'soon'"),
    (["bitstamp", "check", "none.log.xz", "--offset", "a,b"], "--offset: integers"),
    (["bitstamp", "check", "binary.log"], "binary.log: not a Bitstamp capture (not text"),
    (["train-nhp", "--source", "events", "ns.csv"], "ns.csv: times span 2e+12 s, more than three years"),
    (["train-nhp", "--source", "oracle", "--out", "x.csv"], "x.csv: cannot write there"),
    (["eval-nhp", "--model", "x.csv", "--source", "oracle", "--out", "x.csv"], "x.csv: not a readable model file"),
])
def test_bad_command_lines_are_one_line(tmp_path, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("time,type\n0.0,0\n1.0,1\n")
    (tmp_path / "ns.csv").write_text("time,type\n1000000000000,0\n3000000000000,1\n")
    (tmp_path / "binary.log").write_bytes(bytes(range(256)) * 4)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and match in err, err


def test_the_oracle_evaluation_shows_the_true_model_and_a_short_held_out_part_is_refused(tmp_path):
    r = _cli("train-nhp", "--source", "oracle", "--out", tmp_path, "--epochs", 1, "--hidden", 8, "--no-progress")
    assert r.exit_code == 0, r.output
    r = _cli("eval-nhp", "--model", tmp_path / "nhp_background_trader.pth", "--source", "oracle", "--json")
    res = json.loads(r.output)
    assert res["true_test_ll_per_event"] == pytest.approx(-1.33, abs=0.03) and res["gap_to_truth"] >= 0
    r = _cli("eval-nhp", "--model", tmp_path / "nhp_background_trader.pth", "--source", "oracle", "--split", 0.9999)
    assert r.exit_code == 2 and "too few events around the split" in r.stderr


def test_bitstamp_import_writes_a_snapshot_file_the_data_layer_reads(tmp_path):
    log = require_data("bitstamp-btcusd-2015-05-01.log.xz")
    out = tmp_path / "rebuilt.db"
    r = _cli("bitstamp", "import", log, "--out", out, "--every", "10s", "--no-progress")
    assert r.exit_code == 0, r.output
    from lobkit.training.data import load_books

    books, _, rejected = load_books(str(out), levels=20)
    assert rejected == 0 and 1800 <= len(books.mid) <= 1830  # 5 h 4 min every 10 s
    assert (books.n_bids == 20).mean() > 0.95 and (books.ask_ticks[:, 0] > 0).all()
    r = _cli("bitstamp", "import", log, "--out", out, "--every", "10s", "--no-progress")
    assert r.exit_code == 2 and "exists already" in r.stderr
    r = _cli("bitstamp", "check", log, "--json")
    first, flow = (json.loads(x) for x in r.output.strip().splitlines())
    assert first["snapshots"] == 5010 and first["touch"] > 0.85 and flow["net_flow_per_level"]["agree"] > 0.98
