"""Configuration dataclasses: durations, validation naming the field, immutability."""

import pytest

from lobkit.errors import ConfigError
from lobkit.flows import HawkesParams
from lobkit.sim import AgentConfig, FlowConfig, MarketConfig, RunConfig, format_duration, parse_duration


@pytest.mark.parametrize(
    "text,ns",
    [
        ("90s", 90 * 10**9),
        ("30min", 1800 * 10**9),
        ("1h", 3600 * 10**9),
        ("250ms", 250 * 10**6),
        ("1.5h", 5400 * 10**9),
        ("2d", 2 * 86400 * 10**9),
        (" 10 s ", 10 * 10**9),
        ("5m", 300 * 10**9),
        ("10", 10 * 10**9),  # a bare number is seconds, as text
        (3600, 3600 * 10**9),  # and as a number: lobkit.run(duration=3600) is one hour
        (1.5, 1_500_000_000),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("bad", ["", "ten minutes", "5 parsecs", "-3s", "1h30", None, True, -1, float("nan"),
                                 float("inf"), "400d", 10**12])
def test_parse_duration_rejects(bad):
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(bad)


def test_format_duration_round_trip():
    for text in ("1h", "30min", "90s", "250ms", "2d"):
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"name": "martingale"}, "martingale"),
        ({"size": -1}, "size"),
        ({"size": 0}, "size"),
        ({"size": 2**63 - 1}, "size"),
        ({"params": {"short": 20, "long": 20}}, "short"),
        ({"params": {"short": 30, "long": 20}}, "short"),
        ({"params": {"order_type": "stop"}}, "order_type"),
        ({"params": {"nope": 1}}, "nope"),
        ({"fee_bps": -1.0}, "fee_bps"),
        ({"fee_bps": float("nan")}, "fee_bps"),
        ({"max_position": 0, "size": 2}, "max_position"),
        ({"interval_ns": 5}, "interval_ns"),
        ({"size": 1.5}, "size"),
    ],
)
def test_agent_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        AgentConfig(**kw)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"duration_ns": 0}, "duration_ns"),
        ({"warmup_ns": 4000 * 10**9}, "warmup_ns"),
        ({"tick_size": 0.0}, "tick_size"),
        ({"tick_size": float("nan")}, "tick_size"),
        ({"initial_mid": 1e300}, "initial_mid"),
        ({"capacity": 10}, "capacity"),
        ({"window": 10**9}, "window"),
        ({"n_background": 0}, "n_background"),
    ],
)
def test_market_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        MarketConfig(**kw)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"excite_market_same": 0.9, "excite_market_cross": 0.2}, "excite_market_same"),
        ({"limit_rate": -1.0}, "limit_rate"),
        ({"activity_coupling": 1.5}, "activity_coupling"),
        ({"efficient_price_share": 2.0}, "efficient_price_share"),
        ({"max_depth": 0}, "max_depth"),
        ({"limit_depth_mean": 500.0}, "limit_depth_mean"),
    ],
)
def test_flow_params_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        HawkesParams(**kw)


def test_flow_and_market_are_checked_together():
    with pytest.raises(ConfigError, match="window"):
        RunConfig(market=MarketConfig(window=256), flow=FlowConfig(params=HawkesParams(max_depth=100)))


def test_configs_are_frozen_and_hashable():
    cfg = RunConfig()
    with pytest.raises(AttributeError):
        cfg.agent.size = 3  # type: ignore[misc]
    assert hash(cfg) == hash(RunConfig())
    assert cfg.agent.position_limit == cfg.agent.size
    assert cfg.with_agent(size=3).agent.position_limit == 3
    assert cfg.with_agent(name="strategic").agent.params.imbalance == 0.7
    assert cfg.as_dict()["agent.short"] == 5 and cfg.as_dict()["flow.limit_rate"] == 20.0
