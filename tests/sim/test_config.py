import pytest

from lobkit.errors import ConfigError
from lobkit.sim import AgentConfig, MarketConfig, RunConfig, format_duration, parse_duration


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
        (7, 7),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("bad", ["", "10", "ten minutes", "5 parsecs", "-3s", "1h30", None, 1.5, True, -1])
def test_parse_duration_rejects(bad):
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(bad)


def test_format_duration_round_trip():
    for text in ("1h", "30min", "90s", "250ms", "2d"):
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"name": "martingale"}, "name"),
        ({"size": -1}, "size"),
        ({"size": 0}, "size"),
        ({"short": 20, "long": 20}, "short"),
        ({"short": 30, "long": 20}, "short"),
        ({"order_type": "stop"}, "order_type"),
        ({"fee_bps": -1.0}, "fee_bps"),
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
        ({"excite_market_same": 0.9, "excite_market_cross": 0.2}, "excite_market_same"),
        ({"limit_rate": -1.0}, "limit_rate"),
        ({"activity_coupling": 1.5}, "activity_coupling"),
        ({"capacity": 10}, "capacity"),
    ],
)
def test_market_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        MarketConfig(**kw)


def test_configs_are_frozen_and_hashable():
    cfg = RunConfig()
    with pytest.raises(AttributeError):
        cfg.agent.size = 3  # type: ignore[misc]
    assert hash(cfg) == hash(RunConfig())
    assert cfg.agent.position_limit == cfg.agent.size
    assert cfg.with_agent(size=3).agent.position_limit == 3
    assert cfg.with_agent(size=3).agent.size == 3
    assert cfg.as_dict()["agent.short"] == 5
