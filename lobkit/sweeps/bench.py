"""Sweep throughput: simulations per second with 1 and 2 workers, and a 1,000 x 100,000-event sweep.

The measuring code of ``benchmarks/sweep_throughput.py`` (its command line) and of the sweep keys of
``benchmarks/simulate.py`` (through :func:`lobkit.sweeps.sweep_throughput`).

Each simulation is the full simulator (background Hawkes flow + momentum agent + matching + accounting)
run for as long as it takes to produce ``events`` background events (the rate is measured first on the
default market). The grid is ``short x long`` (all combinations valid), one repeat each, no per-order logs:
what ``lobkit sweep`` does. Times are wall-clock times of :func:`lobkit.sweeps.runner.sweep`, including
writing every configuration's Parquet part and the heatmap.

``jobs=1`` runs in the calling process (joblib's sequential path); ``jobs=2`` uses loky worker processes.
Worker start-up (spawn, imports, loading the Numba cache from disk) is measured on its own
(``worker_startup_seconds``: a 2-configuration sweep on fresh workers) and is included in
``sweep_1000x100k_seconds``, which starts from fresh workers like a user's first sweep does.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from lobkit.sim import simulate
from lobkit.sim.config import NS_PER_S, MarketConfig, RunConfig
from lobkit.sweeps.runner import sweep

WARMUP_S = 60


def _shutdown_workers() -> None:
    """Stop joblib's reusable loky workers, so that the next parallel sweep starts fresh ones."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _market(dur: int, flow: str | None) -> RunConfig:
    """The default market (or the flow model ``flow``, ``NAME[:PATH]``, with its file's market) for ``dur`` s."""
    if flow is None:
        return RunConfig(market=MarketConfig(duration_ns=dur * NS_PER_S, warmup_ns=WARMUP_S * NS_PER_S))
    from lobkit.sim.options import apply_options

    return apply_options(None, {"flow": flow, "agent": "momentum", "duration": dur, "warmup": WARMUP_S})


def events_per_sim_second(events: int = 100_000, seeds: int = 4, flow: str | None = None) -> float:
    """Background events per simulated second of the default market (or of ``flow``), measured on runs of about
    ``events`` events (the rate depends a little on the run length: the warm-up and the Hawkes clusters)."""
    dur = 900
    rate = 0.0
    for _ in range(2):  # guess, measure, rescale, measure
        cfg = _market(dur, flow)
        n = [simulate(cfg, 12345 + k).summary["n_events_total"] for k in range(seeds)]
        rate = sum(n) / (seeds * dur)
        dur = max(WARMUP_S + 30, math.ceil(events / rate))
    return rate


def base_config(events: int, rate: float | None = None, flow: str | None = None) -> RunConfig:
    """The default market (or ``flow``'s) and momentum agent, run long enough for about ``events`` background
    events."""
    rate = rate or events_per_sim_second(events, flow=flow)
    dur = max(WARMUP_S + 30, math.ceil(events / rate))
    return _market(dur, flow)


def grid_for(n_configs: int) -> str:
    """A ``short x long`` grid of exactly ``n_configs`` valid configurations (short < long always)."""
    a = max(d for d in range(1, 11) if n_configs % d == 0)
    b = n_configs // a
    return f"short=1:{a}:1 long={a + 1}:{a + b}:1"


