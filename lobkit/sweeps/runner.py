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
                            flushed to disk, then renamed) as soon as a task's results complete them: one
                            part per task result, each configuration in exactly one part (named after its
                            smallest index); a crash, a kill or Ctrl-C keeps every finished configuration
    heatmap.png             mean metric and t-statistic over two swept parameters (also written atomically)

A row per simulation: ``config_index``, ``repeat``, the swept parameters, ``status`` (``"ok"`` or
``"error"``), ``error`` (the message, or null) and the summary's numbers (null on error).

A directory that already holds results is refused unless ``resume=True`` (continue: every part is read and
checked first; a damaged one is named, with what to do) or ``overwrite=True`` (remove the previous sweep's
outputs, and only them, then start over). Workers: how many, and how a stopped sweep leaves none behind, is
:mod:`lobkit.sweeps.workers`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobkit.errors import ConfigError, InputFormatError, LobkitError
from lobkit.sweeps.grid import (
    Grid,
    InvalidPoint,
    Point,
    as_grid,
    check_names,
    expand,
    grid_from_mapping,
    show_value,
)
from lobkit.sweeps.workers import (
    SweepInterrupted,  # noqa: F401 - raised by sweep(), importable from here
    dask_worker_init,
    note,
    start_helpers_deaf_to_hangup,
    stop_on_signals,
    worker_count,
    worker_init,
)

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
    """The sweep's one root ``SeedSequence`` (fresh entropy when ``seed`` is None): see :mod:`lobkit.seeds`."""
    from lobkit.seeds import seed_sequence

    return seed_sequence(seed)


def run_seed(root: int | np.random.SeedSequence, index: int, repeat: int) -> np.random.SeedSequence:
    """The child seed of configuration ``index``, repeat ``repeat`` (``root.spawn`` twice, without the state)."""
    from lobkit.seeds import child

    return child(root_seed(root), index, repeat)


# --------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Unit:
    """Repeats ``[start, stop)`` of one configuration, run by one task."""

    index: int
    cfg: Any
    start: int
    stop: int


def _default_simulate() -> Callable[[Any, np.random.SeedSequence], Any]:
    from lobkit.sim.experiments import simulate

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
    #: worker processes used (after the cap of :func:`lobkit.sweeps.workers.worker_count`; 0: nothing was run)
    workers: int = 0

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

#: What to do about a ``sweep.json`` that cannot be read.
MANIFEST_ADVICE = "restore it, or run the sweep with --force to start it over (this deletes its results)"


class SweepError(LobkitError):
    """A sweep could not go on (a worker process died, a results part could not be written). The
    configurations that had finished are on disk; the same sweep with ``resume=True`` runs the rest."""


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
    """The ``sweep.json`` of the sweep directory ``out``, checked to be one.

    Raises :class:`ConfigError` when there is none (not a sweep directory) and
    :class:`~lobkit.errors.InputFormatError` naming the file when it is not valid JSON or lacks the grid, the
    repeats or the seed.
    """
    p = Path(out) / MANIFEST
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{out}: not a sweep directory (no {MANIFEST})") from None
    except UnicodeDecodeError:
        raise InputFormatError(p, None, f"not a text file; {MANIFEST_ADVICE}") from None
    except OSError as exc:
        raise InputFormatError(p, None, f"cannot read it ({exc.strerror or exc}); {MANIFEST_ADVICE}") from None
    try:
        m = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFormatError(p, exc.lineno, f"not valid JSON ({exc.msg}); {MANIFEST_ADVICE}") from None
    if not isinstance(m, dict):
        raise InputFormatError(p, None, f"not a sweep manifest (a JSON object); {MANIFEST_ADVICE}")
    problems = []
    if not isinstance(m.get("grid"), dict) or not m["grid"]:
        problems.append("grid")
    r = m.get("repeats")
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        problems.append("repeats")
    e = m.get("seed_entropy")
    if isinstance(e, bool) or not isinstance(e, int) or e < 0:
        problems.append("seed_entropy")
    if problems:
        raise InputFormatError(p, None, f"not a sweep manifest (no valid {', '.join(problems)}); {MANIFEST_ADVICE}")
    return m


def manifest_grid(out: str | Path) -> Grid:
    """The grid recorded in ``out/sweep.json`` (errors as :func:`read_manifest`)."""
    m = read_manifest(out)
    try:
        return grid_from_mapping(m["grid"])
    except ConfigError as exc:
        raise InputFormatError(Path(out) / MANIFEST, None, f"its grid is not valid ({exc}); {MANIFEST_ADVICE}"
                               ) from None


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, Mapping):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, Mapping) else {f"{prefix}{k}": v})
    return out


