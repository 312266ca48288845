"""Parameter grids for sweeps: parsing, cartesian product and application to a base configuration.

A grid is an ordered list of axes, each a parameter name and its values. It comes from a string
(``--grid "short=3,5,10 long=20,50,100"``, ranges as ``long=20:100:20``) or from a TOML file::

    [grid]
    short = [3, 5, 10]
    long = {start = 20, stop = 100, step = 20}   # 20, 40, 60, 80, 100 (stop included)
    size = 2                                      # a single value

The string syntax (:func:`parse_grid`; :meth:`Grid.describe` writes it, and parsing that text gives the
same grid back)::

    grid   = axis { sep axis }          sep: whitespace or ';'
    axis   = name '=' ( range | value { ',' value } )
    name   = identifier [ '.' identifier ]              short, agent.size, market.tick_size
    range  = number ':' number ':' number               start:stop:step, stop included when on the step
    value  = word | '"' text '"' | "'" text "'"
    word   = letters, digits and _ . + - / ~ @ % only   3, -2.5, 1e-3, true, momentum, 30s, data/base.db

An unquoted word is typed: an integer, then a finite float, then ``true``/``false``, else a string; a quoted
value is always a string (``agent="3"``, ``snapshot="my data.db"``). Anything else (``short=[3,5]``,
``short=3=4``, ``short=3,,5``, ``short=``, ``=3``, an unbalanced quote, a range of non-numbers, ``nan``) is a
syntax error naming the offending part, raised before anything runs.

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

import itertools
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lobkit.errors import ConfigError

Scalar = int | float | bool | str

#: Largest number of values one range may produce (a typo such as ``step=0.0001`` fails clearly).
MAX_AXIS_VALUES = 1_000_000
#: Integer values must fit the results table's 64-bit integer columns.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$", re.IGNORECASE)
_WORD_RE = re.compile(r"^[\w.+\-/~@%]+$")
_QUOTES = "\"'"


def show_value(v: Any) -> str:
    """A grid value as a user writes it in a grid string (``3``, ``0.5``, ``true``, ``momentum``,
    ``"my file.db"``), for messages; NumPy scalars as plain numbers, other objects by ``str``."""
    if hasattr(v, "item") and type(v).__module__ == "numpy":
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, str):
        return _quote_if_needed(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(show_value(x) for x in v) + "]"
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _quote_if_needed(s: str) -> str:
    try:
        plain = _WORD_RE.match(s) is not None and _type_word(s) == s
    except ConfigError:
        plain = False
    if plain:
        return s
    q = '"' if '"' not in s else "'"
    return f"{q}{s}{q}"


def _normalise(v: Any) -> Any:
    """NumPy scalars as the Python scalars they hold (``np.float64(3.0)`` -> ``3.0``)."""
    if type(v).__module__ == "numpy" and hasattr(v, "item"):
        try:
            return v.item()
        except (TypeError, ValueError):
            return v
    return v


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its name and its values, in order.

    Values are ``int`` (64-bit range), finite ``float``, ``bool`` or a non-empty ``str`` without control
    characters (NumPy scalars are converted); one type per axis, except that integers and floats together
    become floats (one column type in the results table); no value twice. Raises :class:`ConfigError`.
    """

    name: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ConfigError(f"grid: bad parameter name {show_value(self.name)} (expected e.g. short or agent.size)")
        values = self.values
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            values = (values,)
        values = tuple(_normalise(v) for v in values)
        if not values:
            raise ConfigError(f"grid: parameter {self.name} has no values")
        for v in values:
            _check_value(self.name, v)
        kinds = {_kind(v) for v in values}
        if kinds == {"int", "float"}:  # 1, 2.5 -> 1.0, 2.5: one column type in the results table
            values = tuple(float(v) for v in values)
        elif len(kinds) > 1:
            words = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}
            raise ConfigError(f"grid: parameter {self.name} mixes value types "
                              f"({', '.join(sorted(words.get(k, k) for k in kinds))}): "
                              f"{','.join(map(show_value, values))}")
        keys = [_key(v) for v in values]
        if len(set(keys)) != len(keys):
            dup = next(v for v, k in zip(values, keys, strict=True) if keys.count(k) > 1)
            raise ConfigError(f"grid: parameter {self.name} repeats the value {show_value(dup)}")
        object.__setattr__(self, "values", values)


