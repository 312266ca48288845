"""Grid parsing (string and TOML, ranges, typed values), bad input, and application to the run config."""

from __future__ import annotations

import pytest

from lobkit.errors import ConfigError
from lobkit.sim.config import RunConfig, parse_duration
from lobkit.sweeps.grid import (
    Axis,
    Grid,
    InvalidPoint,
    Point,
    apply_params,
    expand,
    grid_from_mapping,
    load_grid_file,
    parse_grid,
)


def test_parse_string_typed_values_and_product_order():
    g = parse_grid("short=3,5,10 long=20,50,100")
    assert g.names == ("short", "long")
    assert g.axes[0].values == (3, 5, 10) and all(type(v) is int for v in g.axes[0].values)
    assert len(g) == 9
    pts = list(g.points())
    assert pts[0] == (0, {"short": 3, "long": 20})
    assert pts[1] == (1, {"short": 3, "long": 50})  # first axis slowest
    assert pts[-1] == (8, {"short": 10, "long": 100})


def test_parse_string_types_and_separators():
    g = parse_grid("fee_bps=0.5,1e-1;order_type=market,limit  duration=30s,1h")
    assert g.axes[0].values == (0.5, 0.1)
    assert g.axes[1].values == ("market", "limit")
    assert g.axes[2].values == ("30s", "1h")
    assert parse_grid("x=true,false").axes[0].values == (True, False)
    assert parse_grid("x=1,2.5").axes[0].values == (1.0, 2.5)  # one column type


def test_parse_string_range_includes_stop():
    assert parse_grid("long=20:100:20").axes[0].values == (20, 40, 60, 80, 100)
    assert parse_grid("long=20:99:20").axes[0].values == (20, 40, 60, 80)
    assert parse_grid("fee_bps=0:0.3:0.1").axes[0].values == (0.0, 0.1, 0.2, 0.3)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("short", "not name=values"),
        ("short=", "no values"),
        ("short=1,,2", "empty value"),
        ("short=1:5", "start:stop:step"),
        ("short=1:5:0", "step must be > 0"),
        ("long=5:1:1", "below start"),
        ("short=1 short=2", "more than once"),
        ("short=1,1", "repeats a value"),
        ("short=1,a", "mixes value types"),
        ("1x=3", "bad parameter name"),
        ("short=0:1e9:1", "at most"),
    ],
)
def test_parse_string_bad_input_is_a_clear_error(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_grid(text)


def test_toml_lists_ranges_scalars(tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('[grid]\nshort = [3, 5, 10]\nlong = {start = 20, stop = 100, step = 20}\n'
                 'fee_bps = {start = 0.0, stop = 0.2, step = 0.1}\norder_type = "market"\n')
    g = load_grid_file(p)
    assert g.names == ("short", "long", "fee_bps", "order_type")
    assert g.axes[1].values == (20, 40, 60, 80, 100)
    assert g.axes[2].values == (0.0, 0.1, 0.2)
    assert g.axes[3].values == ("market",)
    assert len(g) == 3 * 5 * 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("short = [3, 5", "not valid TOML"),
        ("[other]\nshort = [3]", r"no \[grid\] table"),
        ("[grid]\nlong = {start = 20, stop = 100}", "missing"),
        ("[grid]\nlong = {start = 20, stop = 100, step = 20, num = 3}", "unknown key"),
        ("[grid]\nlong = {start = 20, stop = 100, step = -1}", "step must be > 0"),
        ("[grid]\nlong = {start = 'a', stop = 100, step = 1}", "finite number"),
        ("[grid]\nlong = []", "no values"),
        ("[grid]\nlong = [[1, 2]]", "not a number"),
        ("[grid]\n", "no parameters"),
    ],
)
def test_toml_bad_input_names_the_file(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle) as ei:
        load_grid_file(p)
    assert "bad.toml" in str(ei.value)


def test_toml_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_grid_file(tmp_path / "nope.toml")


def test_expand_reports_invalid_combinations_and_keeps_indices():
    base = RunConfig()
    pts = list(expand(base, parse_grid("short=3,20,30 long=20,50")))
    assert [p.index for p in pts] == list(range(6))
    invalid = [p for p in pts if isinstance(p, InvalidPoint)]
    assert [(p.params["short"], p.params["long"]) for p in invalid] == [(20, 20), (30, 20)]
    assert all("short" in p.error and "long" in p.error for p in invalid)
    valid = [p for p in pts if isinstance(p, Point)]
    assert [(p.cfg.agent.short, p.cfg.agent.long) for p in valid] == [(3, 20), (3, 50), (20, 50), (30, 50)]


def test_apply_params_types_durations_and_sides():
    base = RunConfig()
    cfg = apply_params(base, {"duration": "10min", "interval": "500ms", "fee_bps": 1, "limit_rate": 20,
                              "agent": "null", "market.max_depth": 90})
    assert cfg.market.duration_ns == parse_duration("10min")
    assert cfg.agent.interval_ns == 500_000_000
    assert cfg.agent.fee_bps == 1.0 and type(cfg.agent.fee_bps) is float
    assert cfg.market.limit_rate == 20.0 and cfg.agent.name == "null" and cfg.market.max_depth == 90
    # the default position limit (max_position None: = size) follows a swept size
    assert apply_params(base, {"size": 3}).agent.position_limit == 3
    bad = list(expand(base.with_agent(max_position=2), parse_grid("size=1,3")))
    assert isinstance(bad[0], Point) and isinstance(bad[1], InvalidPoint) and "max_position" in bad[1].error


def test_expand_invalid_values_of_the_config():
    pts = list(expand(RunConfig(), grid_from_mapping({"size": [-1, 1, 1.5], "agent": ["momentum", "bogus"]})))
    bad = {(p.params["size"], p.params["agent"]): p.error for p in pts if isinstance(p, InvalidPoint)}
    assert set(bad) == {(-1, "momentum"), (-1, "bogus"), (1.5, "momentum"), (1.5, "bogus"), (1, "bogus")}
    assert "size" in bad[(-1, "momentum")] and "unknown agent" in bad[(1, "bogus")]


def test_unknown_parameter_is_a_clear_error_not_a_skip():
    with pytest.raises(ConfigError, match="unknown parameter 'shrot'"):
        list(expand(RunConfig(), parse_grid("shrot=3,5")))
    with pytest.raises(ConfigError, match="seed"):
        list(expand(RunConfig(), parse_grid("seed=1,2")))
    with pytest.raises(ConfigError, match="prefix"):
        list(expand(RunConfig(), parse_grid("foo.short=1")))


def test_grid_roundtrip_dict():
    g = Grid((Axis("short", (3, 5)), Axis("long", (20, 50))))
    assert grid_from_mapping(g.to_dict()) == g
    assert g.describe() == "short=3,5 long=20,50"
