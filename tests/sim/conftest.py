"""Shared helpers of the simulator tests: small, fast configurations."""

from __future__ import annotations

import pytest

from lobkit.sim import AgentConfig, MarketConfig, RunConfig, parse_duration


def small_cfg(duration="3min", warmup="30s", record=False, **agent) -> RunConfig:
    market = MarketConfig(duration_ns=parse_duration(duration), warmup_ns=parse_duration(warmup))
    return RunConfig(market=market, agent=AgentConfig(**agent), record=record)


@pytest.fixture
def cfg():
    return small_cfg()
