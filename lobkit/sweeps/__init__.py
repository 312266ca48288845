"""Parameter sweeps: grids (:mod:`.grid`), the joblib and Dask runner (:mod:`.runner`), its worker processes
(how many, and how a stopped sweep leaves none behind: :mod:`.workers`), results and heatmaps
(:mod:`.results`), the throughput benchmark (:mod:`.bench`). See ``docs/sweeps.md``."""

from __future__ import annotations


def sweep_throughput(jobs: int | None = None, n_configs: int = 200, events: int = 100_000, **kw) -> dict:
    """Sweep throughput (imports the simulator on first call).

    With ``jobs``: one timed sweep of ``n_configs`` configurations x ``events``-event simulations
    (:func:`lobkit.sweeps.bench.sweep_throughput`). Without: the whole benchmark
    (:func:`lobkit.sweeps.bench.sweep_benchmark`: ``sweep_sims_per_s_1``, ``sweep_sims_per_s_2``,
    ``sweep_scaling``, ``sweep_1000x100k_seconds``, ...), which ``benchmarks/simulate.py`` reports.
    """
    from lobkit.sweeps import bench

    if jobs is None:
        return bench.sweep_benchmark(configs=n_configs, events=events, **kw)
    return bench.sweep_throughput(jobs, n_configs, events, **kw)
