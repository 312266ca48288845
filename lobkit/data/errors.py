"""Errors of the data layer. All are :class:`lobkit.errors.LobkitError`, so the CLI prints them as one line."""

from __future__ import annotations

import numpy as np

from lobkit.errors import ConfigError, InputFormatError, LobkitError

__all__ = ["BadRowError", "ConfigError", "DatabaseError", "InputFormatError", "LobkitError", "SchemaError",
           "show_number"]


class SchemaError(InputFormatError):
    """A source file lacks a table or column that the configured schema names."""


class DatabaseError(LobkitError):
    """The database could not be reached or refused an operation. Messages never contain the password."""


class BadRowError(LobkitError):
    """A source row failed validation under ``strict=True``: names the table, the row id and the field."""

    def __init__(self, table: str, row_id: int, field: str, reason: str):
        self.table, self.row_id, self.field, self.reason = table, int(row_id), field, reason
        super().__init__(f"{table} row {row_id}, field {field}: {reason}")



def show_number(value) -> str:
    """A number as a user writes it: ``236.515``, ``999.0``, ``1e+300``, ``nan``, ``5`` -- never
    ``np.float64(236.515)``. Integers (Python or numpy) print as integers, floats in their shortest form."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def check_int(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int when it is an integer (Python or numpy, not bool) from ``lo`` to ``hi``; otherwise a
    :class:`ConfigError` naming ``name`` and showing the value as written."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= int(value) <= hi:
        raise ConfigError(f"{name} must be an integer from {lo:,} to {hi:,}, got {value}")
    return int(value)
