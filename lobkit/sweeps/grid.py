"""Parameter grids for sweeps: parsing, cartesian product and application to a base configuration.

A grid is an ordered list of axes, each a parameter name and its values. It comes from a string
(``--grid "short=3,5,10 long=20,50,100"``, ranges as ``long=20:100:20``) or from a TOML file::

    [grid]
    short = [3, 5, 10]
    long = {start = 20, stop = 100, step = 20}   # 20, 40, 60, 80, 100 (stop included)
    size = 2                                      # a single value

Values are typed: integers, floats, booleans (``true``/``false``) and strings (``momentum``, ``30s``).
The configurations are the cartesian product of the axes in the order given (the first axis varies
slowest); a configuration's *index* is its position in that product, so it does not depend on which
combinations turn out to be invalid, on worker counts or on completion order.

A parameter name is a field of :class:`~lobkit.sim.config.AgentConfig` or
:class:`~lobkit.sim.config.MarketConfig` (``short``, ``size``, ``tick_size`` ...); ``agent.x`` or
``market.x`` disambiguates, ``agent`` is the agent's name, and ``interval`` stands for ``interval_ns``
(any ``*_ns`` field accepts durations such as ``"30s"``). Combinations the configuration rejects
(``short >= long``, a negative size, ...) are not errors of the grid: :func:`expand` reports them as
:class:`InvalidPoint` and the sweep skips them.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lobkit.errors import ConfigError

Scalar = int | float | bool | str

#: Largest number of values one range may produce (a typo such as ``step=0.0001`` fails clearly).
MAX_AXIS_VALUES = 1_000_000

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its name and its values, in order."""

    name: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ConfigError(f"grid: bad parameter name {self.name!r}")
        if not self.values:
            raise ConfigError(f"grid: parameter {self.name!r} has no values")
        for v in self.values:
            if not isinstance(v, int | float | bool | str):
                raise ConfigError(f"grid: parameter {self.name!r}: value {v!r} is not a number, boolean or string")
        kinds = {_kind(v) for v in self.values}
        if kinds == {"int", "float"}:  # 1, 2.5 -> 1.0, 2.5: one column type in the results table
            object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        elif len(kinds) > 1:
            raise ConfigError(f"grid: parameter {self.name!r} mixes value types: {list(self.values)}")
        if len(set(map(_key, self.values))) != len(self.values):
            raise ConfigError(f"grid: parameter {self.name!r} repeats a value: {list(self.values)}")


def _kind(v: Scalar) -> str:
    return type(v).__name__


def _key(v: Scalar) -> tuple[str, Scalar]:
    # 1 == 1.0 == True in Python; keep them apart when checking for repeated values
    return (type(v).__name__, v)