def _show(v: Any) -> str:
    return "unset" if v is None else show_value(v)


def _difference(key: str, old: Any, new: Any) -> str:
    """How the sweep in a directory differs from the one asked for, in the user's terms."""
    if key == "grid":
        try:
            return f"{grid_from_mapping(old).describe()} there, {grid_from_mapping(new).describe()} now"
        except (ConfigError, TypeError):
            return f"another grid there, {grid_from_mapping(new).describe()} now"
    if key == "record":
        return f"{'with' if old else 'without'} --record there, {'with' if new else 'without'} now"
    if key == "base_config":
        a, b = _flat(old), _flat(new)
        diffs = [f"{k}: {_show(a.get(k))} there, {_show(b.get(k))} now" for k in dict.fromkeys([*b, *a])
                 if a.get(k) != b.get(k)]
        return "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
    if isinstance(old, list) or isinstance(new, list):
        return f"{'/'.join(map(_show, old or []))} there, {'/'.join(map(_show, new or []))} now"
    return f"{_show(old)} there, {_show(new)} now"


def _check_manifest(old: dict, new: dict, out: Path) -> None:
    for key, what in (("grid", "grid"), ("repeats", "number of repeats"), ("seed_entropy", "seed"),
                      ("seed_spawn_key", "seed"), ("base_config", "market/agent options"), ("record", "--record")):
        if old.get(key) != new.get(key):
            diff = _difference(key, old.get(key), new.get(key))
            raise ConfigError(f"--resume: {out} holds a sweep with a different {what} ({diff}); use the same "
                              "options, another --out, or --force to start over")


# ------------------------------------------------------------------------------------------- parts


def _part_files(results_dir: Path) -> list[Path]:
    return sorted(results_dir.glob(PART_GLOB)) if results_dir.is_dir() else []