def _check_value(name: str, v: Any) -> None:
    if isinstance(v, bool):
        return
    if isinstance(v, int):
        if not INT64_MIN <= v <= INT64_MAX:
            raise ConfigError(f"grid: parameter {name}: {v} is outside the 64-bit integer range")
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"grid: parameter {name}: {show_value(v)} is not a finite number")
        return
    if isinstance(v, str):
        if not v:
            raise ConfigError(f"grid: parameter {name}: empty value")
        bad = next((c for c in v if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            raise ConfigError(f"grid: parameter {name}: value {show_value(v.encode('unicode_escape').decode())} "
                              "contains a control character")
        if '"' in v and "'" in v:
            raise ConfigError(f"grid: parameter {name}: a value cannot contain both kinds of quote: {v}")
        return
    raise ConfigError(f"grid: parameter {name}: value {show_value(v)} is not a number, boolean or string")


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
        axes = tuple(self.axes)
        if not axes:
            raise ConfigError("grid: no parameters (expected e.g. 'short=3,5,10 long=20,50')")
        for a in axes:
            if not isinstance(a, Axis):
                raise ConfigError(f"grid: expected Axis objects, got {type(a).__name__}")
        names = [a.name for a in axes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"grid: parameter {dup[0]} is given more than once")
        object.__setattr__(self, "axes", axes)

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
        """The grid in the string syntax, one line such as ``short=3,5,10 long=20,50,100``;
        ``parse_grid(g.describe()) == g``."""
        return " ".join(f"{a.name}={','.join(map(show_value, a.values))}" for a in self.axes)


# --------------------------------------------------------------------------------------------- parsing


def _type_word(t: str) -> Scalar:
    """Type an unquoted word: int, then finite float, then boolean, else string."""
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        v = float(t)
        if not math.isfinite(v):
            raise ConfigError(f"{t} is not a finite number")
        return v
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def parse_value(text: str) -> Scalar:
    """Type one value written in a grid string: an unquoted word is an int, then a finite float, then a
    boolean (``true``/``false``), else a string; a quoted value (``"..."`` or ``'...'``) is a string.

    Raises :class:`ConfigError` for an empty value, a character that needs quoting, an unbalanced quote or a
    non-finite number (``nan``, ``inf``, ``1e999``).
    """
    t = text.strip()
    if not t:
        raise ConfigError("grid: empty value")
    if t[0] in _QUOTES:
        if len(t) < 2 or t[-1] != t[0] or t[0] in t[1:-1]:
            raise ConfigError(f"grid: unbalanced quote in '{t}'")
        if len(t) == 2:
            raise ConfigError(f"grid: empty value {t}")
        return t[1:-1]
    bad = next((c for c in t if not _WORD_RE.match(c)), None)
    if bad is not None:
        raise ConfigError(f"grid: character '{bad}' in '{t}' needs quotes")
    try:
        return _type_word(t)
    except ConfigError as exc:
        raise ConfigError(f"grid: {exc}") from None


def _is_sep(c: str) -> bool:
    return c.isspace() or c == ";"


def _split_outside_quotes(text: str, is_sep: Any) -> tuple[list[tuple[int, str]], int | None]:
    """Split ``text`` at characters ``is_sep(c)`` that are outside quotes. Returns the pieces with their start
    offsets, and the offset of a quote left open (None when every quote is closed)."""
    pieces: list[tuple[int, str]] = []
    start, quote, opened = 0, None, None
    for i, c in enumerate(text):
        if quote is not None:
            if c == quote:
                quote = None
        elif c in _QUOTES:
            quote, opened = c, i
        elif is_sep(c):
            pieces.append((start, text[start:i]))
            start = i + 1
    pieces.append((start, text[start:]))
    return pieces, (opened if quote is not None else None)


_LIST_HINT = "write a list as name=a,b,c, without brackets or spaces; quote a string that needs other characters"


def _parse_item(tok: str, item: str) -> Scalar:
    """One value of a list (``item``) of the axis ``tok``: a word or a whole quoted string."""
    if not item:
        raise ConfigError(f"grid: empty value in '{tok}' (values are separated by single commas, no spaces)")
    if item[0] in _QUOTES:
        end = item.find(item[0], 1)
        if end != len(item) - 1:
            raise ConfigError(f"grid: '{tok}': a quoted value must be the whole value, got {item}")
        if end == 1:
            raise ConfigError(f"grid: empty value {item} in '{tok}'")
        return item[1:-1]
    for c in item:
        if c in _QUOTES:
            raise ConfigError(f"grid: '{tok}': a quote inside the value {item}; quote the whole value")
        if c == "=":
            raise ConfigError(f"grid: '{tok}': '=' inside a value (one name=values per parameter, e.g. short=3,5)")
        if c == ":":
            raise ConfigError(f"grid: '{tok}': ':' inside a list (a range is name=start:stop:step on its own)")
        if not _WORD_RE.match(c):
            raise ConfigError(f"grid: '{tok}': character '{c}' cannot appear in a value ({_LIST_HINT})")
    try:
        return _type_word(item)
    except ConfigError as exc:
        raise ConfigError(f"grid: '{tok}': {exc} (quote it for a string)") from None


def _parse_range(name: str, tok: str, spec: str) -> tuple[Scalar, ...]:
    parts = spec.split(":")
    if len(parts) != 3:
        raise ConfigError(f"grid: '{tok}': a range is start:stop:step (three numbers), got {spec}")
    nums = []
    for what, p in zip(("start", "stop", "step"), parts, strict=True):
        try:
            v = _parse_item(tok, p) if p else None
        except ConfigError:
            v = None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"grid: '{tok}': range {what} must be a finite number, got {p or 'nothing'}")
        nums.append(v)
    return _range(name, *nums)


def _range(name: str, start: Any, stop: Any, step: Any) -> tuple[Scalar, ...]:
    for what, v in (("start", start), ("stop", stop), ("step", step)):
        v = _normalise(v)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"grid: parameter {name}: range {what} must be a finite number, got {show_value(v)}")
    if step <= 0:
        raise ConfigError(f"grid: parameter {name}: range step must be > 0, got {show_value(step)}")
    if stop < start:
        raise ConfigError(f"grid: parameter {name}: range stop {show_value(stop)} is below start {show_value(start)}")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > MAX_AXIS_VALUES:
        raise ConfigError(f"grid: parameter {name}: range has {n:,} values (at most {MAX_AXIS_VALUES:,})")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + i * step for i in range(n))
    # floats: round away the accumulated binary error (0.1 * 3 -> 0.3, not 0.30000000000000004)
    return tuple(round(start + i * step, 12) for i in range(n))


