"""Fixtures of the sweep tests: a tiny base configuration and a warm Numba cache.

Simulations are kept tiny (two simulated minutes, 30 s of warm-up: about 20,000 events, a few ms each) so
that every test stays quick; what is tested is the sweep machinery around the real simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lobkit.sim import simulate
from lobkit.sim.config import MarketConfig, RunConfig, parse_duration

REPO = Path(__file__).resolve().parents[2]
#: CLI-style options of the tiny runs (``lobkit.api`` keywords and ``lobkit sweep`` flags).
TINY = {"duration": "2min", "warmup": "30s"}


def tiny_config(**market) -> RunConfig:
    """The base configuration of the tests (see :data:`TINY`)."""
    m = MarketConfig(duration_ns=parse_duration(TINY["duration"]), warmup_ns=parse_duration(TINY["warmup"]),
                     **market)
    return RunConfig(market=m)


@pytest.fixture(scope="session", autouse=True)
def warm_numba_cache():
    """Compile (or load) the simulator once, so that worker processes load the on-disk cache."""
    simulate(tiny_config(), 0)


def _run_py(code: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def tiny() -> RunConfig:
    """The tiny base configuration (two simulated minutes)."""
    return tiny_config()


@pytest.fixture
def run_py():
    """``run_py(code)``: start ``python -c code`` in the repository with this interpreter (output captured)."""
    return _run_py
