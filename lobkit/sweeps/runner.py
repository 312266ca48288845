"""Run a grid of configurations x repeats in parallel and stream the results to Parquet.

Seeds. One root ``SeedSequence(seed)``; the simulation of configuration ``i`` (its index in the grid's
cartesian product), repeat ``r`` gets the child ``SeedSequence(root.entropy, spawn_key=(i, r))``, which
is ``root.spawn(i + 1)[i].spawn(r + 1)[r]``. The child depends on nothing else (not on the worker, the
batching or the completion order), so the results table is identical on 1, 2 or N workers and on Dask.
:func:`run_seed` gives the child of one simulation, to replay it with ``lobkit run``.

Work. Pending configurations are cut lazily into tasks of several simulations (whole configurations,
or pieces of one when it has many repeats) so that per-task overhead is amortised, with guided sizes (large
tasks first, smaller ones towards the end, so that the workers finish together); only a few tasks per
worker are queued at a time (``pre_dispatch`` for joblib, a sliding window of futures for Dask), so
memory stays bounded however large the grid. Workers return only each simulation's ``summary`` dict.

Output (``out/``)::

    sweep.json              what was swept: base config, grid, repeats, seed entropy (checked on resume)
    invalid.jsonl           combinations the configuration rejected, one JSON object a line
    results/part-<i>.parquet     the rows of finished configurations, written atomically (temporary file
                            + rename) as soon as a task's results complete them: one part per task
                            result, each configuration in exactly one part (named after its smallest
                            index); a crash or Ctrl-C keeps every finished configuration

A row per simulation: ``config_index``, ``repeat``, the swept parameters, ``status`` (``"ok"`` or
``"error"``), ``error`` (the message, or null) and the summary's numbers (null on error).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobkit.errors import ConfigError
from lobkit.sweeps.grid import Grid, InvalidPoint, Point, as_grid, check_names, expand

MANIFEST = "sweep.json"
INVALID = "invalid.jsonl"
RESULTS_DIR = "results"
PART_FMT = "part-{:08d}.parquet"
PART_GLOB = "part-*.parquet"
MANIFEST_VERSION = 1
#: How many invalid combinations a :class:`SweepResult` keeps in memory (all are in ``invalid.jsonl``).
INVALID_KEEP = 50
#: Upper bound on the simulations of one task (keeps progress and load balance fine-grained).
MAX_SIMS_PER_TASK = 64
#: Guided scheduling: a task is 1 / (TASKS_PER_WORKER x workers) of what is left (see :func:`sims_per_task`).
TASKS_PER_WORKER = 4


def root_seed(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """The sweep's one root ``SeedSequence`` (fresh entropy when ``seed`` is None)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(None if seed is None else int(seed))


def run_seed(root: int | np.random.SeedSequence, index: int, repeat: int) -> np.random.SeedSequence:
    """The child seed of configuration ``index``, repeat ``repeat`` (``root.spawn`` twice, without the state)."""
    r = root_seed(root)
    return np.random.SeedSequence(r.entropy, spawn_key=(*r.spawn_key, int(index), int(repeat)), pool_size=r.pool_size)


# --------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Unit:
    """Repeats ``[start, stop)`` of one configuration, run by one task."""

    index: int
    cfg: Any
    start: int
    stop: int


def _default_simulate() -> Callable[[Any, np.random.SeedSequence], Any]:
    from lobkit.sim.runner import simulate

    return simulate


def _summary_of(result: Any) -> dict[str, Any]:
    s = result.summary if hasattr(result, "summary") else result
    if not isinstance(s, Mapping):
        raise TypeError(f"simulate returned {type(result).__name__} without a summary dict")
    out = {}
    for k, v in s.items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or isinstance(v, bool | int | float):
            out[str(k)] = v
    return out