def _parse_axis_token(tok: str) -> Axis:
    pieces, _ = _split_outside_quotes(tok, lambda c: c == "=")
    if len(pieces) < 2 or tok[0] in _QUOTES:
        raise ConfigError(f"grid: '{tok}' is not name=values (expected e.g. short=3,5,10; a value with spaces needs "
                          "quotes)")
    name, spec = pieces[0][1], tok[pieces[1][0]:]
    if not name:
        raise ConfigError(f"grid: '{tok}' has no parameter name before '='")
    if not _NAME_RE.match(name):
        raise ConfigError(f"grid: bad parameter name '{name}' in '{tok}' (expected e.g. short or agent.size)")
    if not spec:
        raise ConfigError(f"grid: '{tok}' has no values after '=' (expected e.g. {name}=3,5)")
    items, _ = _split_outside_quotes(spec, lambda c: c == ",")
    if len(items) == 1 and spec[0] not in _QUOTES and ":" in spec and not any(q in spec for q in _QUOTES):
        return Axis(name, _parse_range(name, tok, spec))
    values = tuple(_parse_item(tok, item) for _, item in items)
    try:
        return Axis(name, values)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in '{tok}')") from None


def parse_grid(text: str) -> Grid:
    """Parse a grid string such as ``"short=3,5,10 long=20:100:20"`` (see the module docstring for the syntax).

    Returns a :class:`Grid`. Raises :class:`ConfigError` naming the offending part for any syntax error
    (``short=[3,5]``, ``short=3=4``, ``short==3``, ``short=3,,5``, ``short=``, ``=3``, an unbalanced quote,
    ``short=1:x:2``), a repeated parameter or value, mixed value types, or a range of more than
    :data:`MAX_AXIS_VALUES` values.
    """
    if not isinstance(text, str):
        raise ConfigError(f"grid: expected a string such as 'short=3,5,10 long=20,50', got {type(text).__name__}")
    if not text.strip():
        raise ConfigError("grid: empty (expected e.g. 'short=3,5,10 long=20,50')")
    pieces, open_at = _split_outside_quotes(text, _is_sep)
    if open_at is not None:
        start = max(s for s, _ in pieces if s <= open_at)
        raise ConfigError(f"grid: unbalanced quote in '{text[start:].strip()}' (close it, or quote the whole value)")
    axes = [_parse_axis_token(tok) for _, tok in pieces if tok]
    return Grid(tuple(axes))


