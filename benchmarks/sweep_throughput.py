"""Sweep throughput: simulations per second with 1 and 2 workers, and a 1,000 x 100,000-event sweep.

    .venv/bin/python benchmarks/sweep_throughput.py --json
    .venv/bin/python benchmarks/sweep_throughput.py --json --out benchmarks/results/sweep.json
    .venv/bin/python benchmarks/sweep_throughput.py --configs 100 --big 0 --rounds 1     # quick look

The JSON holds the measured keys, ``date`` (UTC, ISO 8601), ``machine`` (CPU model, cores, usable cores,
memory, OS and library versions) and ``load_average_1min`` (before, after): a figure means little without them
on a shared machine. ``targets`` and ``pass``: the scaling from 1 to 2 workers (at least 1.8x) and the big sweep
(at most 60 s), met or not. The measuring code
lives in :mod:`lobkit.sweeps.bench` (also behind the sweep keys of ``benchmarks/simulate.py``); see its
docstring and ``docs/sweeps.md`` for what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _results import write_result  # noqa: E402  (benchmarks/_results.py)

from lobkit.sweeps.bench import machine_description, sweep_benchmark, sweep_throughput  # noqa: E402

__all__ = ["main", "sweep_benchmark", "sweep_throughput"]

SCALING_TARGET = 1.8  # 2 workers at least 1.8x as many simulations per second as 1 (at least)
BIG_SWEEP_SECONDS = 60  # the big sweep (1,000 configurations of 100,000-event simulations) in at most this


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", type=int, default=200, help="configurations of the 1- vs 2-worker runs")
    p.add_argument("--events", type=int, default=100_000, help="background events per simulation")
    p.add_argument("--big", type=int, default=1000, help="configurations of the big sweep (0: skip it)")
    p.add_argument("--rounds", type=int, default=2, help="alternating 1-/2-worker rounds (fastest counts)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, help="also write the JSON object to this file (atomically)")
    a = p.parse_args(argv)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    figures = sweep_benchmark(configs=a.configs, events=a.events, big=a.big, rounds=a.rounds)
    load = [round(figures.pop("load_avg_1min_before"), 2), round(figures.pop("load_avg_1min_after"), 2)]
    out = {"benchmark": "sweep_throughput", "date": started.isoformat().replace("+00:00", "Z"),
           "machine": machine_description(),
           "parameters": {"configs": a.configs, "events": a.events, "big": a.big, "rounds": a.rounds},
           **figures, "load_average_1min": load}
    big_key = f"sweep_{a.big}x{a.events // 1000}k_seconds"
    out["targets"] = {"sweep_scaling": SCALING_TARGET, **({big_key: BIG_SWEEP_SECONDS} if a.big else {})}
    out["pass"] = {"sweep_scaling": out["sweep_scaling"] >= SCALING_TARGET,
                   **({big_key: out[big_key] <= BIG_SWEEP_SECONDS} if a.big else {})}
    text = json.dumps(out, indent=2)
    if a.out is not None:
        write_result(a.out, out)
    if a.json:
        print(text)
    else:
        for k, v in out.items():
            print(f"{k:<32} {v:,.3f}" if isinstance(v, float) else f"{k:<32} {v}")
    return out


if __name__ == "__main__":
    main()
