"""The WGAN trains from TimescaleDB (a real server) on exactly the images it gets from the SQLite file."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.data.migrate import migrate
from lobkit.training.config import WGANConfig
from lobkit.training.wgan_training import load_generator, train_wgan


def test_training_from_timescaledb_sees_the_same_books_as_from_sqlite(tmp_path, tsdb_cfg, lob_btc):
    migrate(lob_btc, tsdb_cfg, progress=False)
    cfg = WGANConfig(rows=64, gen_channels=16, critic_channels=4, z_dim=8, batch_size=16, n_critic=1, steps=3,
                     snapshot_every=0)
    a = train_wgan(str(lob_btc), cfg, out=tmp_path / "sqlite", seed=2, device="cpu", progress=False)
    b = train_wgan(tsdb_cfg.dsn, cfg, out=tmp_path / "tsdb", seed=2, device="cpu", progress=False)
    assert a.fingerprint == b.fingerprint and (a.n_train, a.n_held_out) == (b.n_train, b.n_held_out)
    assert a.n_held_out == 1000 and a.n_train + sum(a.skipped.values()) == 4011  # images of the training blocks
    assert "lob_snapshots" in b.source
    ga, gb = load_generator(a.generator_path).generator, load_generator(b.generator_path).generator
    assert all(torch.equal(x, y) for x, y in zip(ga.state_dict().values(), gb.state_dict().values(), strict=True))
    # the command line's --dsn
    r = CliRunner().invoke(main, ["train-wgan", "--dsn", tsdb_cfg.dsn, "--out", str(tmp_path / "cli"), "--seed", "2",
                                  "--no-progress", "--json", "--rows", "64", "--gen-channels", "16",
                                  "--critic-channels", "4", "--z-dim", "8", "--batch-size", "16", "--n-critic", "1",
                                  "--steps", "3", "--snapshot-every", "0"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["data_fingerprint"] == a.fingerprint
    r = CliRunner().invoke(main, ["eval-wgan", "--model", str(b.generator_path), "--json"])
    assert r.exit_code == 2 and "give the data to evaluate on" in r.stderr  # a database's password is not kept
    r = CliRunner().invoke(main, ["eval-wgan", "--model", str(b.generator_path), "--dsn", tsdb_cfg.dsn, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n_held_out"] == 1000
