"""Fixtures of the learned-model tests: a tiny WGAN configuration and data to train it on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import IN_CI, require_data  # the suite's helpers (pytest runs with importlib mode)

__all__ = ["IN_CI", "require_data", "tiny"]


def tiny(**changes):
    """A WGAN small enough to train in a second or two: 16 one-tick rows (8 ticks a side), narrow networks."""
    from lobkit.training.config import WGANConfig

    base = dict(rows=16, gen_channels=16, critic_channels=4, z_dim=8, batch_size=16, n_critic=2, steps=6,
                snapshot_every=0)
    return WGANConfig(**{**base, **changes})


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """800 synthetic snapshots in the lob-btc.db schema (lobkit sample-data)."""
    from lobkit.data.sample import write_sample_db

    return write_sample_db(tmp_path_factory.mktemp("wgan") / "sample.db", 800, seed=3)


@pytest.fixture
def lob_btc() -> Path:
    return require_data("lob-btc.db")
