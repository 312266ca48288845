"""The Python API: ``lobkit.run``, ``lobkit.compare``, ``lobkit.impact`` and ``lobkit.sweep``, mirroring the CLI.

Keyword arguments are the configuration's options (:mod:`lobkit.sim.options`): ``agent="momentum"``,
``short=5``, ``size=1``, ``duration="1h"`` (durations: ``"90s"``, ``"30min"``, or a bare number of seconds),
``flow="hawkes"``, ``limit_rate=25``, ... A ready :class:`~lobkit.sim.config.RunConfig` may be passed as
``config=`` (keywords then change it). ``seed``: omitted, fresh entropy (recorded in the result: pass it back to
repeat the run); else a non-negative integer or a ``numpy.random.SeedSequence`` (:mod:`lobkit.seeds`)::

    import lobkit
    res = lobkit.run(agent="momentum", short=5, long=20, duration="10min", seed=7)
    res.summary["final_pnl"]
    cmp = lobkit.compare(agent="momentum", duration="10min", seed=7, repeats=4)
    imp = lobkit.impact(lots=(1, 10, 100), pairs=16, seed=7)
    sw = lobkit.sweep("short=3,5,10 long=20,50,100", repeats=8, jobs=2, out="sweeps/ma", duration="10min")
    sw.best(5)          # a Polars frame
    rep = lobkit.eval_market(flow="calibrated:market.toml", against="lob-btc.db", runs=3, seed=7)

Every function raises :class:`~lobkit.errors.ConfigError` (one line naming the option) for bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lobkit.seeds import DEFAULT_SEED

__all__ = ["build_config", "compare", "eval_market", "gui", "impact", "run", "sweep"]


def build_config(config: Any = None, **options: Any):
    """A :class:`~lobkit.sim.config.RunConfig` from options (``None`` values ignored), on top of ``config``
    (default: the defaults). See :mod:`lobkit.sim.options`."""
    from lobkit.sim.options import apply_options

    return apply_options(config, options)


def run(*, seed: Any = DEFAULT_SEED, out: str | Path | None = None, config: Any = None, record: bool | None = None,
        plot: bool = True, progress: bool = False, python_agent: bool = False, **options: Any):
    """Run one simulation (``lobkit run``); with ``out``, write its files there (see
    :func:`lobkit.sim.output.write_run`: Parquet tables, ``summary.json``, ``pnl.png`` unless ``plot=False``).

    ``record`` keeps the per-order and per-trade logs (default: when ``out`` is given). ``python_agent``: run
    the built-in agent's Python form (slow path; same result). Returns the
    :class:`~lobkit.sim.results.RunResult` (``summary`` dict, ``timeline`` frame, ``seed``, ...).
    """
    from lobkit.sim.experiments import simulate

    if record is not None and options.get("record") is not None:
        from lobkit.errors import ConfigError

        raise ConfigError("record: given twice")
    if record is None and options.get("record") is None:
        record = out is not None
    if record is not None:
        options["record"] = record
    cfg = build_config(config, **options)
    _check_out(out)
    result = simulate(cfg, seed, jit=not python_agent, progress=progress)
    if out is not None:
        from lobkit.sim.output import write_run

        write_run(result, out, plot=plot)
    return result


def compare(*, seed: Any = DEFAULT_SEED, repeats: int = 1, out: str | Path | None = None, config: Any = None,
            plot: bool = True, progress: bool = False, **options: Any):
    """The strategy against its paper baseline on common random numbers (``lobkit compare``).

    Returns the :class:`~lobkit.sim.results.CompareResult` (``pairs`` frame: PnL, paper PnL, impact cost and
    market impact per seed pair; ``summary``: means with 95% confidence intervals and the coupling variance
    ratio). With ``out``, writes ``compare.json``, ``pairs.parquet`` and ``compare.png``.
    """
    from lobkit.sim.experiments import compare as _compare

    cfg = build_config(config, **options)
    _check_out(out)
    result = _compare(cfg, seed, repeats, progress=progress)
    if out is not None:
        from lobkit.sim.output import write_compare

        write_compare(result, out, plot=plot)
    return result


def impact(*, seed: Any = DEFAULT_SEED, lots: Any = (1, 5, 25, 100), pairs: int = 32, horizon: Any = "10min",
           side: str = "buy", out: str | Path | None = None, config: Any = None, plot: bool = True,
           progress: bool = False, **options: Any):
    """An impulse-response experiment (``lobkit impact``): one market order of ``q`` lots for each ``q`` in
    ``lots``, at the end of the warm-up, against the same market without it, over ``pairs`` seed pairs; the mean
    mid difference and its 95% band as a function of the time since the order, up to ``horizon``.

    Returns an :class:`~lobkit.sim.experiments.ImpactResult` (``curves``, ``final``, ``summary``). With ``out``,
    writes ``impact.json``, ``impact.parquet`` and ``impact.png``.
    """
    from lobkit.sim.experiments import impulse_response

    cfg = build_config(config, **options)
    _check_out(out)
    result = impulse_response(cfg, seed, lots=lots, pairs=pairs, horizon=horizon, side=side, progress=progress)
    if out is not None:
        from lobkit.sim.output import write_impact

        write_impact(result, out, plot=plot)
    return result


def eval_market(*, against: str | Path, runs: int = 3, seed: Any = DEFAULT_SEED, levels: int | None = None,
                replicates: int = 200, out: str | Path | None = None, config: Any = None, progress: bool = False,
                **options: Any):
    """The realism report of a simulated market against real data (``lobkit eval-market``).

    ``against``: the real data, a snapshot source (``lob-btc.db``, with the Bitstamp capture it was recorded from
    when one is found: :func:`lobkit.realism.real_record`) or a LOBSTER zip (with its messages). The market of
    ``options`` (``flow="nhp:..."``, ``initial_book=...``, any option) is simulated ``runs`` times (seeds split from
    ``seed``), each for as long as the real data covers after its warm-up, with the agent of the options (default
    ``null``: the market alone). Returns a :class:`lobkit.realism.RealismReport` (``.data``, ``.targets``,
    ``.markdown()``); with ``out``, writes ``realism.md``, ``realism.json`` and ``realism.png`` there. ``levels``:
    the book levels a side compared (default: as many as the data has, at most 20).

    Raises :class:`~lobkit.errors.ConfigError` / :class:`~lobkit.errors.InputFormatError` for bad options or data.
    """
    from lobkit.errors import ConfigError
    from lobkit.realism import real_record, realism_report, simulated_records
    from lobkit.seeds import child, label, seed_sequence

    options.setdefault("agent", "null")
    cfg = build_config(config, **options)
    _check_out(out)
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= 1000:
        raise ConfigError(f"runs: an integer from 1 to 1,000, got {runs!r}")
    ss = seed_sequence(seed)
    real = real_record(str(against), tick_size=cfg.market.tick_size, levels=levels or 20)
    if levels is None:  # compare the levels the data has (a LOBSTER level-5 file: 5)
        import dataclasses

        import numpy as np

        seen = int(max(np.isfinite(real.bid_volume).any(0).sum(), np.isfinite(real.ask_volume).any(0).sum()))
        levels = seen if 0 < seen < 20 else 20
        real = dataclasses.replace(real, bid_volume=real.bid_volume[:, :levels].copy(),
                                   ask_volume=real.ask_volume[:, :levels].copy())
    sims = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=runs, desc="eval-market", unit="run", dynamic_ncols=True)
    try:
        for i in range(runs):
            sims += simulated_records(cfg, child(ss, i), 1, duration_ns=real.duration_ns, levels=levels)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    report = realism_report(real, sims, seed=child(ss, runs), replicates=replicates)
    report.data["config"] = {"flow": cfg.flow.spec, "initial_book": cfg.market.book_source[0], "runs": runs,
                             "seed": label(ss),
                             "hours_each": real.duration_ns / 3.6e12, "against": str(against), "levels": levels}
    if out is not None:
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        report.write_markdown(d / "realism.md")
        report.to_json(d / "realism.json")
        report.figure(d / "realism.png")
    return report


def sweep(grid: Any, *, repeats: int = 1, seed: Any = DEFAULT_SEED, jobs: int = 1, out: str | Path = "sweeps/out",
          backend: str = "loky", scheduler: Any = None, resume: bool = False, record: bool = False,
          progress: bool = True, heatmap: bool | tuple[str, str | None] = True, metric: str = "final_pnl",
          config: Any = None, on_invalid: Any = None, **kwargs: Any):
    """A parameter sweep (``lobkit sweep``): see :func:`lobkit.sweeps.runner.sweep`.

    ``grid`` is a grid string (``"short=3,5,10 long=20,50,100"``), a ``.toml`` path, a ``{name: values}`` mapping
    or a :class:`~lobkit.sweeps.grid.Grid`; its names are options (:mod:`lobkit.sim.options`). The other keywords
    (``duration``, ``size``, ...) set the base configuration the grid varies. Returns a
    :class:`~lobkit.sweeps.runner.SweepResult` (``.table()``, ``.summary()``, ``.best(k)``: Polars frames).
    """
    from lobkit.sweeps.runner import sweep as _sweep

    sweep_only = {k: kwargs.pop(k) for k in ("overwrite",) if k in kwargs}
    base = build_config(config, **kwargs)
    return _sweep(base, grid, repeats=repeats, seed=seed, jobs=jobs, out=out, backend=backend,
                  scheduler=scheduler, resume=resume, record=record, progress=progress, heatmap=heatmap,
                  metric=metric, on_invalid=on_invalid, **sweep_only)


def gui(*, agent: str = "momentum", values: dict | None = None, model_dirs: list | None = None,
        out: str | Path = "runs/gui", dark: bool | None = None) -> None:
    """Open the Algo-Gym (``lobkit gui``) and return when its window closes. ``agent`` and ``values`` (field
    name -> text: ``flow``, ``initial_book``, ``duration``, ``seed``, the agent's parameters) fill the form;
    ``model_dirs``: more folders to look for learned markets in (besides the working directory and
    ``$LOBKIT_MODELS``); ``out``: where exports go; ``dark``: the colour mode (None: the remembered one). The
    working directory is put on ``sys.path``, so a strategy class in ``./mymodule.py`` is ``mymodule:MyAgent``.

    Raises :class:`~lobkit.errors.ConfigError` when there is no display (``$DISPLAY`` unset or unreachable).
    """
    import tkinter as tk

    from lobkit.errors import ConfigError
    from lobkit.gui.app import AlgoGym
    from lobkit.gui.form import find_models

    try:
        root = tk.Tk()
    except tk.TclError as exc:
        raise ConfigError(f"gui: cannot open a window ({exc}); on a machine without a desktop run it under a "
                          "virtual display: xvfb-run lobkit gui") from None
    import os
    import sys

    if os.getcwd() not in sys.path:  # a strategy in ./mymodule.py is reachable as mymodule:MyAgent
        sys.path.insert(0, os.getcwd())
    roots = [Path.cwd(), *filter(None, [os.environ.get("LOBKIT_MODELS")]), *(model_dirs or [])]
    app = AlgoGym(root, agent=agent, values=values, models=find_models(roots), out=out, dark=dark)
    app.mainloop()


def _check_out(out) -> None:
    """Refuse an unusable output directory before anything runs (after the options are known to be good)."""
    if out is not None:
        from lobkit.sim.output import check_out_dir

        check_out_dir(out)