def _axis_from_toml(name: str, spec: Any) -> Axis:
    if isinstance(spec, Mapping):
        extra = set(spec) - {"start", "stop", "step"}
        missing = {"start", "stop", "step"} - set(spec)
        if extra or missing:
            raise ConfigError(
                f"grid: parameter {name}: a range is {{start, stop, step}}"
                + (f"; unknown key(s) {', '.join(sorted(extra))}" if extra else "")
                + (f"; missing {', '.join(sorted(missing))}" if missing else "")
            )
        return Axis(name, _range(name, spec["start"], spec["stop"], spec["step"]))
    if isinstance(spec, list | tuple):
        return Axis(name, tuple(spec))
    return Axis(name, (spec,))


def grid_from_mapping(mapping: Mapping[str, Any]) -> Grid:
    """Build a grid from ``{name: [values] | value | {start, stop, step}}`` (a TOML ``[grid]`` table, or the
    ``grid`` of ``sweep.json``). Raises :class:`ConfigError` naming the parameter."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"grid: expected a table of parameters, got {type(mapping).__name__}")
    return Grid(tuple(_axis_from_toml(str(k), v) for k, v in mapping.items()))


def load_grid_file(path: str | Path) -> Grid:
    """Read the ``[grid]`` table of a TOML file. Errors (:class:`ConfigError`) name the file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"grid file {p}: not found") from None
    except IsADirectoryError:
        raise ConfigError(f"grid file {p}: is a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(f"grid file {p}: not a text file (UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"grid file {p}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid file {p}: not valid TOML: {exc}") from None
    if "grid" not in data:
        raise ConfigError(f"grid file {p}: no [grid] table (expected e.g. '[grid]\\nshort = [3, 5, 10]')")
    try:
        return grid_from_mapping(data["grid"])
    except ConfigError as exc:
        raise ConfigError(f"grid file {p}: {exc}") from None


# ------------------------------------------------------------------------- application to the config
# A grid's names are the options of lobkit.sim.options (the one route of the CLI, the API and grids).

_SELECTORS = ("agent", "flow", "agent.name", "flow.name")


def _selector_varies(grid: Grid) -> bool:
    return any(n in _SELECTORS for n in grid.names)


def resolve_name(base_cfg: Any, name: str):
    """The option a grid parameter name sets (:func:`lobkit.sim.options.resolve`); ConfigError when unknown."""
    from lobkit.sim.options import resolve

    if name in _SELECTORS:
        return None
    try:
        return resolve(base_cfg, name)
    except ConfigError as exc:
        raise ConfigError(f"grid: {exc}") from None


def coerce_value(base_cfg: Any, name: str, value: Scalar) -> Any:
    """A grid value read as its option's type (``"30s"`` for a duration, ``3`` -> ``3.0`` for a float field);
    ConfigError when it cannot be of that type whatever the other values."""
    from lobkit.sim.options import coerce

    opt = resolve_name(base_cfg, name)
    return value if opt is None else coerce(opt, value)


def apply_params(base_cfg: Any, params: Mapping[str, Scalar]) -> Any:
    """Return ``base_cfg`` with the grid parameters set (:func:`lobkit.sim.options.apply_options`); the
    dataclasses validate the result. Raises :class:`ConfigError` when the combination is invalid; :func:`expand`
    turns that into an :class:`InvalidPoint`."""
    from lobkit.sim.options import apply_options

    return apply_options(base_cfg, params)


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
    """Fail early, with a clear error, on a parameter name the configuration does not have. When the grid varies
    the agent or the flow model, a name only some of them have is checked per combination instead."""
    if _selector_varies(grid):
        return
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
    if isinstance(grid, Path) or (isinstance(grid, str) and grid.endswith(".toml") and "=" not in grid):
        return load_grid_file(grid)
    if isinstance(grid, str):
        return parse_grid(grid)
    if isinstance(grid, Mapping):
        return grid_from_mapping(grid)
    return Grid(tuple(grid))
