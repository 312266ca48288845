"""``lobkit sweep``: a parameter grid x repeats, in parallel, streamed to Parquet, with a heatmap.

A thin layer over :func:`lobkit.sweeps.runner.sweep` (what :func:`lobkit.api.sweep` calls); takes the same
market and agent options as ``lobkit run`` (:func:`lobkit.cli.sim.market_options`, :func:`lobkit.cli.sim.
agent_options`, read by :mod:`lobkit.sim.options`), which give the base configuration the grid then varies.

Exit codes: 0 done; 2 bad input (options, grid, a directory that already holds results, a damaged results
file), before anything runs; 1 the sweep could not go on (a worker died, the disk refused a part); 130 Ctrl-C,
143 SIGTERM, 129 SIGHUP (128 + the signal: the workers are killed, finished configurations kept).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import click

from lobkit.cli.sim import agent_options, market_options, options_from_cli, seed_from_cli
from lobkit.errors import ConfigError


def _sweep_options(fn):
    opts = [
        click.option("--grid", "grid_text", metavar="SPEC",
                     help='Swept parameters: "short=3,5,10 long=20,50,100" (ranges: long=20:100:20, stop included).'),
        click.option("--grid-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="A TOML file with a [grid] table (lists, scalars, {start, stop, step} ranges)."),
        click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Simulations per configuration, each with its own child seed."),
        click.option("--jobs", type=int, default=1, show_default=True,
                     help="Worker processes (-1: all cores), at most one per usable core and per simulation to run; "
                          "local Dask workers with --backend dask and no scheduler."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("sweeps/out"),
                     show_default=True, help="The sweep directory (results/, sweep.json, heatmap.png)."),
        click.option("--resume", is_flag=True, help="Continue the sweep in --out: skip finished configurations."),
        click.option("--force", is_flag=True,
                     help="Start over in --out: delete the previous sweep's results there first (only those)."),
        click.option("--backend", type=click.Choice(["loky", "dask"]), default="loky", show_default=True,
                     help="loky: local processes (joblib); dask: a distributed cluster."),
        click.option("--scheduler", metavar="tcp://HOST:PORT", help="The Dask scheduler (with --backend dask)."),
        click.option("--record", is_flag=True, help="Keep every run's per-order logs under --out/runs (large)."),
        click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
                     help="Rows of the best-configurations table."),
        click.option("--rank-by", type=click.Choice(["mean", "t_stat"]), default="mean", show_default=True,
                     help="Rank configurations by mean PnL or by its t-statistic."),
        click.option("--heatmap", "heatmap_axes", metavar="X[,Y]",
                     help="Swept parameters of heatmap.png: X,Y or X [default: the first two with several values]."),
        click.option("--metric", default="final_pnl", show_default=True, help="The summary key ranked and plotted."),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def register(group: click.Group) -> None:
    """Add ``lobkit sweep`` to the CLI group."""

    @group.command("sweep")
    @_sweep_options
    @agent_options
    @market_options
    def sweep_cmd(grid_text, grid_file, repeats, jobs, out, resume, force, backend, scheduler, record, top, rank_by,
                  heatmap_axes, metric, progress, seed, **market_agent):
        """Run a grid of agent/market parameters x repeats in parallel.

        Each finished configuration is written to OUT/results/ as soon as its last run is back (Ctrl-C,
        SIGTERM or SIGHUP stop the workers and keep what finished; --resume continues; --force starts over).
        Prints the best configurations and writes OUT/heatmap.png.

        \b
        lobkit sweep --grid "short=3,5,10 long=20,50,100" --repeats 8 --jobs 2 --duration 10min --out sweeps/ma
        """
        from lobkit.sweeps.grid import load_grid_file, parse_grid, show_value
        from lobkit.sweeps.runner import SweepError
        from lobkit.sweeps.runner import sweep as run_sweep

        if (grid_text is None) == (grid_file is None):
            raise click.UsageError("give exactly one of --grid and --grid-file")
        if backend != "dask" and scheduler:
            raise click.UsageError("--scheduler needs --backend dask")
        if resume and force:
            raise click.UsageError("--resume continues the sweep in --out and --force deletes it: give one of them")
        grid = parse_grid(grid_text) if grid_text is not None else load_grid_file(grid_file)
        pair = None
        if heatmap_axes:
            pair = tuple(s.strip() for s in heatmap_axes.split(","))
            if len(pair) not in (1, 2) or not all(pair):
                raise click.UsageError("--heatmap takes one or two swept parameters: X or X,Y")
            pair = (pair[0], pair[1] if len(pair) == 2 else None)
            for p in filter(None, pair):
                if p not in grid.names:
                    raise ConfigError(f"--heatmap: '{p}' is not a swept parameter ({', '.join(grid.names)})")

        from lobkit import api

        seed = seed_from_cli(seed)
        base = api.build_config(record=record, **options_from_cli(market_agent))
        n_invalid = 0

        def on_invalid(pt):
            nonlocal n_invalid
            n_invalid += 1
            if n_invalid <= 20:
                desc = " ".join(f"{k}={show_value(v)}" for k, v in pt.params.items())
                click.echo(f"skipped (invalid): {desc}: {pt.error}", err=True)

        click.echo(f"sweep: {grid.describe()}  ({len(grid)} configurations x {repeats} repeats) -> {out}", err=True)
        try:
            _run_and_report(lambda: run_sweep(base, grid, repeats=repeats, seed=seed, jobs=jobs, out=out,
                                              backend=backend, scheduler=scheduler, resume=resume, overwrite=force,
                                              record=record, progress=progress, heatmap=pair or True, metric=metric,
                                              on_invalid=on_invalid),
                            grid, out, n_invalid_ref=lambda: n_invalid, top=top, rank_by=rank_by, metric=metric)
        except KeyboardInterrupt as exc:  # anywhere, even while the table prints: the finished parts are on disk
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            _stopped(exc, out)
        except SweepError as exc:  # not bad input: the sweep could not go on
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


def _stopped(exc: KeyboardInterrupt, out: Path) -> None:
    """Say how the sweep stopped and how to complete it, and exit with 128 + the signal."""
    from lobkit.sweeps.workers import SweepInterrupted

    signum = exc.signum if isinstance(exc, SweepInterrupted) else signal.SIGINT
    how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    with contextlib.suppress(OSError):  # after a SIGHUP the terminal may be gone
        click.echo(f"\n{how}: the workers are stopped, finished configurations are in {out / 'results'}; "
                   "run the same command with --resume to complete the sweep", err=True)
    sys.exit(128 + signum)


def _run_and_report(run, grid, out, n_invalid_ref, top, rank_by, metric) -> None:
    """Run the sweep, then print the counts, the first errors, the best configurations and the output paths."""
    from lobkit.sweeps.grid import show_value
    from lobkit.sweeps.results import best_configs, format_table

    res = run()
    n_invalid = n_invalid_ref()
    if n_invalid > 20:
        click.echo(f"... {n_invalid - 20} more invalid combinations in {out / 'invalid.jsonl'}", err=True)
    click.echo(
        f"done: {res.n_run} configurations run, {res.n_resumed} already done, {res.n_invalid} invalid, "
        f"{res.n_errors} failed simulations, {res.elapsed_s:.1f} s"
    )
    if res.n_valid == 0:
        raise ConfigError(f"every one of the {res.n_configs} combinations of the grid is invalid (see above); "
                          "nothing was run")
    summary = res.summary()
    if res.n_errors:
        failed = summary.filter(summary["n_errors"] > 0)
        for row in failed.head(5).iter_rows(named=True):
            desc = " ".join(f"{k}={show_value(row[k])}" for k in grid.names)
            click.echo(f"error in {desc}: {row['first_error']}", err=True)
    if top:
        best = best_configs(summary, k=top, by=rank_by)
        click.echo(f"\nbest configurations (by {'mean ' + metric if rank_by == 'mean' else 't-statistic'}):")
        click.echo(format_table(best, grid.names, metric=metric))
    click.echo(f"\nresults: {res.results_dir}/ (Parquet dataset: pl.read_parquet('{res.results_dir}/*.parquet'))")
    if res.heatmap is not None:
        click.echo(f"heatmap: {res.heatmap}")
