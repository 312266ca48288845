"""Flat options -> :class:`~lobkit.sim.config.RunConfig`: the one route of the CLI, the Python API and sweep grids.

Every field of the configuration is an *option* with a flat name:

* ``agent`` (a registered agent's name or ``package.module:Class``) and ``flow`` (``NAME`` or ``NAME:PATH``);
* the market's fields (``tick_size``, ``initial_mid``, ``snapshot``, ``capacity``, ...), the fields every agent has
  (``size``, ``max_position``, ``fee_per_lot``, ``fee_bps``), the agent's own parameters (``short``, ``long``,
  ``imbalance``, ...) and the flow model's parameters (``limit_rate``, ``cancel_rate``, ...), by their names;
* the durations ``duration``, ``warmup``, ``sample``, ``interval`` (the fields ``duration_ns``, ``warmup_ns``,
  ``sample_ns``, ``interval_ns``): ``"90s"``, ``"30min"``, ``"1h"``, or a bare number of **seconds**
  (``duration=3600`` is one hour); the ``*_ns`` names themselves take integer nanoseconds;
* ``record`` (keep the per-order logs).

A qualified name (``market.window``, ``agent.short``, ``flow.limit_rate``) always works and is required when a
name belongs to two parts. Values may be typed (the API, a TOML grid) or text (``--set short=3``, ``--short 3``, a
grid string): text is read according to the field's type. Defaults are the dataclasses' own defaults, stated once
there; an option left out (or ``None``) keeps the configuration's value.

Raises :class:`~lobkit.errors.ConfigError` naming the option for an unknown name, an ambiguous one or a bad value.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from lobkit.errors import ConfigError
from lobkit.sim.config import AgentConfig, FlowConfig, MarketConfig, RunConfig, parse_duration
from lobkit.validate import show

_PARTS = ("market", "agent", "agent.params", "flow.params", "run")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One option: ``name`` (what users write), where it goes (``part`` and dataclass ``field``), its declared
    ``hint`` and ``default``, and whether it takes a duration (a ``*_ns`` field reached by its short name)."""

    name: str
    part: str  # "market", "agent", "agent.params", "flow.params", "run", or "select" (agent / flow)
    field: str
    hint: Any
    default: Any
    duration: bool = False

    @property
    def qualified(self) -> str:
        """``market.window``, ``agent.short``, ``flow.limit_rate``, ``record``, ``agent``, ``flow``."""
        if self.part in ("run", "select"):
            return self.name
        return f"{self.part.split('.')[0]}.{self.name}"


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields_of(part: str, cls: type) -> list[Option]:
    out = []
    hints = _hints(cls)
    for f in fields(cls):
        if f.name in ("params", "name", "path") and part in ("agent", "flow"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Option(f.name, part, f.name, hints.get(f.name, Any), default))
        if f.name.endswith("_ns"):
            out.append(Option(f.name[:-3], part, f.name, int, default, duration=True))
    return out


def option_list(cfg: RunConfig | None = None) -> list[Option]:
    """Every option of ``cfg``'s market, agent (its class's parameters) and flow model (its parameters), in a
    stable order: selection (``agent``, ``flow``), market, agent, agent parameters, flow parameters, ``record``."""
    cfg = cfg or RunConfig()
    opts = [Option("agent", "select", "name", str, AgentConfig().name),
            Option("flow", "select", "name", str, FlowConfig().name)]
    opts += _fields_of("market", MarketConfig)
    opts += _fields_of("agent", AgentConfig)
    opts += _fields_of("agent.params", type(cfg.agent.params))
    opts += _fields_of("flow.params", type(cfg.flow.params))
    opts.append(Option("record", "run", "record", bool, False))
    return opts


def options_by_name(cfg: RunConfig | None = None) -> dict[str, Option | list[Option]]:
    """Every name an option answers to (its flat name and its qualified name) -> the option; a flat name shared
    by two parts maps to the list of candidates (ambiguous: qualify it)."""
    table: dict[str, Option | list[Option]] = {}
    for o in option_list(cfg):
        for key in {o.name, o.qualified}:
            prev = table.get(key)
            if prev is None:
                table[key] = o
            else:
                table[key] = [*(prev if isinstance(prev, list) else [prev]), o]
    return table


def resolve(cfg: RunConfig, name: str) -> Option:
    """The option ``name`` of ``cfg`` (ConfigError for an unknown or ambiguous name)."""
    if not isinstance(name, str):
        raise ConfigError(f"option names are strings, got {show(name)}")
    table = options_by_name(cfg)
    found = table.get(name)
    if found is None:
        if name == "seed":
            raise ConfigError("seed: pass it as seed= (the API) or --seed (the CLI), it is not a configuration "
                              "field")
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        what = f" (agent {cfg.agent.name}, flow {cfg.flow.name})"
        raise ConfigError(f"{name}: unknown option{what}{hint} (`lobkit options` lists them all)")
    if isinstance(found, list):
        raise ConfigError(f"{name}: ambiguous, write {' or '.join(o.qualified for o in found)}")
    return found


