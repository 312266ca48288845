"""The WGAN's evaluation (lobkit.training.evaluate): the distances on known cases, the classifier test's noise floor on
real books, memorisation, and `lobkit eval-wgan` end to end with the other commands."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.training.data import load_books, split_indices, take
from lobkit.training.evaluate import (
    BookFeatures,
    c2st,
    corr_distance,
    gaussian_levels,
    independent_levels,
    nn_ratio,
    total_variation,
    w1_over_std,
)

from .conftest import tiny


@pytest.fixture(scope="module")
def btc_features(lob_btc_module):
    books, _, _ = load_books(str(lob_btc_module), levels=20)
    train, held = split_indices(len(books.mid), "blocks")
    return (BookFeatures.of_books(take(books, train), 0.01), BookFeatures.of_books(take(books, held), 0.01),
            train, held)


@pytest.fixture(scope="module")
def lob_btc_module():
    from .conftest import require_data

    return require_data("lob-btc.db")


# ------------------------------------------------------------------------------------------------ distances
@pytest.mark.parametrize("a, b, integer, want", [
    ([1, 2, 3], [1, 2, 3], True, 0.0),
    ([1, 1, 1, 1], [2, 2, 2, 2], True, 1.0),
    ([1, 1, 2, 2], [1, 2, 2, 2], True, 0.25),
    ([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], False, 0.0),
    ([0.0] * 10, [5.0] * 10, False, 1.0),
    ([1, 2, np.nan], [1, 2], True, 0.0),  # NaNs are left out
])
def test_total_variation(a, b, integer, want):
    assert total_variation(np.array(a, float), np.array(b, float), integer) == pytest.approx(want)


@pytest.mark.parametrize("a, b, want", [
    ([0.0, 1.0], [1.0, 2.0], 1.0 / np.std([0, 1, 1, 2])),  # a shift by 1 over the pooled sd
    ([3.0, 3.0], [3.0, 3.0], 0.0),
    ([0.0, 2.0, np.nan], [0.0, 2.0], 0.0),
])
def test_w1_over_std(a, b, want):
    assert w1_over_std(np.array(a), np.array(b)) == pytest.approx(want)


def test_classifier_test_noise_floor_and_a_clear_difference(btc_features):
    """Real training books against held-out ones, grouped by 100-snapshot block: about 0.5 (the issue measured 0.49).
    The same books with every quantity ten times larger: told apart almost always."""
    train, held, train_idx, held_idx = btc_features
    pick = np.random.default_rng(0).permutation(len(train))[:len(held)]
    floor = c2st(train.take(pick), held, groups_a=train_idx[pick] // 100, groups_b=held_idx // 100)
    assert 0.35 <= floor <= 0.65
    moved = BookFeatures(held.bid_off, held.ask_off, held.bid_q * 10.0, held.ask_q * 10.0)
    assert c2st(moved, train.take(pick), groups_a=held_idx // 100, groups_b=train_idx[pick] // 100) > 0.9


def test_classifier_test_with_levels_that_neither_set_has():
    """A 1-level book (LOBSTER's level-1 files): the missing levels are all-NaN columns, which scikit-learn cannot
    bin; the test still runs and tells a shifted set apart."""
    rng = np.random.default_rng(0)
    nan = np.full((300, 10), np.nan)

    def one_level(shift):
        off = nan.copy()
        off[:, 0] = rng.integers(1, 5, 300) + shift
        q = nan.copy()
        q[:, 0] = rng.lognormal(0, 1, 300)
        return BookFeatures(-off, off, q, q)

    assert 0.3 < c2st(one_level(0), one_level(0)) < 0.7
    assert c2st(one_level(0), one_level(10)) > 0.95


def test_references_keep_marginals_and_lose_the_joint_structure(btc_features):
    train, held, _, _ = btc_features
    rng = np.random.default_rng(1)
    ind, gau = independent_levels(train, 2000, rng), gaussian_levels(train, 2000, rng)
    for ref in (ind, gau):
        assert ref.bid_q.shape == (2000, 10)
        assert corr_distance(ref, held) > corr_distance(train, held)
    # each independent level keeps its marginal: the touch volume's distribution is the training one
    assert total_variation(ind.bid_q[:, 0], train.bid_q[:, 0]) < 0.1
    assert corr_distance(held, held) == 0.0


def test_nn_ratio_catches_copies(btc_features):
    train, held, _, _ = btc_features
    assert nn_ratio(train.take(np.arange(500)), held, train) == 0.0  # copies of the training books
    jitter = BookFeatures(train.bid_off[:500], train.ask_off[:500], train.bid_q[:500] * 1.0001,
                          train.ask_q[:500] * 1.0001)
    assert nn_ratio(jitter, held, train) < 0.05
    assert nn_ratio(held, held, train) == 1.0


# ------------------------------------------------------------------------------------------------ the commands
def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _tiny_args(**changes):
    cfg = tiny(**changes)
    out = []
    for k, v in cfg.to_dict().items():
        out += [f"--{k.replace('_', '-')}", v]
    return out


def test_train_generate_and_evaluate_from_the_command_line(tmp_path, lob_btc_module):
    """The three commands on the real BTC snapshots (a tiny model: figures near the references, not good ones)."""
    out = tmp_path / "run"
    # an untrained generator draws no two-sided book: generate says so and writes nothing
    r = _cli("train-wgan", "--data", lob_btc_module, "--out", tmp_path / "raw", "--seed", 3, "--no-progress",
             *_tiny_args(rows=256, steps=1))
    assert r.exit_code == 0, r.output
    r = _cli("generate", "--model", tmp_path / "raw" / "generator.pth", "--n", 200, "--out", tmp_path / "none.parquet")
    assert r.exit_code == 2 and "none of the 200 generated books has both sides" in r.stderr
    assert not (tmp_path / "none.parquet").exists()
    r = _cli("train-wgan", "--data", lob_btc_module, "--out", out, "--seed", 5, "--no-progress", "--json",
             *_tiny_args(rows=64, steps=150, n_critic=5, batch_size=32, gen_channels=64, critic_channels=16, z_dim=32,
                         ema=0.0, snapshot_every=75))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["steps"] == 150 and doc["n_train"] + doc["n_held_out"] + sum(doc["skipped"].values()) == 5011
    assert doc["seed"] == "5"
    assert sorted(p.name for p in (out / "training_snapshots").iterdir()) == ["step-000075.png", "step-000150.png"]
    model = out / "generator.pth"
    r = _cli("generate", "--model", model, "--n", 200, "--seed", 1, "--out", tmp_path / "books.parquet")
    assert r.exit_code == 0, r.output
    frame = pl.read_parquet(tmp_path / "books.parquet")
    assert frame.columns == ["book", "mid", "bid_px", "bid_qty", "ask_px", "ask_qty"]
    assert f"wrote {frame.height:,} books" in r.output
    assert frame.height > 0  # generate refuses to write no book
    row = frame.row(0, named=True)
    assert row["bid_px"] == sorted(row["bid_px"], reverse=True) and row["ask_px"] == sorted(row["ask_px"])
    assert row["bid_px"][0] < row["mid"] < row["ask_px"][0]
    r = _cli("eval-wgan", "--model", model, "--json", "--out", tmp_path / "eval")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    for key in ("c2st", "c2st_real", "c2st_independent", "c2st_gaussian", "corr_distance",
                "corr_distance_independent", "corr_distance_gaussian", "nn_ratio", "marginals"):
        assert key in s, key
    assert 0.35 <= s["c2st_real"] <= 0.65 and s["c2st_independent"] > 0.6 and s["c2st_gaussian"] > 0.6
    assert {"spread", "bid_volume_1", "ask_volume_10", "imbalance_5", "depth_10"} <= set(s["marginals"])
    assert s["data"].endswith("lob-btc.db") and s["n_held_out"] == 1000
    for name in ("eval.json", "eval.md", "eval.png"):
        assert (tmp_path / "eval" / name).stat().st_size > 0
    assert "| generated |" in (tmp_path / "eval" / "eval.md").read_text()


@pytest.mark.parametrize("args, match", [
    (["train-wgan", "--data", "nowhere.db", "--no-progress"], "nowhere.db"),
    (["train-wgan", "--data", "a.db", "--dsn", "postgresql://x/y"], "give --data or --dsn, not both"),
    (["train-wgan", "--table", "t"], "--table goes with --dsn"),
    (["train-wgan", "--rows", "100"], "rows: must be a power of two"),
    (["train-wgan", "--gen-norm", "layer"], "gen_norm: one of pixel, batch, none"),
    (["generate", "--model", "missing.pth", "--out", "b.parquet"], "missing.pth: no such file"),
    (["eval-wgan", "--model", "missing.pth"], "missing.pth: no such file"),
    (["train-wgan", "--out", "afile", "--steps", "1"], "afile: cannot write there (a file, not a directory)"),
])
def test_bad_command_lines_are_one_line(tmp_path, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a directory")
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and match in err, err
