"""Shared helpers of the simulator tests: small, fast configurations."""

from __future__ import annotations

import pytest

from lobkit.sim import MarketConfig, RunConfig, parse_duration
from lobkit.sim.options import apply_options


def small_cfg(duration="3min", warmup="30s", record=False, name=None, **options) -> RunConfig:
    """A short run; ``name`` is the agent, ``options`` any other option (``short=3``, ``size=2``, ...)."""
    market = MarketConfig(duration_ns=parse_duration(duration), warmup_ns=parse_duration(warmup))
    return apply_options(RunConfig(market=market, record=record), {"agent": name, **options})


@pytest.fixture
def cfg():
    return small_cfg()