def _union_args(hint: Any) -> tuple:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def coerce(opt: Option, value: Any) -> Any:
    """``value`` (typed, or text from the command line) as the field's type. Bounds are checked by the config."""
    name = opt.name
    if opt.duration:
        return parse_duration(value, name)
    kinds = _union_args(opt.hint)
    if isinstance(value, str):
        text = value.strip()
        if type(None) in kinds and text.lower() in ("none", "null", ""):
            return None
        if bool in kinds:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ConfigError(f"{name}: expected true or false, got {show(value)}")
        if int in kinds:
            if opt.field.endswith("_ns") and not text.lstrip("+-").isdigit():
                return parse_duration(text, name)  # '--set duration_ns=1h' reads the unit
            try:
                return int(text)
            except ValueError:
                if float not in kinds:
                    raise ConfigError(f"{name}: expected an integer, got {show(value)}") from None
        if float in kinds:
            try:
                return float(text)
            except ValueError:
                raise ConfigError(f"{name}: expected a number, got {show(value)}") from None
        return text
    if isinstance(value, np.generic):
        value = value.item()
    if bool in kinds:
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected {_type_name(opt.hint)}, got {show(value)}")
    if int in kinds and float not in kinds and isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ConfigError(f"{name}: expected an integer, got {show(value)}")
    if float in kinds and isinstance(value, int):
        return float(value)
    return value


def apply_options(cfg: RunConfig | None = None, options: Mapping[str, Any] | None = None) -> RunConfig:
    """``cfg`` (default: the defaults) with ``options`` set; ``None`` values are skipped.

    ``agent`` and ``flow`` are applied first (a new agent or flow model starts from its own default parameters),
    then every other option; the dataclasses validate the result once.
    """
    from lobkit.flows import parse_flow_spec

    cfg = cfg or RunConfig()
    if not isinstance(cfg, RunConfig):
        raise ConfigError(f"config: expected a RunConfig, got {type(cfg).__name__}")
    given = {k: v for k, v in (options or {}).items() if v is not None}
    agent = given.pop("agent", given.pop("agent.name", None))
    flow = given.pop("flow", given.pop("flow.name", None))
    if agent is not None:
        if not isinstance(agent, str):
            raise ConfigError(f"agent: expected a name, got {show(agent)}")
        if agent != cfg.agent.name:
            cfg = replace(cfg, agent=replace(cfg.agent, name=agent, params=None))
    if flow is not None:
        name, path = parse_flow_spec(flow)
        if (name, path) != (cfg.flow.name, cfg.flow.path):
            new_flow = FlowConfig(name=name, path=path)
            # a model's file may fix market fields (a calibrated market's tick, lot, window): its values unless
            # given, set together with the flow (the model is checked against the market it implies)
            implied = {}
            for key, value in new_flow.model_class.market_defaults(path).items():
                opt = resolve(cfg, key)
                if not any(k in given for k in {opt.name, opt.qualified, opt.field, f"market.{opt.field}"}):
                    implied[opt.field] = value
            cfg = replace(cfg, flow=new_flow, market=replace(cfg.market, **implied) if implied else cfg.market)
    changes: dict[str, dict[str, Any]] = {p: {} for p in _PARTS}
    for key, value in given.items():
        opt = resolve(cfg, key)
        if opt.part == "select":  # agent.name / flow.name given twice under other names
            raise ConfigError(f"{key}: give the agent or flow model once")
        v = coerce(opt, value)
        prev = changes[opt.part].get(opt.field, dataclasses.MISSING)
        if prev is not dataclasses.MISSING and prev != v:
            raise ConfigError(f"{key}: given twice with different values ({show(prev)} and {show(v)})")
        changes[opt.part][opt.field] = v
    market = replace(cfg.market, **changes["market"]) if changes["market"] else cfg.market
    agent_params = cfg.agent.params
    if changes["agent.params"]:
        agent_params = _params(replace, agent_params, changes["agent.params"], f"agent {cfg.agent.name}")
    agent_cfg = cfg.agent
    if changes["agent"] or agent_params is not cfg.agent.params:
        agent_cfg = replace(cfg.agent, params=agent_params, **changes["agent"])
    flow_cfg = cfg.flow
    if changes["flow.params"]:
        flow_params = _params(replace, cfg.flow.params, changes["flow.params"], f"flow model {cfg.flow.name}")
        flow_cfg = replace(cfg.flow, params=flow_params)
    run = changes["run"]
    if market is cfg.market and agent_cfg is cfg.agent and flow_cfg is cfg.flow and not run:
        return cfg
    return replace(cfg, market=market, agent=agent_cfg, flow=flow_cfg, **run)


def _params(build, obj, changes: dict, what: str):
    """A model's or an agent's ``Params`` with ``changes``: its own checks' errors (a user's dataclass may raise
    ValueError or TypeError) become one-line ConfigErrors."""
    try:
        return build(obj, **changes)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what}: {exc}") from None


def describe_options(cfg: RunConfig | None = None) -> list[dict]:
    """The options of ``cfg`` as rows (``name``, ``qualified``, ``type``, ``default``) for ``lobkit options``."""
    rows = []
    for o in option_list(cfg):
        if o.part != "select" and o.field.endswith("_ns") and not o.duration:
            continue  # listed once, under its duration name
        kind = "duration" if o.duration else _type_name(o.hint)
        default = o.default
        if o.duration:
            from lobkit.sim.config import format_duration

            default = format_duration(default)
        rows.append({"name": o.name, "qualified": o.qualified, "type": kind, "default": default})
    return rows


def _type_name(hint: Any) -> str:
    names = [getattr(h, "__name__", str(h)) for h in _union_args(hint)]
    return " | ".join("none" if n == "NoneType" else n for n in names)