def run_task(
    units: list[Unit],
    entropy: Any,
    spawn_key: tuple[int, ...],
    record_dir: str | None = None,
    simulate: Callable | None = None,
) -> tuple[list[tuple[int, int, dict | None, str | None]], float]:
    """Run the simulations of ``units`` (in a worker).

    Returns one ``(index, repeat, summary, error)`` per simulation and the task's CPU seconds (reported in
    :class:`SweepResult`, never in the table: it is not reproducible). A simulation that raises gives
    ``(index, repeat, None, "ExcType: message")``; the others go on. With ``record_dir``, each run's full
    outputs are written under ``record_dir/config-<i>/repeat-<r>``.
    """
    cpu0 = time.process_time()
    sim = simulate or _default_simulate()
    root = np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key))
    out = []
    for u in units:
        for r in range(u.start, u.stop):
            seed = run_seed(root, u.index, r)
            try:
                res = sim(u.cfg, seed)
                summary = _summary_of(res)
                if record_dir is not None:
                    _write_run(res, Path(record_dir) / f"config-{u.index:08d}" / f"repeat-{r:04d}")
            except Exception as exc:  # noqa: BLE001 - recorded in the table, the sweep goes on
                msg = str(exc).strip().splitlines()
                out.append((u.index, r, None, f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")))
            else:
                out.append((u.index, r, summary, None))
    return out, time.process_time() - cpu0


def _write_run(result: Any, path: Path) -> None:
    """Write one recorded run's outputs (orders, trades, PnL, summary; no figure) with the simulator's writer."""
    from lobkit.sim.output import write_run

    write_run(result, path, plot=False)


def _make_tasks(points: Iterable[Point], repeats: int, size: int | Callable[[int], int],
                total: int | None = None) -> Iterator[list[Unit]]:
    """Pack the repeats of successive configurations into tasks of simulations, lazily.

    ``size``: simulations per task, fixed, or a function of the simulations still to hand out (``total``
    minus those already packed): guided scheduling, large tasks first and smaller ones towards the end.
    """
    remaining = total if total is not None else 0
    cap = size if isinstance(size, int) else size(remaining)
    task: list[Unit] = []
    n = 0
    for p in points:
        start = 0
        while start < repeats:
            take = min(repeats - start, cap - n)
            task.append(Unit(p.index, p.cfg, start, start + take))
            n += take
            start += take
            if n >= cap:
                yield task
                remaining -= n
                task, n = [], 0
                cap = size if isinstance(size, int) else size(remaining)
    if task:
        yield task


def sims_per_task(remaining: int, workers: int) -> int:
    """Guided task size: ``remaining / (TASKS_PER_WORKER x workers)`` simulations, between 1 and
    ``MAX_SIMS_PER_TASK``: large tasks while much is left (per-task overhead amortised), small ones at the end
    (every worker finishes at about the same time)."""
    return max(1, min(MAX_SIMS_PER_TASK, math.ceil(remaining / (max(1, workers) * TASKS_PER_WORKER))))


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did and where its outputs are. The table itself stays on disk: :meth:`table` loads it."""

    out: Path
    grid: Grid
    repeats: int
    seed_entropy: int
    n_configs: int
    n_valid: int
    n_invalid: int
    n_run: int
    n_resumed: int
    n_errors: int
    elapsed_s: float
    invalid: tuple[InvalidPoint, ...] = field(default=(), repr=False)
    heatmap: Path | None = None
    metric: str = "final_pnl"
    #: CPU seconds the simulations took in the workers (with ``elapsed_s``: how much of the cores the sweep got)
    cpu_s: float = 0.0

    @property
    def results_dir(self) -> Path:
        """The Parquet dataset (``part-*.parquet``; each finished configuration in exactly one part)."""
        return self.out / RESULTS_DIR

    def table(self):
        """Every simulation's row, sorted by ``(config_index, repeat)`` (a Polars DataFrame)."""
        from lobkit.sweeps.results import load_results

        return load_results(self.out)

    def summary(self):
        """One row per configuration: n, mean and std of the metric, t-statistic, mean trades, ..."""
        from lobkit.sweeps.results import aggregate

        return aggregate(self.table(), self.grid.names, metric=self.metric)

    def best(self, k: int = 10, by: str = "mean"):
        """The ``k`` best configurations by mean metric (``by="mean"``) or t-statistic (``by="t_stat"``)."""
        from lobkit.sweeps.results import best_configs

        return best_configs(self.summary(), k=k, by=by)


# ---------------------------------------------------------------------------------------- manifest


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def _manifest(base_cfg: Any, grid: Grid, repeats: int, root: np.random.SeedSequence, record: bool) -> dict:
    from lobkit import __version__

    return {
        "version": MANIFEST_VERSION,
        "lobkit": __version__,
        "grid": grid.to_dict(),
        "repeats": repeats,
        "seed_entropy": int(root.entropy),
        "seed_spawn_key": list(root.spawn_key),
        "record": record,
        "base_config": _jsonable(base_cfg),
    }


def read_manifest(out: str | Path) -> dict:
    """The ``sweep.json`` of a sweep directory (clear error when absent)."""
    p = Path(out) / MANIFEST
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{out}: not a sweep directory (no {MANIFEST})") from None


def _check_manifest(old: dict, new: dict, out: Path) -> None:
    for key, what in (("grid", "grid"), ("repeats", "number of repeats"), ("seed_entropy", "seed"),
                      ("seed_spawn_key", "seed"), ("base_config", "market/agent options"), ("record", "--record")):
        if old.get(key) != new.get(key):
            raise ConfigError(
                f"--resume: {out} holds a sweep with a different {what} "
                f"({old.get(key)!r} there, {new.get(key)!r} now); use the same options or another --out"
            )


def _part_files(results_dir: Path) -> list[Path]:
    return sorted(results_dir.glob(PART_GLOB)) if results_dir.is_dir() else []


def _done_indices(results_dir: Path) -> set[int]:
    """The configurations that have their rows on disk (read from the parts' ``config_index`` column)."""
    import pyarrow.parquet as pq

    done: set[int] = set()
    for p in _part_files(results_dir):
        done.update(pq.read_table(p, columns=["config_index"]).column(0).to_pylist())
    return done


def _write_part(results_dir: Path, configs: list[tuple[int, dict, list[tuple[int, dict | None, str | None]]]]
                ) -> Path:
    """Write the rows of finished configurations ``(index, params, runs)`` as one part, atomically (a temporary
    file, then ``os.replace``). Each configuration is in exactly one part, which is named after the smallest
    configuration index it holds."""
    import polars as pl

    rows = []
    for index, params, runs in sorted(configs, key=lambda c: c[0]):
        for r, summary, error in sorted(runs, key=lambda t: t[0]):
            row = {"config_index": index, "repeat": r, **params, "status": "ok" if error is None else "error",
                   "error": error}
            if summary:
                row.update({k: v for k, v in summary.items() if k not in row})
            rows.append(row)
    schema_over = {"config_index": pl.Int64, "repeat": pl.Int64, "status": pl.String, "error": pl.String}
    df = pl.DataFrame(rows, infer_schema_length=None, schema_overrides=schema_over)
    final = results_dir / PART_FMT.format(min(c[0] for c in configs))
    tmp = results_dir / f".{final.name}.{os.getpid()}.tmp"
    df.write_parquet(tmp)
    os.replace(tmp, final)
    return final


# ------------------------------------------------------------------------------------------ backends


def _worker_init() -> None:
    """Worker processes ignore SIGINT: on Ctrl-C (which a terminal sends to the whole process group) the
    parent alone stops the sweep and terminates its workers, instead of each worker raising
    KeyboardInterrupt mid-task and printing a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _iter_joblib(tasks: Iterator[list[Unit]], jobs: int, args: tuple) -> Iterator[list]:
    from joblib import Parallel, delayed, parallel_config

    with (parallel_config(backend="loky", initializer=_worker_init),
          Parallel(n_jobs=jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs", batch_size=1) as par):
        yield from par(delayed(run_task)(t, *args) for t in tasks)


def _iter_dask(tasks: Iterator[list[Unit]], client: Any, args: tuple) -> Iterator[list]:
    from distributed import as_completed

    workers = max(1, sum(client.nthreads().values()))
    window = 2 * workers
    ac = as_completed()
    for t in tasks:
        ac.add(client.submit(run_task, t, *args, pure=False))
        if ac.count() >= window:
            fut = next(ac)
            yield fut.result()
            fut.release()
    for fut in ac:
        yield fut.result()
        fut.release()


def _dask_client(scheduler: Any, jobs: int):
    """A ``distributed.Client`` for ``scheduler`` (address or Client); a local cluster when None."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster), cluster
    if isinstance(scheduler, Client):
        return scheduler, None
    if not isinstance(scheduler, str):
        raise ConfigError(f"scheduler must be an address such as tcp://HOST:PORT, got {scheduler!r}")
    try:
        return Client(scheduler, timeout="20s"), None
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


# -------------------------------------------------------------------------------------------- sweep


def sweep(
    base_cfg: Any,
    grid: Grid | str | Mapping | Path,
    repeats: int = 1,
    seed: int | np.random.SeedSequence | None = 0,
    jobs: int = 1,
    out: str | Path = "sweeps/out",
    backend: str = "loky",
    scheduler: Any = None,
    resume: bool = False,
    record: bool = False,
    progress: bool = True,
    heatmap: bool | tuple[str, str | None] = True,
    metric: str = "final_pnl",
    simulate: Callable | None = None,
    on_invalid: Callable[[InvalidPoint], None] | None = None,
) -> SweepResult:
    """Run every valid configuration of ``grid`` (applied to ``base_cfg``) ``repeats`` times.

    Args:
        base_cfg: the :class:`~lobkit.sim.config.RunConfig` the grid's parameters are applied to.
        grid: a :class:`Grid`, a grid string (``"short=3,5 long=20,50"``), a ``.toml`` path or a mapping.
        repeats: simulations per configuration, each with its own child seed.
        seed: the one root seed (``None``: fresh entropy, recorded in ``sweep.json``).
        jobs: worker processes (``backend="loky"``; ``-1`` for all cores) or local Dask workers when
            ``backend="dask"`` and no scheduler is given.
        out: the sweep directory (see the module docstring).
        backend: ``"loky"`` (joblib, local processes) or ``"dask"`` (``distributed``).
        scheduler: with ``backend="dask"``: ``"tcp://HOST:PORT"`` or a ``distributed.Client``.
        resume: continue the sweep in ``out``: skip finished configurations. Without it, ``out`` must not
            already hold results.
        record: keep each run's full outputs (orders, trades, PnL) under ``out/runs/`` (large!).
        progress: show a tqdm progress bar (simulations).
        heatmap: write ``out/heatmap.png`` at the end (``True``: the first two swept parameters with more
            than one value; or ``(x, y)`` names, ``y`` None for a single row).
        metric: the summary key that is ranked and plotted.
        simulate: the simulation function (default :func:`lobkit.sim.runner.simulate`); must be picklable.
        on_invalid: called with each :class:`InvalidPoint` (the CLI prints them).

    Returns:
        a :class:`SweepResult`; the rows are in ``out/results/`` (:meth:`SweepResult.table`).
    """
    t0 = time.perf_counter()
    grid = as_grid(grid)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer >= 1, got {repeats!r}")
    if backend not in ("loky", "dask"):
        raise ConfigError(f"backend must be 'loky' or 'dask', got {backend!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ConfigError(f"jobs must be a positive integer (or -1 for all cores), got {jobs!r}")
    if scheduler is not None and backend != "dask":
        raise ConfigError("a scheduler is only used with backend='dask'")
    if jobs == -1:
        jobs = os.cpu_count() or 1
    check_names(base_cfg, grid)
    if hasattr(base_cfg, "record") and base_cfg.record != record:
        base_cfg = dataclasses.replace(base_cfg, record=record)

    out = Path(out)
    results_dir = out / RESULTS_DIR
    if resume and seed is None:
        seed = read_manifest(out)["seed_entropy"] if (out / MANIFEST).exists() else None
    root = root_seed(seed)
    manifest = _manifest(base_cfg, grid, repeats, root, record)
    if (out / MANIFEST).exists():
        if resume:
            _check_manifest(read_manifest(out), manifest, out)
        elif _done_indices(results_dir):
            raise ConfigError(f"{out} already holds sweep results; pass --resume to continue it, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(exist_ok=True)
    for stale in results_dir.glob(".part-*.tmp"):
        stale.unlink(missing_ok=True)
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / MANIFEST)

    done = _done_indices(results_dir) if resume else set()
    if not resume:
        for p in _part_files(results_dir):
            p.unlink()

    # first pass: validate every combination (reported and skipped), count what is left to run
    n_valid = n_invalid = n_pending = 0
    kept_invalid: list[InvalidPoint] = []
    with open(out / INVALID, "w") as inv:
        for pt in expand(base_cfg, grid):
            if isinstance(pt, InvalidPoint):
                n_invalid += 1
                inv.write(json.dumps({"config_index": pt.index, "params": pt.params, "error": pt.error}) + "\n")
                if len(kept_invalid) < INVALID_KEEP:
                    kept_invalid.append(pt)
                if on_invalid is not None:
                    on_invalid(pt)
            else:
                n_valid += 1
                n_pending += pt.index not in done
    n_resumed = n_valid - n_pending

    pending = (p for p in expand(base_cfg, grid) if isinstance(p, Point) and p.index not in done)
    client = cluster = None
    if backend == "dask":
        client, cluster = _dask_client(scheduler, jobs)
        workers = max(1, sum(client.nthreads().values()))
    else:
        workers = jobs
    tasks = _make_tasks(pending, repeats, lambda left: sims_per_task(left, workers), n_pending * repeats)
    record_dir = str((out / "runs").resolve()) if record else None
    args = (root.entropy, tuple(root.spawn_key), record_dir, simulate)

    # params of configurations in flight (a configuration may be split over tasks); bounded by the queue
    inflight: dict[int, tuple[dict, list]] = {}
    params_of = _ParamsLookup(grid)
    n_errors = n_run = 0
    cpu_s = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_pending * repeats, unit="sim", desc="sweep", dynamic_ncols=True, initial=0)
    try:
        it = _iter_dask(tasks, client, args) if backend == "dask" else _iter_joblib(tasks, jobs, args)
        for res, task_cpu in it:
            cpu_s += task_cpu
            finished = []
            for index, r, summary, error in res:
                params, runs = inflight.setdefault(index, (params_of(index), []))
                runs.append((r, summary, error))
                n_errors += error is not None
                if len(runs) == repeats:
                    finished.append((index, params, runs))
                    del inflight[index]
            if finished:  # written the moment their last run is back: one part per task result
                _write_part(results_dir, finished)
                n_run += len(finished)
            if bar is not None:
                bar.update(len(res))
                if n_errors:
                    bar.set_postfix(errors=n_errors, refresh=False)
    finally:
        if bar is not None:
            bar.close()
        if client is not None and (scheduler is None or isinstance(scheduler, str)):
            client.close()  # ours; a Client passed in stays open
        if cluster is not None:
            cluster.close()

    hm = None
    if heatmap and (n_run or n_resumed):
        from lobkit.sweeps.results import write_heatmap

        pair = heatmap if isinstance(heatmap, tuple) else None
        hm = write_heatmap(out, grid, metric=metric, params=pair)
    return SweepResult(
        out=out, grid=grid, repeats=repeats, seed_entropy=int(root.entropy), n_configs=len(grid),
        n_valid=n_valid, n_invalid=n_invalid, n_run=n_run, n_resumed=n_resumed, n_errors=n_errors,
        elapsed_s=time.perf_counter() - t0, invalid=tuple(kept_invalid), heatmap=hm, metric=metric, cpu_s=cpu_s,
    )


class _ParamsLookup:
    """The parameters of a configuration from its index (mixed radix), without materialising the grid."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.sizes = [len(a.values) for a in grid.axes]

    def __call__(self, index: int) -> dict:
        vals = {}
        for axis, size in zip(reversed(self.grid.axes), reversed(self.sizes), strict=True):
            index, k = divmod(index, size)
            vals[axis.name] = axis.values[k]
        return {a.name: vals[a.name] for a in self.grid.axes}
