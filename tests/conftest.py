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


@pytest.fixture(scope="session", autouse=True)
def _warm_engine_kernels():
    """Compile the order-book kernels once per session (or load them from Numba's on-disk cache), so that no
    single test pays for compilation and timings inside tests mean something."""
    import numpy as np

    from lobkit.engine import MESSAGE_DTYPE, OP_LIMIT, OrderBook

    book = OrderBook(capacity=64, window=128, center=100)
    book.limit(1, 99, 5, owner=1)
    book.limit(-1, 101, 5, owner=2)
    book.limit(1, 101, 2, ioc=True)
    book.market(-1, 1)
    oid = book.limit(-1, 102, 3).oid
    book.modify(oid, price=103)
    book.reduce(oid, 1)
    book.execute(oid, 1)
    book.cancel(oid)
    book.l2(5), book.l3(), book.check()
    msgs = np.zeros(4, dtype=MESSAGE_DTYPE)
    msgs["op"], msgs["side"], msgs["price"], msgs["size"] = OP_LIMIT, [1, -1, 1, -1], [98, 102, 102, 97], 1
    msgs["oid"] = [1001, 1002, 1003, 1004]
    book.apply(msgs, strict=False)
    book.apply(msgs[:0], strict=True)
