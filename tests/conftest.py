"""Fixtures shared by the whole suite.

Real data lives in ``../shared/data`` (or ``$LOBKIT_DATA_DIR``). Tests that need it skip with a clear
reason when it is absent, except under ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lobkit.paths import shared_data_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_data(relpath: str) -> Path:
    """Path of a shared data file; skip (or fail under CI=true) when it is missing."""
    p = shared_data_dir() / relpath
    if not p.exists():
        msg = f"shared data file {p} not found (set LOBKIT_DATA_DIR to the shared/data directory)"
        if IN_CI:
            pytest.fail(msg + " -- under CI=true tests that read shared data must run")
        pytest.skip(msg)
    return p


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        msg = f"shared data directory {d} not found (set LOBKIT_DATA_DIR)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return d
