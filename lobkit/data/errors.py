"""Errors of the data layer. All are :class:`lobkit.errors.LobkitError`, so the CLI prints them as one line."""

from __future__ import annotations

from lobkit.errors import ConfigError, InputFormatError, LobkitError

__all__ = ["BadRowError", "ConfigError", "DatabaseError", "InputFormatError", "SchemaError"]


class SchemaError(InputFormatError):
    """A source file lacks a table or column that the configured schema names."""


class DatabaseError(LobkitError):
    """The database could not be reached or refused an operation. Messages never contain the password."""


class BadRowError(LobkitError):
    """A source row failed validation under ``strict=True``: names the table, the row id and the field."""

    def __init__(self, table: str, row_id: int, field: str, reason: str):
        self.table, self.row_id, self.field, self.reason = table, int(row_id), field, reason
        super().__init__(f"{table} row {row_id}, field {field}: {reason}")
