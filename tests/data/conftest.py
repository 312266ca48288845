"""Real servers for the data-layer tests: TimescaleDB and plain PostgreSQL 17, one each per session.

Started with Docker when an engine runs, else with scripts/tsdb-local.sh (root). When neither is possible
the tests that need a server skip with the reason, except under CI=true where they fail.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from lobkit.data import localdb
from lobkit.data.timescale import DbConfig, init_db

try:  # reuse the suite's helpers (do not copy them)
    from tests.conftest import IN_CI, require_data
except ImportError:  # pytest run from elsewhere: load the root conftest by path
    _spec = importlib.util.spec_from_file_location("_lobkit_root_conftest",
                                                   Path(__file__).resolve().parents[1] / "conftest.py")
    _root = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_root)
    IN_CI, require_data = _root.IN_CI, _root.require_data

__all__ = ["IN_CI", "require_data"]


def _start(tmp_path_factory, timescale: bool):
    try:
        return localdb.start_server(tmp_path_factory.mktemp("pg"), timescale=timescale)
    except localdb.ServerUnavailable as exc:
        msg = f"cannot start a real {'TimescaleDB' if timescale else 'PostgreSQL'} server: {exc}"
        if IN_CI:
            pytest.fail(msg + " -- under CI=true the database tests must run")
        pytest.skip(msg)


@pytest.fixture(scope="session")
def tsdb_server(tmp_path_factory):
    server = _start(tmp_path_factory, True)
    yield server
    localdb.stop_server(server)


@pytest.fixture(scope="session")
def plain_server(tmp_path_factory):
    server = _start(tmp_path_factory, False)
    yield server
    localdb.stop_server(server)


def _fresh_db(server):
    name = "lobkit_t_" + uuid.uuid4().hex[:10]
    yield server.dsn_for(name)
    conn = psycopg2.connect(server.dsn)
    conn.autocommit = True
    conn.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture
def tsdb_dsn(tsdb_server):
    """DSN of a fresh, not yet created database on the TimescaleDB server (dropped afterwards)."""
    yield from _fresh_db(tsdb_server)


@pytest.fixture
def plain_dsn(plain_server):
    yield from _fresh_db(plain_server)


@pytest.fixture
def tsdb_cfg(tsdb_dsn) -> DbConfig:
    """A fresh database with the snapshot hypertable created."""
    cfg = DbConfig(tsdb_dsn)
    init_db(cfg)
    return cfg


@pytest.fixture
def lob_btc() -> Path:
    return require_data("lob-btc.db")
