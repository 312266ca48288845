"""The Python API: ``lobkit.run``, ``lobkit.compare`` and ``lobkit.sweep``, mirroring the CLI.

Keyword arguments are the CLI's market and agent options without the dashes (``duration="1h"``,
``agent="momentum"``, ``short=5``, ``long=20``, ``size=1``, ``fee_bps=0.5`` ...): any field of
:class:`~lobkit.sim.config.AgentConfig` or :class:`~lobkit.sim.config.MarketConfig`, with ``*_ns`` fields
also reachable without the suffix and given as durations (``duration="30min"``, ``warmup="5min"``,
``interval="1s"``), and ``agent`` for the agent's name. ``None`` means "the default", so a CLI can pass
its options straight through. A ready :class:`~lobkit.sim.config.RunConfig` may be passed as ``config=``
instead (keywords then change it)::

    import lobkit
    res = lobkit.run(agent="momentum", short=5, long=20, duration="10min", seed=7)
    res.summary["final_pnl"]
    cmp = lobkit.compare(agent="momentum", duration="10min", seed=7, repeats=4)
    sw = lobkit.sweep("short=3,5,10 long=20,50,100", repeats=8, jobs=2, out="sweeps/ma", duration="10min")
    sw.best(5)          # a Polars frame
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lobkit.errors import ConfigError

__all__ = ["build_config", "compare", "run", "sweep"]


def build_config(config: Any = None, record: bool | None = None, **options: Any):
    """A :class:`~lobkit.sim.config.RunConfig` from CLI-style keyword options (``None`` values ignored).

    Raises :class:`ConfigError` naming the option for an unknown name or an invalid value.
    """
    from dataclasses import replace

    from lobkit.sim.config import RunConfig
    from lobkit.sweeps.grid import apply_params

    cfg = RunConfig() if config is None else config
    if not isinstance(cfg, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(cfg).__name__}")
    given = {k: v for k, v in options.items() if v is not None}
    if given:
        try:
            cfg = apply_params(cfg, given)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix("grid: ")) from None
    if record is not None and record != cfg.record:
        cfg = replace(cfg, record=bool(record))
    return cfg


def run(*, seed: int = 7, out: str | Path | None = None, config: Any = None, record: bool | None = None,
        plot: bool = True, progress: bool = False, **options: Any):
    """Run one simulation (``lobkit run``); with ``out``, write its files there (see
    :func:`lobkit.sim.output.write_run`: Parquet tables, ``summary.json``, ``pnl.png`` unless ``plot=False``).

    ``record`` keeps the per-order and per-trade logs (default: when ``out`` is given). Returns the
    simulator's :class:`~lobkit.sim.runner.RunResult` (``summary`` dict, ``timeline`` frame, ...).
    """
    from lobkit.sim.runner import simulate

    if record is None:
        record = out is not None
    cfg = build_config(config, record=record, **options)
    result = simulate(cfg, _seed(seed), progress=progress)
    if out is not None:
        from lobkit.sim.output import write_run

        write_run(result, out, plot=plot)
    return result


def compare(*, seed: int = 7, repeats: int = 1, out: str | Path | None = None, config: Any = None,
            plot: bool = True, progress: bool = False, **options: Any):
    """The strategy against the NullAgent baseline on common random numbers (``lobkit compare``).

    Returns the simulator's :class:`~lobkit.sim.runner.CompareResult` (``pairs`` frame: PnL and market impact
    per seed pair; ``summary``: means with 95% confidence intervals). With ``out``, writes ``compare.json``,
    ``pairs.parquet`` and ``compare.png``.
    """
    from lobkit.sim.runner import compare as _compare

    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer >= 1, got {repeats!r}")
    cfg = build_config(config, **options)
    result = _compare(cfg, _seed(seed), repeats, progress=progress)
    if out is not None:
        from lobkit.sim.output import write_compare

        write_compare(result, out, plot=plot)
    return result


def sweep(grid: Any, *, repeats: int = 1, seed: int | None = 0, jobs: int = 1, out: str | Path = "sweeps/out",
          backend: str = "loky", scheduler: Any = None, resume: bool = False, record: bool = False,
          progress: bool = True, heatmap: bool | tuple[str, str | None] = True, metric: str = "final_pnl",
          config: Any = None, on_invalid: Any = None, **options: Any):
    """A parameter sweep (``lobkit sweep``): see :func:`lobkit.sweeps.runner.sweep`.

    ``grid`` is a grid string (``"short=3,5,10 long=20,50,100"``), a ``.toml`` path, a
    ``{name: values}`` mapping or a :class:`~lobkit.sweeps.grid.Grid`; the other keywords (``duration``,
    ``size``, ...) set the base configuration the grid varies. Returns a
    :class:`~lobkit.sweeps.runner.SweepResult` (``.table()``, ``.summary()``, ``.best(k)``: Polars frames).
    """
    from lobkit.sweeps.runner import sweep as _sweep

    base = build_config(config, **options)
    return _sweep(base, grid, repeats=repeats, seed=seed, jobs=jobs, out=out, backend=backend,
                  scheduler=scheduler, resume=resume, record=record, progress=progress, heatmap=heatmap,
                  metric=metric, on_invalid=on_invalid)


def _seed(seed: Any):
    import numpy as np

    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return seed
