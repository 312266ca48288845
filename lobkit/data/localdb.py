"""Start and stop a real local TimescaleDB (or plain PostgreSQL 17) for tests and benchmarks.

With a running Docker engine (``docker info`` succeeds): a ``timescale/timescaledb:latest-pg17`` container
(``postgres:17`` for plain PostgreSQL) on 127.0.0.1. Otherwise, as root on Debian: ``scripts/tsdb-local.sh``
(about 30 s the first time on a machine, seconds after), with ``TSDB_PRELOAD=''`` for plain PostgreSQL (the
same binaries without the library preloaded, so ``CREATE EXTENSION timescaledb`` really fails).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tsdb-local.sh"
TSDB_IMAGE = "timescale/timescaledb:latest-pg17"
PLAIN_IMAGE = "postgres:17"


class ServerUnavailable(RuntimeError):
    """Neither Docker nor the root-only script can start a server here (the message says why)."""


@dataclass(frozen=True)
class LocalServer:
    """A server this module started: its DSN (maintenance database), how it runs, and how to stop it."""

    dsn: str
    kind: str  # "docker" or "script"
    port: int
    handle: str  # container name or data directory
    timescale: bool

    def dsn_for(self, database: str) -> str:
        return self.dsn.rsplit("/", 1)[0] + "/" + database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def how_to_start() -> str:
    """``"docker"`` or ``"script"``; raises :class:`ServerUnavailable` with the reason when neither works."""
    if docker_available():
        return "docker"
    if os.geteuid() != 0:
        raise ServerUnavailable("no Docker engine (`docker info` fails) and not root, so scripts/tsdb-local.sh "
                                "cannot run: start Docker or run as root")
    if not SCRIPT.is_file():
        raise ServerUnavailable(f"{SCRIPT} is missing")
    return "script"


def wait_ready(dsn: str, timeout: float = 90.0) -> None:
    t_end = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(dsn, connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > t_end:
                raise
            time.sleep(0.3)


def start_server(workdir: str | Path, timescale: bool = True, port: int | None = None) -> LocalServer:
    """Start a fresh server on a free port (data under ``workdir`` for the script path)."""
    kind = how_to_start()
    port = port or free_port()
    dsn = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    if kind == "docker":
        name = f"lobkit-pg-{port}"
        image = TSDB_IMAGE if timescale else PLAIN_IMAGE
        r = subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-e", "POSTGRES_PASSWORD=postgres",
                            "-p", f"127.0.0.1:{port}:5432", image], capture_output=True, text=True)
        if r.returncode != 0:
            raise ServerUnavailable(f"docker run {image} failed: {r.stderr.strip()[-500:]}")
        wait_ready(dsn)
        return LocalServer(dsn, kind, port, name, timescale)
    datadir = Path(workdir) / ("pg-tsdb" if timescale else "pg-plain")
    env = dict(os.environ, TSDB_PRELOAD="timescaledb" if timescale else "")
    r = subprocess.run(["bash", str(SCRIPT), "start", str(port), str(datadir)], capture_output=True, text=True,
                       env=env, timeout=600)
    if r.returncode != 0:
        raise ServerUnavailable(f"tsdb-local.sh start failed: {r.stderr.strip()[-1500:]}")
    wait_ready(dsn)
    return LocalServer(dsn, kind, port, str(datadir), timescale)


def stop_server(server: LocalServer) -> None:
    """Stop a server started by :func:`start_server` (by container name or data directory, never by name)."""
    if server.kind == "docker":
        subprocess.run(["docker", "stop", server.handle], capture_output=True, timeout=60)
    else:
        subprocess.run(["bash", str(SCRIPT), "stop", server.handle], capture_output=True, timeout=60)
