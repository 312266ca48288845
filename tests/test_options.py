"""One route from the CLI to the library: every configuration field is reachable from the CLI, the API and a
sweep grid, by the same name, with the same default; seeds and repeats are validated in one place each."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from click.testing import CliRunner

import lobkit
from lobkit.agents import agent_names
from lobkit.cli import main as cli
from lobkit.errors import ConfigError
from lobkit.flows import flow_names
from lobkit.seeds import DEFAULT_SEED
from lobkit.sim import RunConfig
from lobkit.sim.options import apply_options, option_list
from lobkit.sweeps.grid import apply_params


def _config_from_cli(*args) -> RunConfig:
    """The RunConfig `lobkit run` builds (its summary.json holds the config; the run itself is tiny)."""
    from lobkit.cli.sim import options_from_cli

    ctx = cli.commands["run"].make_context("run", ["--out", "x", *args])
    params = dict(ctx.params)
    for k in ("out", "no_record", "python_agent", "progress", "as_json", "seed"):
        params.pop(k)
    return lobkit.build_config(**options_from_cli(params))


def _a_different_value(opt, cfg):
    """A valid value other than the default, as text (how the CLI passes it)."""
    field_default = opt.default
    specials = {"snapshot": None, "initial_book": None, "max_position": "3", "flow": None, "agent": None,
                "order_type": "limit",
                "side": "sell", "record": "true", "window": "16384", "capacity": "65536", "initial_mid": "250.0",
                "interval_ns": "2000000000", "interval": "2s", "duration": "2h", "duration_ns": "7200000000000",
                "warmup": "10min", "warmup_ns": "600000000000", "sample": "2s", "sample_ns": "2000000000",
                "short": "3", "long": "30", "imbalance": "0.8", "max_depth": "80", "limit_depth_mean": "10.0",
                "excite_market_same": "0.5", "excite_market_cross": "0.1", "excite_limit_limit": "0.5",
                "min_orders": "5", "target_orders": "100",
                "max_market_size": "50", "size": "2", "lots": "3", "init_levels": "20",
                "efficient_price_share": "0.5", "activity_coupling": "0.5"}
    if opt.name in specials:
        return specials[opt.name]
    if isinstance(field_default, bool):
        return str(not field_default).lower()
    if isinstance(field_default, int):
        return str(field_default + 1)
    if isinstance(field_default, float):
        return repr(field_default * 1.5 if field_default else 0.5)
    raise AssertionError(f"no test value for {opt.qualified}")


def _value_at(cfg: RunConfig, opt):
    part = {"market": cfg.market, "agent": cfg.agent, "agent.params": cfg.agent.params,
            "flow.params": cfg.flow.params, "run": cfg}[opt.part]
    return getattr(part, opt.field)


CASES = [(agent, flow) for agent in agent_names() for flow in flow_names()]


@pytest.mark.parametrize("agent,flow", CASES)
def test_every_field_is_reachable_from_the_cli_and_the_api_with_the_same_default(agent, flow, flow_spec):
    flow = flow_spec(flow)
    base = apply_options(None, {"agent": agent, "flow": flow})
    # the defaults: the CLI with nothing given, the API with nothing given and the dataclasses agree
    assert _config_from_cli("--agent", agent, "--flow", flow) == lobkit.build_config(agent=agent, flow=flow) == base
    fields_seen = set()
    for opt in option_list(base):
        if opt.part == "select":
            continue
        # a model file's market (tick, lot) and parameters (a calibration's) are the defaults of its flow
        implied = base.flow.model_class.market_defaults(base.flow.path)
        file_params = base.flow.model_class.default_params(base.flow.path) if base.flow.path else None
        assert opt.default == _value_at(base, opt) or opt.duration or (
            opt.part == "market" and _value_at(base, opt) == implied.get(opt.field)) or (
            opt.part == "flow.params" and file_params is not None
            and _value_at(base, opt) == getattr(file_params, opt.field)), opt.qualified
        value = _a_different_value(opt, base)
        if value is None:
            continue
        via_api = lobkit.build_config(agent=agent, flow=flow, **{opt.qualified: value})
        via_cli = _config_from_cli("--agent", agent, "--flow", flow, "--set", f"{opt.qualified}={value}")
        via_grid = apply_params(base, {opt.qualified: value})
        assert via_api == via_cli == via_grid, opt.qualified
        assert _value_at(via_api, opt) != _value_at(base, opt), opt.qualified
        fields_seen.add((opt.part, opt.field))
    # every field of every configuration dataclass was walked
    expected = set()
    for part, obj in (("market", base.market), ("agent", base.agent), ("agent.params", base.agent.params),
                      ("flow.params", base.flow.params)):
        for f in dataclasses.fields(obj):
            if (part, f.name) not in (("agent", "params"), ("agent", "name")):
                expected.add((part, f.name))
    # paths: reached by --snapshot / --initial-book, tested with real data and model files elsewhere
    expected -= {("market", "snapshot"), ("market", "initial_book")}
    assert expected <= fields_seen


def test_dedicated_cli_options_equal_set_options():
    a = _config_from_cli("--duration", "2h", "--warmup", "1min", "--size", "3", "--short", "4", "--long", "9",
                         "--tick-size", "0.05", "--fee-bps", "1.5", "--interval", "500ms")
    b = _config_from_cli("--set", "duration=2h", "--set", "warmup=1min", "--set", "size=3", "--set", "short=4",
                         "--set", "long=9", "--set", "tick_size=0.05", "--set", "fee_bps=1.5", "--set",
                         "interval=500ms")
    assert a == b == lobkit.build_config(duration="2h", warmup="1min", size=3, short=4, long=9, tick_size=0.05,
                                         fee_bps=1.5, interval="500ms")


def test_a_bare_number_is_seconds_everywhere():
    assert lobkit.build_config(duration=3600) == lobkit.build_config(duration="1h") == _config_from_cli(
        "--duration", "3600")
    assert lobkit.build_config(interval=0.5).agent.interval_ns == 500_000_000
    # the *_ns fields take nanoseconds
    assert lobkit.build_config(duration_ns=3_600_000_000_000).market.duration_ns == 3_600_000_000_000


def test_one_default_seed_everywhere():
    assert DEFAULT_SEED is None
    from lobkit.data.sample import write_sample_db
    from lobkit.sweeps.runner import sweep

    for fn in (lobkit.run, lobkit.compare, lobkit.impact, lobkit.sweep, sweep, write_sample_db):
        assert inspect.signature(fn).parameters["seed"].default is DEFAULT_SEED, fn.__name__
    for cmd in ("run", "compare", "impact", "sweep", "sample-data"):
        opt = next(p for p in cli.commands[cmd].params if p.name == "seed")
        assert opt.default is None, cmd


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True, None.__class__])
def test_seeds_are_validated_once(bad):
    from lobkit.seeds import seed_sequence

    with pytest.raises(ConfigError, match="seed"):
        seed_sequence(bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", 2_000_000])
def test_repeats_are_validated_once(bad):
    with pytest.raises(ConfigError, match="repeats"):
        lobkit.compare(repeats=bad, duration="2min", warmup="30s")
    from lobkit.sweeps.runner import sweep

    with pytest.raises(ConfigError, match="repeats"):
        sweep(RunConfig(), "short=3", repeats=bad, out="/nonexistent-never-written")


def test_the_strategic_agents_parameter_reaches_run_and_compare():
    r = CliRunner().invoke(cli, ["options", "--agent", "strategic", "--json"])
    assert any(row["qualified"] == "agent.imbalance" for row in json.loads(r.output))
    cfg = _config_from_cli("--agent", "strategic", "--imbalance", "0.8")
    assert cfg.agent.params.imbalance == 0.8
    ctx = cli.commands["compare"].make_context("compare", ["--out", "x", "--agent", "strategic", "--imbalance", "0.8"])
    assert ctx.params["imbalance"] == "0.8"


def test_names_shared_by_two_parts_must_be_qualified():
    from lobkit.sim.options import resolve

    # the impulse agent's `side` and nothing else; an unknown name suggests the close ones
    with pytest.raises(ConfigError, match="did you mean short"):
        resolve(RunConfig(), "shrt")


def test_experiment_settings_have_the_same_defaults_in_the_cli_and_the_api():
    """Beyond the configuration: repeats, pairs, lots, horizon, side, jobs, out, backend, metric."""
    pairs = {("compare", lobkit.compare): ("repeats",),
             ("impact", lobkit.impact): ("lots", "pairs", "horizon", "side"),
             ("sweep", lobkit.sweep): ("repeats", "jobs", "out", "backend", "metric")}
    for (cmd, fn), names in pairs.items():
        api = inspect.signature(fn).parameters
        opts = {p.name: p.default for p in cli.commands[cmd].params}
        for name in names:
            a, c = api[name].default, opts[name]
            if isinstance(a, tuple):
                a = ",".join(map(str, a))
            assert str(a) == str(c), (cmd, name, a, c)
