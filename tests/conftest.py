"""Fixtures shared by the whole suite.

Real data lives in ``../shared/data`` (or ``$LOBKIT_DATA_DIR``). Tests that need it skip with a clear
reason when it is absent, except under ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lobkit.paths import shared_data_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_data(relpath: str) -> Path:
    """Path of a shared data file; skip (or fail under CI=true) when it is missing."""
    p = shared_data_dir() / relpath
    if not p.exists():
        msg = f"shared data file {p} not found (set LOBKIT_DATA_DIR to the shared/data directory)"
        if IN_CI:
            pytest.fail(msg + " -- under CI=true tests that read shared data must run")
        pytest.skip(msg)
    return p


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        msg = f"shared data directory {d} not found (set LOBKIT_DATA_DIR)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session", autouse=True)
def _warm_engine_kernels():
    """Compile the order-book kernels once per session (or load them from Numba's on-disk cache), so that no
    single test pays for compilation and timings inside tests mean something."""
    import numpy as np

    from lobkit.engine import MESSAGE_DTYPE, OP_LIMIT, OrderBook

    book = OrderBook(capacity=64, window=128, center=100)
    book.limit(1, 99, 5, owner=1)
    book.limit(-1, 101, 5, owner=2)
    book.limit(1, 101, 2, ioc=True)
    book.market(-1, 1)
    oid = book.limit(-1, 102, 3).oid
    book.modify(oid, price=103)
    book.reduce(oid, 1)
    book.execute(oid, 1)
    book.cancel(oid)
    book.l2(5), book.l3(), book.check()
    msgs = np.zeros(4, dtype=MESSAGE_DTYPE)
    msgs["op"], msgs["side"], msgs["price"], msgs["size"] = OP_LIMIT, [1, -1, 1, -1], [98, 102, 102, 97], 1
    msgs["oid"] = [1001, 1002, 1003, 1004]
    book.apply(msgs, strict=False)
    book.apply(msgs[:0], strict=True)


def poisson_events(seed: int = 0, n: int = 3000, rate: float = 5.0):
    """A six-type order-book event stream with marks (a marked Poisson process: 40% limit orders at geometric
    distances, 5% market orders, the rest cancellations), for models that need one and no real data."""
    import numpy as np

    from lobkit.training.events import make_stream

    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1 / rate, n))
    types = rng.choice(6, n, p=[0.2, 0.2, 0.025, 0.025, 0.275, 0.275]).astype(np.int64)
    dist = np.where(types < 2, rng.geometric(0.2, n) - 2, np.where(types < 4, 0, rng.geometric(0.2, n) - 1))
    return make_stream(t, types, dist.astype(np.int64), rng.lognormal(0.0, 1.0, n), duration_s=float(t[-1]) + 1.0,
                       n_types=6, source="poisson test stream")


@pytest.fixture(scope="session")
def nhp_model(tmp_path_factory) -> Path:
    """A neural Hawkes model of the default size (hidden 64), trained one epoch on :func:`poisson_events`, with
    the market it records (tick 0.01, lot 0.1)."""
    from lobkit.training.config import NHPConfig
    from lobkit.training.nhp_training import train_nhp

    out = tmp_path_factory.mktemp("nhp")
    res = train_nhp(poisson_events(), NHPConfig(epochs=1, window=100), out=out, seed=3, device="cpu",
                    progress=False, market={"tick_size": 0.01, "lot_size": 0.1})
    return res.model_path


@pytest.fixture(scope="session")
def calibration_file(tmp_path_factory) -> Path:
    """A calibrated market file: ``lobkit calibrate``'s fit (without the simulated moments) of
    :func:`poisson_events` in a market of tick 0.01, lot 0.1, mid 236 and a 5-tick spread."""
    from lobkit.training.calibrate import calibrate, write_calibration

    cal = calibrate(poisson_events(), tick_size=0.01, lot_size=0.1, initial_mid=236.0, spread_ticks=5.0,
                    moments=False, seed=1)
    return write_calibration(cal, tmp_path_factory.mktemp("calibrated") / "market.toml")


@pytest.fixture
def flow_spec(request):
    """``flow_spec(name)``: the ``--flow`` of a registered flow model, with a model file for those that need one
    (``nhp``: :func:`nhp_model`; ``calibrated``: :func:`calibration_file`)."""
    files = {"nhp": "nhp_model", "calibrated": "calibration_file"}

    def spec(name: str) -> str:
        if name in files:
            return f"{name}:{request.getfixturevalue(files[name])}"
        return name

    return spec


@pytest.fixture(scope="session")
def wgan_model(tmp_path_factory) -> Path:
    """A WGAN generator trained for about ten seconds on the real lob-btc.db (narrow networks, 64 one-tick rows):
    enough to draw two-sided books of the BTC market (tick 0.01)."""
    from lobkit.training.config import WGANConfig
    from lobkit.training.wgan_training import train_wgan

    db = require_data("lob-btc.db")
    cfg = WGANConfig.small(steps=150, ema=0.0, rows=64, gen_channels=64, critic_channels=16, z_dim=32,
                           snapshot_every=0)
    res = train_wgan(str(db), cfg, out=tmp_path_factory.mktemp("wgan"), seed=5, device="cpu", progress=False)
    return res.generator_path