def _done_indices(results_dir: Path, n_configs: int | None = None, repeats: int | None = None) -> set[int]:
    """The configurations that have their rows on disk, every part read whole (so that a damaged part is found
    before the sweep runs more). With ``n_configs`` and ``repeats``, also checks that each part holds
    configurations of this grid with all their repeats. Raises :class:`~lobkit.errors.InputFormatError`
    naming the part and what to do."""
    from lobkit.sweeps.results import PART_ADVICE, read_part

    owner: dict[int, Path] = {}
    for p in _part_files(results_dir):
        df = read_part(p)
        for index, n in df.group_by("config_index").len().iter_rows():
            if n_configs is not None and not 0 <= index < n_configs:
                raise InputFormatError(p, None, f"holds configuration {index}, but this grid has configurations "
                                                f"0 to {n_configs - 1}; {PART_ADVICE}")
            if repeats is not None and n != repeats:
                raise InputFormatError(p, None, f"holds {n} runs of configuration {index}, but the sweep has "
                                                f"{repeats} repeats; {PART_ADVICE}")
            if index in owner:
                raise InputFormatError(p, None, f"holds configuration {index}, which {owner[index].name} holds "
                                                "too; delete the one that should not be there")
            owner[index] = p
    return set(owner)


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` through ``write(binary file)`` into a temporary file beside it, flushed to disk, then
    renamed over ``path``: readers see the old file or the whole new one, never a part (even after a crash)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_part(results_dir: Path, configs: list[tuple[int, dict, list[tuple[int, dict | None, str | None]]]]
                ) -> Path:
    """Write the rows of finished configurations ``(index, params, runs)`` as one part, atomically (a temporary
    file, then ``os.replace``). Each configuration is in exactly one part, which is named after the smallest
    configuration index it holds. Raises :class:`SweepError` when the disk refuses."""
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
    try:
        _write_atomic(final, df.write_parquet)
    except OSError as exc:
        raise SweepError(f"cannot write {final} ({exc.strerror or exc}); the configurations finished before are "
                         "on disk: free the space or fix the permissions, then run the same sweep with --resume"
                         ) from None
    return final


#: What a sweep writes into its directory (``--force`` removes exactly these, nothing else).
_OUTPUT_FILES = (MANIFEST, INVALID, "heatmap.png")
_RUN_DIR_RE = re.compile(r"^config-\d+$")


def _remove_outputs(out: Path) -> None:
    """Remove a previous sweep's outputs from ``out`` (``--force``): ``sweep.json`` first (so that an interrupted
    removal never leaves a directory that looks resumable), then ``invalid.jsonl``, ``heatmap.png``, the parts
    and temporary files in ``results/`` and the ``config-<i>`` directories in ``runs/``. Files the sweep did not
    write stay, and so do the folders that hold them."""
    for name in _OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    results_dir = out / RESULTS_DIR
    if results_dir.is_dir():
        for p in [*results_dir.glob(PART_GLOB), *results_dir.glob(".part-*.tmp")]:
            p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            results_dir.rmdir()  # only when empty
    runs = out / "runs"
    if runs.is_dir():
        for d in runs.iterdir():
            if d.is_dir() and not d.is_symlink() and _RUN_DIR_RE.match(d.name):
                shutil.rmtree(d)
        with contextlib.suppress(OSError):
            runs.rmdir()


def _check_value_types(base_cfg: Any, grid: Grid) -> None:
    """Refuse, before anything runs, a grid value that cannot be of its field's type whatever the other values
    (``short=abc``, ``size=1.5``, ``duration=3parsecs``): a mistake in the grid, not an invalid combination."""
    from lobkit.sweeps.grid import _selector_varies, coerce_value

    if _selector_varies(grid):
        return  # names depend on the agent / flow of each combination: checked per combination
    for axis in grid.axes:
        for v in axis.values:
            try:
                coerce_value(base_cfg, axis.name, v)
            except (ConfigError, ValueError, TypeError) as exc:
                raise ConfigError(f"grid: {axis.name}={show_value(v)}: {str(exc).removeprefix('grid: ')}") \
                    from None


# ------------------------------------------------------------------------------------------ backends


def _iter_joblib(tasks: Iterator[list[Unit]], workers: int, args: tuple) -> Iterator[list]:
    """Run the tasks on ``workers`` loky processes (joblib; in this process when 1), results as they come.

    Closing the generator early (an exception, a signal) makes joblib kill the workers."""
    from joblib import Parallel, delayed, parallel_config

    kernel = threading.current_thread() is threading.main_thread()
    if workers > 1:
        start_helpers_deaf_to_hangup()
    with parallel_config(backend="loky", initializer=worker_init, initargs=(os.getpid(), kernel, tuple(sys.path))):
        par = Parallel(n_jobs=workers, return_as="generator_unordered", pre_dispatch="2*n_jobs", batch_size=1)
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


def _dask_client(scheduler: Any, workers: int):
    """A ``distributed.Client`` for ``scheduler`` (address or Client), or a local cluster of ``workers`` worker
    processes when None. Returns ``(client, cluster, local_worker_pids)``."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        start_helpers_deaf_to_hangup(loky=False)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
        try:
            client.wait_for_workers(workers, timeout=120)
            pids = list(client.run(dask_worker_init, os.getpid()).values())
        except BaseException:
            client.close()
            cluster.close()
            raise
        return client, cluster, pids
    if isinstance(scheduler, Client):
        return scheduler, None, []
    if not isinstance(scheduler, str):
        raise ConfigError(f"scheduler must be an address such as tcp://HOST:PORT, got {type(scheduler).__name__}")
    try:
        return Client(scheduler, timeout="20s"), None, []
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def _worker_died(exc: BaseException) -> bool:
    """A worker process of the pool died (killed, out of memory) rather than a task raising."""
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"TerminatedWorkerError", "BrokenProcessPool", "KilledWorker", "BrokenExecutor"})


# -------------------------------------------------------------------------------------------- sweep


def sweep(
    base_cfg: Any,
    grid: Grid | str | Mapping | Path,
    repeats: int = 1,
    seed: int | np.random.SeedSequence | None = None,
    jobs: int = 1,
    out: str | Path = "sweeps/out",
    backend: str = "loky",
    scheduler: Any = None,
    resume: bool = False,
    overwrite: bool = False,
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
        jobs: worker processes (``-1``: every usable core), capped at the usable cores and at the simulations
            to run (a note on stderr says so; see :mod:`lobkit.sweeps.workers`); ``1`` runs in this process.
            With ``backend="dask"`` and no scheduler: the workers of the local cluster, capped the same way.
        out: the sweep directory (see the module docstring).
        backend: ``"loky"`` (joblib, local processes) or ``"dask"`` (``distributed``).
        scheduler: with ``backend="dask"``: ``"tcp://HOST:PORT"`` or a ``distributed.Client``.
        resume: continue the sweep in ``out``: skip finished configurations (every part is read and checked
            first). Without ``resume`` or ``overwrite``, ``out`` must not already hold results.
        overwrite: start over in ``out``: remove the previous sweep's outputs (``sweep.json``,
            ``invalid.jsonl``, ``heatmap.png``, the parts in ``results/``, ``runs/config-*``; nothing else)
            once the arguments have been checked, then run. Not together with ``resume``.
        record: keep each run's full outputs (orders, trades, PnL) under ``out/runs/`` (large!).
        progress: show a tqdm progress bar (simulations).
        heatmap: write ``out/heatmap.png`` at the end (``True``: the first two swept parameters with more
            than one value; or ``(x, y)`` names, ``y`` None for a single row).
        metric: the summary key that is ranked and plotted.
        simulate: the simulation function (default :func:`lobkit.sim.experiments.simulate`); must be picklable.
        on_invalid: called with each :class:`InvalidPoint` (the CLI prints them).

    Returns:
        a :class:`SweepResult`; the rows are in ``out/results/`` (:meth:`SweepResult.table`).

    Raises:
        ConfigError: a bad argument, grid (syntax, unknown name, a value of the wrong type) or directory
            state, before anything is written or run.
        InputFormatError: with ``resume``, a ``sweep.json`` or results part that cannot be read (named).
        SweepInterrupted: SIGINT, SIGTERM or SIGHUP stopped the sweep (the workers are killed first).
        SweepError: a worker process died, or a part could not be written.
    """
    t0 = time.perf_counter()
    grid = as_grid(grid)
    from lobkit.sim.config import check_repeats

    repeats = check_repeats(repeats)
    repeats = int(repeats)
    if backend not in ("loky", "dask"):
        raise ConfigError(f"backend must be 'loky' or 'dask', got {show_value(backend)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int | np.integer) or jobs == 0 or jobs < -1:
        raise ConfigError(f"jobs must be a positive integer (or -1 for all cores), got {show_value(jobs)}")
    jobs = int(jobs)
    if scheduler is not None and backend != "dask":
        raise ConfigError("a scheduler is only used with backend='dask'")
    if resume and overwrite:
        raise ConfigError("--resume continues the sweep in the directory and --force deletes it: give one of them")
    check_names(base_cfg, grid)
    _check_value_types(base_cfg, grid)
    if hasattr(base_cfg, "record") and base_cfg.record != record:
        base_cfg = dataclasses.replace(base_cfg, record=record)

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"sweep directory {out}: exists and is not a directory")
    results_dir = out / RESULTS_DIR
    has_manifest = (out / MANIFEST).is_file()
    old = None
    if resume and has_manifest:
        old = read_manifest(out)
        if seed is None:
            seed = old["seed_entropy"]
    elif resume and _part_files(results_dir):
        raise InputFormatError(out / MANIFEST, None, f"missing, but {results_dir} holds results parts of an unknown "
                                                     "sweep; run with --force to start over (this deletes them)")
    root = root_seed(seed)
    manifest = _manifest(base_cfg, grid, repeats, root, record)
    if old is not None:
        _check_manifest(old, manifest, out)
    if not resume and not overwrite and _part_files(results_dir):
        raise ConfigError(f"{out} already holds sweep results; pass --resume to continue that sweep, or --force to "
                          "delete them and start over (or choose another --out)")
    done = _done_indices(results_dir, len(grid), repeats) if resume else set()

    with stop_on_signals():
        return _run(base_cfg, grid, repeats, root, jobs, out, backend, scheduler, overwrite, record, progress,
                    heatmap, metric, simulate, on_invalid, manifest, done, t0)


def _prepare_dir(out: Path, overwrite: bool, manifest: dict) -> None:
    """Create the sweep directory, remove the previous outputs (``overwrite``) and stale temporary files, and
    write ``sweep.json`` atomically."""
    try:
        (out / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
        if overwrite:
            _remove_outputs(out)
            (out / RESULTS_DIR).mkdir(exist_ok=True)
        for stale in [*(out / RESULTS_DIR).glob(".part-*.tmp"), *out.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        _write_atomic(out / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=2).encode()))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else ""
        raise ConfigError(f"sweep directory {out}: cannot write there{where}: {exc.strerror or exc}") from None


def _run(base_cfg, grid, repeats, root, jobs, out, backend, scheduler, overwrite, record, progress, heatmap,
         metric, simulate, on_invalid, manifest, done, t0) -> SweepResult:
    """The body of :func:`sweep` once its arguments are checked (under :func:`stop_on_signals`)."""
    results_dir = out / RESULTS_DIR
    client = cluster = bar = it = None
    worker_pids: list[int] = []
    completed = False
    if backend == "dask" and scheduler is not None:  # reach the cluster before writing anything
        client, _, _ = _dask_client(scheduler, 0)
    try:
        _prepare_dir(out, overwrite, manifest)

        # first pass: validate every combination (reported and skipped), count what is left to run
        n_valid = n_invalid = n_pending = 0
        kept_invalid: list[InvalidPoint] = []

        def first_pass(f) -> None:
            nonlocal n_valid, n_invalid, n_pending
            for pt in expand(base_cfg, grid):
                if isinstance(pt, InvalidPoint):
                    n_invalid += 1
                    rec = {"config_index": pt.index, "params": pt.params, "error": pt.error}
                    f.write((json.dumps(rec) + "\n").encode())
                    if len(kept_invalid) < INVALID_KEEP:
                        kept_invalid.append(pt)
                    if on_invalid is not None:
                        on_invalid(pt)
                else:
                    n_valid += 1
                    n_pending += pt.index not in done

        _write_atomic(out / INVALID, first_pass)
        n_resumed = n_valid - n_pending
        n_sims = n_pending * repeats

        if client is not None:
            workers = max(1, sum(client.nthreads().values()))
        else:
            workers, why = worker_count(jobs, n_sims)
            if why and n_sims:
                note(why)
            if backend == "dask" and n_sims:
                client, cluster, worker_pids = _dask_client(None, workers)
        pending = (p for p in expand(base_cfg, grid) if isinstance(p, Point) and p.index not in done)
        tasks = _make_tasks(pending, repeats, lambda left: sims_per_task(left, workers), n_sims)
        record_dir = str((out / "runs").resolve()) if record else None
        args = (root.entropy, tuple(root.spawn_key), record_dir, simulate)

        # params of configurations in flight (a configuration may be split over tasks); bounded by the queue
        inflight: dict[int, tuple[dict, list]] = {}
        params_of = _ParamsLookup(grid)
        n_errors = n_run = 0
        cpu_s = 0.0
        if progress and n_sims:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_sims, unit="sim", desc="sweep", dynamic_ncols=True, initial=0)
        if n_sims:
            it = _iter_dask(tasks, client, args) if client is not None else _iter_joblib(tasks, workers, args)
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
        completed = True
    except Exception as exc:
        if _worker_died(exc):
            raise SweepError(f"a worker process died ({_first_line(exc)}); the configurations that finished are in "
                             f"{results_dir}: run the same sweep with --resume to complete it") from None
        raise
    finally:
        _stop_backend(it, client, cluster, worker_pids, scheduler, completed)
        if bar is not None:
            bar.close()

    hm = None
    if heatmap and (n_run or n_resumed):
        from lobkit.sweeps.results import write_heatmap

        pair = heatmap if isinstance(heatmap, tuple) else None
        hm = write_heatmap(out, grid, metric=metric, params=pair)
    return SweepResult(
        out=out, grid=grid, repeats=repeats, seed_entropy=int(root.entropy), n_configs=len(grid),
        n_valid=n_valid, n_invalid=n_invalid, n_run=n_run, n_resumed=n_resumed, n_errors=n_errors,
        elapsed_s=time.perf_counter() - t0, invalid=tuple(kept_invalid), heatmap=hm, metric=metric, cpu_s=cpu_s,
        workers=workers if n_sims else 0,
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def _stop_backend(it, client, cluster, worker_pids: list[int], scheduler: Any, completed: bool) -> None:
    """Release the workers. After a normal end: loky keeps its idle workers for the next sweep of this process,
    a local Dask cluster is closed. After an exception or a signal: loky's workers are killed (closing the
    joblib generator aborts it), a local Dask cluster's worker processes are killed, then the cluster closed."""
    import warnings

    if it is not None:
        with warnings.catch_warnings():  # joblib warns that the cancelled tasks were not used: we know
            warnings.simplefilter("ignore")
            it.close()
    import logging

    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    if not completed:
        # the killed workers' connections close under the client: distributed logs each one with a traceback,
        # which is noise to a person who stopped the sweep (the sweep says what happened, on one line)
        if client is not None:
            dask_log.setLevel(logging.CRITICAL)
        for pid in worker_pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    try:
        if client is not None and (scheduler is None or isinstance(scheduler, str)):
            with contextlib.suppress(Exception):
                client.close(timeout=10)  # ours; a Client passed in stays open
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)
    finally:
        if completed:
            dask_log.setLevel(level)


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
