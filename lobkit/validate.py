"""Checks shared by every configuration dataclass, and values shown in messages as a user would write them.

Every check raises :class:`lobkit.errors.ConfigError` whose message starts with the field's name.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import PurePath
from typing import Any

import numpy as np

from lobkit.errors import ConfigError


def show(value: Any) -> str:
    """``value`` as a user would write it: ``246.58`` (not ``np.float64(246.58)``), ``'abc'``, ``1 day``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, PurePath):
        return repr(str(value))
    if isinstance(value, _dt.timedelta):
        return _show_timedelta(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, list | tuple):
        inner = ", ".join(show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, np.ndarray):
        return show(value.tolist())
    return f"a {type(value).__name__}"


def _show_timedelta(td: _dt.timedelta) -> str:
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    for unit, k in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if total >= k and float(total / k).is_integer():
            n = int(total // k)
            return f"{sign}{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"{sign}{total:g} s"


def is_int(v: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def is_number(v: Any) -> bool:
    """A finite int or float (Python or numpy), not a bool."""
    return (isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
            and math.isfinite(float(v)))


def check_value(name: str, value: Any, kind: str, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, unit: str = "") -> None:
    """Check one value: ``kind`` is ``"int"``, ``"number"`` (finite int or float), ``"bool"`` or ``"str"``;
    ``lo``/``hi`` inclusive bounds (``lo_open``: ``lo`` excluded). Raises :class:`ConfigError`."""
    what = {"int": "an integer", "number": "a finite number", "bool": "true or false", "str": "a string"}[kind]
    ok = {"int": is_int, "number": is_number, "bool": lambda v: isinstance(v, bool),
          "str": lambda v: isinstance(v, str)}[kind](value)
    u = f" {unit}" if unit else ""
    if ok and kind in ("int", "number"):
        if lo is not None and (value <= lo if lo_open else value < lo):
            ok = False
        if hi is not None and value > hi:
            ok = False
    if not ok:
        if kind in ("int", "number") and (lo is not None or hi is not None):
            lo_s = "" if lo is None else (f"> {_num(lo)}" if lo_open else f">= {_num(lo)}")
            if lo is not None and hi is not None and not lo_open:
                rng = f"in [{_num(lo)}, {_num(hi)}]"
            else:
                rng = " and ".join(x for x in (lo_s, "" if hi is None else f"<= {_num(hi)}") if x)
            raise ConfigError(f"{name}: must be {what} {rng}{u}, got {show(value)}")
        raise ConfigError(f"{name}: must be {what}{u}, got {show(value)}")


def _num(x: float) -> str:
    if float(x).is_integer() and abs(x) >= 1_000_000:
        return f"{int(x):,}"
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_field(obj: Any, name: str, kind: str, **bounds: Any) -> None:
    """:func:`check_value` on ``getattr(obj, name)`` (for a dataclass's ``__post_init__``)."""
    check_value(name, getattr(obj, name), kind, **bounds)
