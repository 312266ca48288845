"""Stopping a sweep leaves no process behind, and keeps what finished; the number of workers is capped.

Real ``lobkit sweep`` processes (a new session each, so that every process they start, reparented or not, is
found by its session id), real signals, real worker pools (loky and a local Dask cluster), counted with psutil.
The simulations are long (12 simulated hours, about a second each) so that the stop lands mid-sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from lobkit.sweeps.runner import _done_indices, sweep
from lobkit.sweeps.workers import worker_count

REPO = Path(__file__).resolve().parents[2]
GRID = "short=1:4:1 long=10:40:10"  # 16 configurations
N_CONFIGS = 16
LONG = ["--duration", "12h", "--warmup", "30s"]


def _session(sid: int) -> list[psutil.Process]:
    """Every live process of the session ``sid`` (the sweep and whatever it started, even reparented)."""
    found = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(p.pid) == sid and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def _describe(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            out.append(f"{p.pid}: {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            out.append(f"{p.pid}: (gone)")
    return out


def _start_sweep(out: Path, backend: str) -> subprocess.Popen:
    args = ["sweep", "--grid", GRID, "--jobs", "2", "--out", str(out), *LONG, "--no-progress", "--seed", "5",
            "--backend", backend]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", "from lobkit.cli import main; main()", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_parts(proc: subprocess.Popen, results: Path, n: int, timeout: float = 240) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        done = _done_indices(results) if results.is_dir() else set()
        if len(done) >= n:
            return done
        assert proc.poll() is None, f"the sweep ended before the stop: {proc.communicate()}"
        assert time.monotonic() < deadline, f"fewer than {n} configurations finished in {timeout} s"
        time.sleep(0.05)


STOPS = [
    # signal, sent to, expected exit status
    pytest.param("SIGINT", "group", 130, "loky", id="ctrl-c-loky"),
    pytest.param("SIGTERM", "parent", 143, "loky", id="sigterm-loky"),
    pytest.param("SIGHUP", "group", 129, "loky", id="hangup-loky"),
    pytest.param("SIGKILL", "parent", -9, "loky", id="sigkill-loky"),
    pytest.param("SIGINT", "group", 130, "dask", id="ctrl-c-dask", marks=pytest.mark.dask),
    pytest.param("SIGTERM", "parent", 143, "dask", id="sigterm-dask", marks=pytest.mark.dask),
    pytest.param("SIGKILL", "parent", -9, "dask", id="sigkill-dask", marks=pytest.mark.dask),
]


@pytest.mark.parametrize(("signame", "target", "status", "backend"), STOPS)
def test_every_way_of_stopping_a_sweep_leaves_no_process_and_keeps_finished_configurations(
        tmp_path, signame, target, status, backend):
    out = tmp_path / "s"
    proc = _start_sweep(out, backend)
    sid = proc.pid
    try:
        before = _wait_for_parts(proc, out / "results", 1)
        workers = [p for p in _session(sid) if p.pid != proc.pid]
        assert workers, "no worker process was started"
        sig = getattr(signal, signame)
        if target == "group":  # what a terminal does: the whole foreground process group
            os.killpg(sid, sig)
        else:
            os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == status, stderr
        if signame != "SIGKILL":
            assert "--resume" in stderr and "Traceback" not in stderr, stderr
        deadline = time.monotonic() + 20
        while (left := _session(sid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"left behind after {signame} to the {target}: {_describe(left)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in _session(sid):
            p.kill()
    # what had finished is on disk, whole (every part readable), and the sweep was stopped in the middle
    done = _done_indices(out / "results", N_CONFIGS, 1)
    assert before <= done and len(done) < N_CONFIGS
    stale = list((out / "results").glob(".*.tmp"))
    if signame == "SIGKILL":
        # a process killed while it wrote a part cannot remove its temporary file: the next run of the sweep does
        from lobkit.sweeps.runner import _prepare_dir, read_manifest

        assert all(f".{proc.pid}.tmp" in p.name for p in stale), stale  # only the killed sweep's own
        _prepare_dir(out, False, read_manifest(out))  # what the next run (--resume) does first
        stale = list((out / "results").glob(".*.tmp"))
    assert not stale


@pytest.mark.parametrize(
    ("jobs", "sims", "cores", "workers", "capped"),
    [
        (1, 10, 2, 1, False),
        (2, 10, 2, 2, False),
        (1000, 10, 2, 2, True),  # the issue's --jobs 1000 on 2 cores
        (1000, 1, 2, 1, True),  # one simulation to run
        (8, 3, 16, 3, True),  # fewer simulations than workers asked for
        (-1, 10, 4, 4, False),  # every core: not a cap of what was asked
        (-1, 2, 4, 2, False),
        (3, 0, 4, 1, True),  # nothing to run
    ],
)
def test_worker_count_rule(jobs, sims, cores, workers, capped):
    n, why = worker_count(jobs, sims, cores)
    assert n == workers and (why is not None) == capped
    if capped:
        assert f"using {workers} worker process" in why and f"not {jobs}" in why


def test_the_api_caps_workers_and_says_so(tmp_path, tiny, capsys):
    res = sweep(tiny, "short=2,3", jobs=1000, seed=1, out=tmp_path / "a", progress=False, heatmap=False)
    assert res.workers == min(2, os.cpu_count() or 1) and res.n_run == 2
    err = capsys.readouterr().err
    assert f"using {res.workers} worker process" in err and "not 1000" in err


def test_the_cli_caps_workers_and_starts_no_more(tmp_path):
    """``lobkit sweep --jobs 1000``: at most min(cores, simulations) worker processes ever exist."""
    out = tmp_path / "c"
    args = ["sweep", "--grid", "short=2,3", "--jobs", "1000", "--out", str(out), "--duration", "2min",
            "--warmup", "30s", "--no-progress", "--seed", "1"]
    proc = subprocess.Popen([sys.executable, "-c", "from lobkit.cli import main; main()", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    most = 0
    while proc.poll() is None:
        workers = [p for p in _session(proc.pid) if "popen_loky_posix" in " ".join(_describe([p]))]
        most = max(most, len(workers))
        time.sleep(0.02)
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert most <= 2 and "not 1000" in stderr


@pytest.mark.dask
def test_the_local_dask_cluster_is_capped_the_same_way(tmp_path, tiny, capsys):
    res = sweep(tiny, "short=2,3", jobs=64, backend="dask", seed=1, out=tmp_path, progress=False, heatmap=False)
    assert res.workers == min(2, os.cpu_count() or 1) and res.n_run == 2
    assert "not 64" in capsys.readouterr().err
