"""Grid parsing (string and TOML, ranges, typed values), bad input, and application to the run config."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


#: Grid texts that parse, and the axes they give (name, values with their Python types).
ACCEPTED = [
    ("short=3,5,10", [("short", (3, 5, 10))]),
    ("short=3  long=20;size=1", [("short", (3,)), ("long", (20,)), ("size", (1,))]),
    ("  short=3 ;; long=4  ", [("short", (3,)), ("long", (4,))]),
    ("x=-2,+3", [("x", (-2, 3))]),
    ("fee_bps=0.5,1e-1,.25,2.", [("fee_bps", (0.5, 0.1, 0.25, 2.0))]),
    ("x=1,2.5", [("x", (1.0, 2.5))]),
    ("x=true,FALSE", [("x", (True, False))]),
    ("agent=momentum,null", [("agent", ("momentum", "null"))]),
    ("duration=30s,1.5h,500µs", [("duration", ("30s", "1.5h", "500µs"))]),
    ("snapshot=data/base.db,~/x-1.db", [("snapshot", ("data/base.db", "~/x-1.db"))]),
    ("agent=\"3\",'true'", [("agent", ("3", "true"))]),
    ('snapshot="my data.db"', [("snapshot", ("my data.db",))]),
    ('snapshot="C:/a;b=c,d:e"', [("snapshot", ("C:/a;b=c,d:e",))]),
    ("long=20:100:20", [("long", (20, 40, 60, 80, 100))]),
    ("long=20:99:20", [("long", (20, 40, 60, 80))]),
    ("x=-1:1:1", [("x", (-1, 0, 1))]),
    ("fee_bps=0:0.3:0.1", [("fee_bps", (0.0, 0.1, 0.2, 0.3))]),
    ("agent.size=1 market.tick_size=0.01", [("agent.size", (1,)), ("market.tick_size", (0.01,))]),
    ("x=9223372036854775807", [("x", (9223372036854775807,))]),
]

#: Grid texts that are refused up front, and a part of the message (which names the offending token).
REFUSED = [
    ("", "empty"),
    ("   ;  ", "no parameters"),
    ("short", "'short' is not name=values"),
    ("short=[3,5]", "'short=[3,5]': character '['"),
    ("short={3,5}", "character '{'"),
    ("short=(3)", "character '('"),
    ("short=3=4", "'short=3=4': '=' inside a value"),
    ("short==3", "'short==3': '=' inside a value"),
    ("short=3,,5", "empty value in 'short=3,,5'"),
    ("short=3,", "empty value in 'short=3,'"),
    ("short=,3", "empty value in 'short=,3'"),
    ("short=3, 5", "empty value in 'short=3,'"),
    ("short=", "'short=' has no values"),
    ("=3", "'=3' has no parameter name"),
    ("1x=3", "bad parameter name '1x'"),
    ("a.b.c=3", "bad parameter name 'a.b.c'"),
    ('agent="momentum', "unbalanced quote in 'agent=\"momentum'"),
    ("agent='x", "unbalanced quote in 'agent='x'"),
    ('short=3 agent="a', "unbalanced quote in 'agent=\"a'"),
    ('agent=mo"men"tum', "a quote inside the value"),
    ('agent="mo"mentum', "a quoted value must be the whole value"),
    ('agent=""', "empty value"),
    ("agent=mom entum", "'entum' is not name=values"),
    ("short = 3", "'short' is not name=values"),
    ("short=1:x:2", "'short=1:x:2': range stop must be a finite number, got x"),
    ("short=a:5:1", "range start must be a finite number, got a"),
    ("short=1:5:true", "range step must be a finite number, got true"),
    ("short=nan:5:1", "range start must be a finite number, got nan"),
    ("short=:5:1", "range start must be a finite number, got nothing"),
    ("short=1:5", "start:stop:step"),
    ("short=1:5:1:2", "start:stop:step"),
    ("short=1:5:1,7", "':' inside a list"),
    ("short=1:5:0", "step must be > 0"),
    ("long=5:1:1", "below start"),
    ("short=0:1e9:1", "at most"),
    ("short=nan", "'short=nan': nan is not a finite number"),
    ("short=inf,1", "inf is not a finite number"),
    ("short=1e999", "1e999 is not a finite number"),
    ("short=99999999999999999999", "outside the 64-bit integer range"),
    ("short=1 short=2", "short is given more than once"),
    ("short=1,1", "repeats the value 1"),
    ("short=1,a", "mixes value types"),
    ("x=true,1", "mixes value types"),
    ("short=3#", "character '#'"),
    ("short=3\\", "character '\\'"),
]


@pytest.mark.parametrize(("text", "axes"), ACCEPTED)
def test_accepted_grid_texts(text, axes):
    g = parse_grid(text)
    assert [(a.name, a.values) for a in g.axes] == axes
    for a, (_, values) in zip(g.axes, axes, strict=True):
        assert [type(v) for v in a.values] == [type(v) for v in values]
    assert parse_grid(g.describe()) == g


@pytest.mark.parametrize(("text", "needle"), REFUSED)
def test_refused_grid_texts_are_syntax_errors_naming_the_token(text, needle):
    with pytest.raises(ConfigError) as ei:
        parse_grid(text)
    msg = str(ei.value)
    assert needle in msg, msg
    assert msg.startswith("grid: ") and "\n" not in msg


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[A-Za-z_][A-Za-z0-9_]{0,6})?", fullmatch=True)
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: not ('"' in s and "'" in s))
_VALUES = st.one_of(
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=5, unique=True),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=5, unique=True),
    st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
    st.lists(_TEXT, min_size=1, max_size=5, unique=True),
)


@st.composite
def grids(draw):
    names = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    return Grid(tuple(Axis(n, tuple(draw(_VALUES))) for n in names))


@settings(max_examples=300, deadline=None)
@given(grids())
def test_describe_then_parse_gives_the_same_grid(g):
    text = g.describe()
    back = parse_grid(text)
    assert back == g, text
    for a, b in zip(back.axes, g.axes, strict=True):  # same types too (1 == 1.0 == True in Python)
        assert [type(v) for v in a.values] == [type(v) for v in b.values]


def test_numpy_values_are_plain_python_values_in_axes_and_messages():
    import numpy as np

    a = Axis("size", (np.int64(3), np.float64(2.5)))
    assert a.values == (3.0, 2.5) and all(type(v) is float for v in a.values)
    with pytest.raises(ConfigError) as ei:
        Axis("size", (np.float64(3.0), np.float64(3.0)))
    assert "repeats the value 3.0" in str(ei.value) and "np." not in str(ei.value)
    with pytest.raises(ConfigError) as ei:
        Axis("size", (np.float64("nan"),))
    assert "nan is not a finite number" in str(ei.value) and "np." not in str(ei.value)


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
    pairs = [(p.cfg.agent.params.short, p.cfg.agent.params.long) for p in valid]
    assert pairs == [(3, 20), (3, 50), (20, 50), (30, 50)]


def test_apply_params_types_durations_and_sides():
    base = RunConfig()
    cfg = apply_params(base, {"duration": "10min", "interval": "500ms", "fee_bps": 1, "limit_rate": 20,
                              "agent": "null", "flow.max_depth": 90})
    assert cfg.market.duration_ns == parse_duration("10min")
    assert cfg.agent.interval_ns == 500_000_000
    assert cfg.agent.fee_bps == 1.0 and type(cfg.agent.fee_bps) is float
    assert cfg.flow.params.limit_rate == 20.0 and cfg.agent.name == "null" and cfg.flow.params.max_depth == 90
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
    with pytest.raises(ConfigError, match="shrot: unknown option"):
        list(expand(RunConfig(), parse_grid("shrot=3,5")))
    with pytest.raises(ConfigError, match="seed"):
        list(expand(RunConfig(), parse_grid("seed=1,2")))
    with pytest.raises(ConfigError, match="foo.short: unknown option"):
        list(expand(RunConfig(), parse_grid("foo.short=1")))


def test_grid_roundtrip_dict():
    g = Grid((Axis("short", (3, 5)), Axis("long", (20, 50))))
    assert grid_from_mapping(g.to_dict()) == g
    assert g.describe() == "short=3,5 long=20,50"