@dataclass(frozen=True)
class Grid:
    """An ordered set of axes; its points are their cartesian product (first axis slowest)."""

    axes: tuple[Axis, ...]

    def __post_init__(self) -> None:
        if not self.axes:
            raise ConfigError("grid: no parameters (expected e.g. 'short=3,5,10 long=20,50')")
        names = [a.name for a in self.axes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"grid: parameter {dup[0]!r} is given more than once")

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in axis order."""
        return tuple(a.name for a in self.axes)

    def __len__(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def points(self) -> Iterator[tuple[int, dict[str, Scalar]]]:
        """Yield ``(index, {name: value})`` for every combination, lazily, in index order."""
        for i, combo in enumerate(itertools.product(*(a.values for a in self.axes))):
            yield i, dict(zip(self.names, combo, strict=True))

    def to_dict(self) -> dict[str, list[Scalar]]:
        """A JSON-able form (``{name: [values]}``, insertion-ordered); :func:`grid_from_mapping` reads it back."""
        return {a.name: list(a.values) for a in self.axes}

    def describe(self) -> str:
        """One line such as ``short=3,5,10 long=20,50,100``."""
        return " ".join(f"{a.name}={','.join(map(str, a.values))}" for a in self.axes)


# --------------------------------------------------------------------------------------------- parsing


def parse_value(text: str) -> Scalar:
    """Type one value written on the command line: int, then float, then boolean, else string."""
    t = text.strip()
    if not t:
        raise ConfigError("grid: empty value")
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        return float(t)
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def _range(name: str, start: Any, stop: Any, step: Any) -> tuple[Scalar, ...]:
    for what, v in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"grid: parameter {name!r}: range {what} must be a finite number, got {v!r}")
    if step <= 0:
        raise ConfigError(f"grid: parameter {name!r}: range step must be > 0, got {step!r}")
    if stop < start:
        raise ConfigError(f"grid: parameter {name!r}: range stop {stop!r} is below start {start!r}")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > MAX_AXIS_VALUES:
        raise ConfigError(f"grid: parameter {name!r}: range has {n} values (at most {MAX_AXIS_VALUES})")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + i * step for i in range(n))
    # floats: round away the accumulated binary error (0.1 * 3 -> 0.3, not 0.30000000000000004)
    return tuple(round(start + i * step, 12) for i in range(n))


def _parse_axis_text(name: str, spec: str) -> Axis:
    if ":" in spec and "," not in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ConfigError(f"grid: parameter {name!r}: a range is start:stop:step, got {spec!r}")
        start, stop, step = (parse_value(p) for p in parts)
        return Axis(name, _range(name, start, stop, step))
    items = spec.split(",")
    if any(not s.strip() for s in items):
        raise ConfigError(f"grid: parameter {name!r}: empty value in {spec!r}")
    return Axis(name, tuple(parse_value(s) for s in items))


def parse_grid(text: str) -> Grid:
    """Parse ``"short=3,5,10 long=20,50,100"`` (axes separated by spaces or ``;``).

    ``name=a,b,c`` lists values; ``name=start:stop:step`` is a range with ``stop`` included when it
    falls on the step (``long=20:100:20`` is 20, 40, 60, 80, 100). Raises :class:`ConfigError` naming
    the offending part.
    """
    if text is None or not text.strip():
        raise ConfigError("grid: empty (expected e.g. 'short=3,5,10 long=20,50')")
    axes = []
    for tok in re.split(r"[\s;]+", text.strip()):
        if not tok:
            continue
        if "=" not in tok:
            raise ConfigError(f"grid: {tok!r} is not name=values (expected e.g. 'short=3,5,10')")
        name, spec = tok.split("=", 1)
        name = name.strip()
        if not _NAME_RE.match(name):
            raise ConfigError(f"grid: bad parameter name {name!r} in {tok!r}")
        if not spec.strip():
            raise ConfigError(f"grid: parameter {name!r} has no values")
        axes.append(_parse_axis_text(name, spec))
    return Grid(tuple(axes))


def _axis_from_toml(name: str, spec: Any) -> Axis:
    if isinstance(spec, Mapping):
        extra = set(spec) - {"start", "stop", "step"}
        missing = {"start", "stop", "step"} - set(spec)
        if extra or missing:
            raise ConfigError(
                f"grid: parameter {name!r}: a range is {{start, stop, step}}"
                + (f"; unknown key(s) {sorted(extra)}" if extra else "")
                + (f"; missing {sorted(missing)}" if missing else "")
            )
        return Axis(name, _range(name, spec["start"], spec["stop"], spec["step"]))
    if isinstance(spec, list):
        return Axis(name, tuple(spec))
    return Axis(name, (spec,))


def grid_from_mapping(mapping: Mapping[str, Any]) -> Grid:
    """Build a grid from ``{name: [values] | value | {start, stop, step}}`` (a TOML ``[grid]`` table)."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"grid: expected a table of parameters, got {type(mapping).__name__}")
    return Grid(tuple(_axis_from_toml(str(k), v) for k, v in mapping.items()))