def machine_description() -> dict:
    """The machine a benchmark ran on: CPU model, cores (logical, and usable by this process), memory,
    operating system, Python, NumPy and Numba versions. Missing items are None."""
    import platform

    model = memory_gb = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.lower().startswith("model name")), None)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    versions = {}
    for mod in ("numpy", "numba", "polars", "joblib"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a description, not a requirement
            versions[mod] = None
    from lobkit.sweeps.workers import usable_cores

    return {
        "cpu_model": model or platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
    }


def sweep_throughput(jobs: int, n_configs: int, events: int, *, rate: float | None = None, seed: int = 0,
                     fresh_workers: bool = False, heatmap: bool = True, flow: str | None = None) -> dict:
    """Time one sweep of ``n_configs`` configurations x 1 repeat of ``events``-event simulations (of the default
    market, or of the flow model ``flow``: ``NAME[:PATH]``).

    Returns ``jobs``, ``n_configs``, ``events_per_sim`` (measured mean), ``seconds``, ``sims_per_s``,
    ``events_per_s`` (background events simulated per wall second, all workers together), ``cpu_ms_per_sim``
    and ``cores_used`` (CPU seconds of the simulations per wall second).
    """
    cfg = base_config(events, rate, flow)
    out = Path(tempfile.mkdtemp(prefix="lobkit-sweep-bench-"))
    try:
        if fresh_workers:
            _shutdown_workers()
        t0 = time.perf_counter()
        res = sweep(cfg, grid_for(n_configs), repeats=1, seed=seed, jobs=jobs, out=out, progress=False,
                    heatmap=heatmap)
        seconds = time.perf_counter() - t0
        table = res.table()
        if res.n_errors or table.height != n_configs:
            raise RuntimeError(f"benchmark sweep incomplete: {res}")
        ev = float(table["n_events_total"].mean())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"jobs": jobs, "n_configs": n_configs, "events_per_sim": ev, "seconds": seconds,
            "sims_per_s": n_configs / seconds, "events_per_s": n_configs * ev / seconds,
            "cpu_ms_per_sim": 1000 * res.cpu_s / n_configs, "cores_used": res.cpu_s / seconds}


def sweep_benchmark(configs: int = 200, events: int = 100_000, big: int = 1000, rounds: int = 2) -> dict:
    """The whole measurement: 1 vs 2 workers on ``configs`` configurations (``rounds`` alternating rounds, the
    fastest counts), worker start-up, and a ``big``-configuration sweep on fresh workers (0: skipped). Keys:
    ``sweep_sims_per_s_1``, ``sweep_sims_per_s_2``, ``sweep_scaling``, ``sweep_<big>x<events/1000>k_seconds``
    and the diagnostics described in ``docs/sweeps.md``."""
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    rate = events_per_sim_second(events)  # also compiles, or loads the Numba cache, in this process
    calibration = time.perf_counter() - t0
    startup = sweep_throughput(2, 2, 1000, rate=rate, fresh_workers=True, heatmap=False)["seconds"]
    # scaling: the sweep engine itself (warm workers, no heatmap: a fixed ~1 s of matplotlib in the parent);
    # 1 and 2 workers alternate, the fastest round of each counts (the machine is shared)
    best: dict[int, dict] = {}
    for _ in range(rounds):
        for jobs in (1, 2):
            r = sweep_throughput(jobs, configs, events, rate=rate, heatmap=False)
            if jobs not in best or r["seconds"] < best[jobs]["seconds"]:
                best[jobs] = r
    r1, r2 = best[1], best[2]
    out = {
        "events_per_sim": r1["events_per_sim"],
        "sim_events_per_s_1core": r1["events_per_s"],
        "sweep_sims_per_s_1": r1["sims_per_s"],
        "sweep_sims_per_s_2": r2["sims_per_s"],
        "sweep_scaling": r2["sims_per_s"] / r1["sims_per_s"],
        "sweep_configs": configs,
        # CPU ms a simulation took inside the sweep (same with 1 and 2 workers: no parallel overhead), and the
        # cores the 2-worker sweep actually got (CPU seconds of the simulations / wall seconds): on a shared
        # machine, scaling is bounded by this
        "cpu_ms_per_sim_1": r1["cpu_ms_per_sim"],
        "cpu_ms_per_sim_2": r2["cpu_ms_per_sim"],
        "cores_used_2": r2["cores_used"],
        "worker_startup_seconds": startup,
        "calibration_seconds": calibration,
        "cpu_count": os.cpu_count(),
        "load_avg_1min_before": load_before,
    }
    if big:
        rb = sweep_throughput(2, big, events, rate=rate, fresh_workers=True)
        out[f"sweep_{big}x{events // 1000}k_seconds"] = rb["seconds"]
        out["sweep_big_sims_per_s"] = rb["sims_per_s"]
        out["sweep_big_cores_used"] = rb["cores_used"]
    out["load_avg_1min_after"] = os.getloadavg()[0]
    return out