def load_grid_file(path: str | Path) -> Grid:
    """Read the ``[grid]`` table of a TOML file. Errors name the file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"grid file {p}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid file {p}: not valid TOML: {exc}") from None
    if "grid" not in data:
        raise ConfigError(f"grid file {p}: no [grid] table (expected e.g. '[grid]\\nshort = [3, 5, 10]')")
    try:
        return grid_from_mapping(data["grid"])
    except ConfigError as exc:
        raise ConfigError(f"grid file {p}: {exc}") from None


# ------------------------------------------------------------------------- application to the config

_ALIASES = {"agent": ("agent", "name"), "interval": ("agent", "interval_ns")}


@dataclass(frozen=True)
class Target:
    """Where a grid parameter goes: ``part`` (``"agent"`` or ``"market"``) and the dataclass field."""

    part: str
    field: str


def _fields(obj: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(obj)}


def resolve_name(base_cfg: Any, name: str) -> Target:
    """Map a grid parameter name to the config field it sets; a clear error for an unknown name."""
    parts = {"agent": _fields(base_cfg.agent), "market": _fields(base_cfg.market)}
    if "." in name:
        part, fld = name.split(".", 1)
        if part not in parts:
            raise ConfigError(f"grid: {name!r}: prefix must be 'agent.' or 'market.'")
        for cand in (fld, fld + "_ns"):
            if cand in parts[part]:
                return Target(part, cand)
        raise ConfigError(f"grid: {part} has no parameter {fld!r} (it has: {', '.join(sorted(parts[part]))})")
    found = [Target(p, cand) for cand in (name, name + "_ns") for p in ("agent", "market") if cand in parts[p]]
    if found:
        if len({t.part for t in found if t.field == found[0].field}) > 1:
            raise ConfigError(f"grid: {name!r} is both an agent and a market parameter; write agent.{name} or "
                              f"market.{name}")
        return found[0]
    if name in _ALIASES and _ALIASES[name][1] in parts[_ALIASES[name][0]]:
        return Target(*_ALIASES[name])
    if name == "seed":
        raise ConfigError("grid: 'seed' cannot be swept; use --repeats (each repeat gets its own child seed)")
    known = sorted(set(parts["agent"]) | set(parts["market"]))
    raise ConfigError(f"grid: unknown parameter {name!r} (agent and market parameters: {', '.join(known)})")


def _coerce(value: Scalar, hint: Any, name: str) -> Any:
    """Convert a grid value to the field's declared type (int 3 -> 3.0 for a float field, "30s" -> ns)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if bool in options:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if int in options and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and name.endswith("_ns"):
            from lobkit.sim.config import parse_duration

            return parse_duration(value)
        if float not in options:
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if float in options and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def apply_params(base_cfg: Any, params: Mapping[str, Scalar]) -> Any:
    """Return ``base_cfg`` with the grid parameters set; the dataclasses validate the result.

    Raises :class:`ConfigError` (or whatever the config's validation raises) when the combination is
    invalid; :func:`expand` turns that into an :class:`InvalidPoint`.
    """
    changes: dict[str, dict[str, Any]] = {"agent": {}, "market": {}}
    for name, value in params.items():
        t = resolve_name(base_cfg, name)
        part_obj = getattr(base_cfg, t.part)
        hints = _hints(type(part_obj))
        changes[t.part][t.field] = _coerce(value, hints.get(t.field, Any), t.field)
    ag = changes["agent"]
    agent = dataclasses.replace(base_cfg.agent, **ag) if ag else base_cfg.agent
    market = dataclasses.replace(base_cfg.market, **changes["market"]) if changes["market"] else base_cfg.market
    return dataclasses.replace(base_cfg, agent=agent, market=market)


@dataclass(frozen=True)
class Point:
    """A valid configuration of the grid."""

    index: int
    params: dict[str, Scalar]
    cfg: Any


@dataclass(frozen=True)
class InvalidPoint:
    """A combination the configuration rejected, with the reason; the sweep skips it."""

    index: int
    params: dict[str, Scalar]
    error: str


def check_names(base_cfg: Any, grid: Grid) -> None:
    """Fail early, with a clear error, on a parameter name the configuration does not have."""
    for name in grid.names:
        resolve_name(base_cfg, name)


def expand(base_cfg: Any, grid: Grid) -> Iterator[Point | InvalidPoint]:
    """Yield every point of ``grid`` applied to ``base_cfg``, lazily, in index order.

    Unknown parameter names raise :class:`ConfigError` before anything is yielded (a mistake in the
    grid); combinations the config rejects are yielded as :class:`InvalidPoint`.
    """
    check_names(base_cfg, grid)
    for index, params in grid.points():
        try:
            cfg = apply_params(base_cfg, params)
        except (ConfigError, ValueError, TypeError) as exc:
            yield InvalidPoint(index, params, str(exc) or type(exc).__name__)
        else:
            yield Point(index, params, cfg)


def as_grid(grid: Grid | str | Mapping[str, Any] | Sequence[Axis] | Path) -> Grid:
    """Accept a :class:`Grid`, a grid string, a TOML path, a ``{name: values}`` mapping or axes."""
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, Path) or (isinstance(grid, str) and grid.endswith(".toml")):
        return load_grid_file(grid)
    if isinstance(grid, str):
        return parse_grid(grid)
    if isinstance(grid, Mapping):
        return grid_from_mapping(grid)
    return Grid(tuple(grid))
