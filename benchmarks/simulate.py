"""Full-simulation benchmark: background Hawkes flow + momentum agent + matching + accounting, one core.

    .venv/bin/python benchmarks/simulate.py                 # a table with the target and met/missed
    .venv/bin/python benchmarks/simulate.py --json          # one JSON object
    .venv/bin/python benchmarks/simulate.py --out benchmarks/results/simulate.json

Keys of the JSON object:

* ``sim_events_per_s``: background events (plus the agent's orders) per wall second of a whole run (the loop,
  accounting, the sampling grid and the result frames), best of ``--repeat`` runs of ``--duration`` simulated
  time after the compile cache is warm; ``loop_events_per_s``: the jitted loop alone (``Simulation.advance``);
* ``sims_per_s_100k``: simulations of about 100,000 background events per second on one core, in one process
  (what a sweep's worker runs); ``events_per_small_sim`` their mean size;
* ``compile_seconds_cold``: import + a first tiny run in a fresh process with an empty ``NUMBA_CACHE_DIR``
  (everything compiled: the engine kernels, the flow model and the loop); ``compile_seconds_warm``: the same
  with the cache filled (``--no-cold`` skips both);
* ``targets`` and ``pass``: ``sim_events_per_s`` against its target;
* ``date`` (UTC, ISO 8601), ``machine`` (CPU model, cores, memory, OS, library versions) and
  ``load_average_1min`` (before, after): where, when and how busy the shared machine was.

With ``--sweep`` the sweep benchmark's keys are added (:func:`lobkit.sweeps.sweep_throughput`, minutes; its own
script is ``benchmarks/sweep_throughput.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _results import positive_int, write_result  # noqa: E402  (benchmarks/_results.py)

TARGETS = {"sim_events_per_s": 2e6}  # events per wall second of a whole run, one core

_TINY = (
    "import time; t0 = time.perf_counter()\n"
    "from lobkit.sim import AgentConfig, MarketConfig, RunConfig, simulate\n"
    "cfg = RunConfig(market=MarketConfig(duration_ns=20 * 10**9, warmup_ns=5 * 10**9),\n"
    "                agent=AgentConfig(name='momentum', params={'short': 2, 'long': 4}))\n"
    "simulate(cfg, 0)\n"
    "print(time.perf_counter() - t0)\n"
)


def compile_seconds(cache_dir: str) -> float:
    """Seconds for a fresh interpreter to import the simulator and run a 20-second simulation, with
    ``NUMBA_CACHE_DIR=cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", _TINY], env=env, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"benchmarks/simulate.py: the compile-time subprocess failed:\n{p.stderr}")
    return float(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None,
                    help="also write the JSON object to this file (e.g. benchmarks/results/simulate.json)")
    ap.add_argument("--duration", default="4h", help="simulated time of the throughput runs (default 4h)")
    ap.add_argument("--repeat", type=positive_int, default=5, help="throughput runs; the best counts (default 5)")
    ap.add_argument("--small", type=positive_int, default=20, help="~100,000-event simulations timed (default 20)")
    ap.add_argument("--no-cold", action="store_true", help="skip the compile-time measurement")
    ap.add_argument("--sweep", action="store_true", help="add the sweep benchmark's keys (minutes)")
    a = ap.parse_args(argv)
    if a.out is not None and a.out.is_dir():
        ap.error(f"--out {a.out} is a directory")

    from lobkit.sim import AgentConfig, MarketConfig, RunConfig, Simulation, parse_duration, simulate
    from lobkit.sim import nb as snb
    from lobkit.sweeps.bench import machine_description

    load_before = os.getloadavg()[0]
    res: dict = {"benchmark": "simulate", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "machine": machine_description(), "threads": 1}
    if not a.no_cold:
        with tempfile.TemporaryDirectory(prefix="lobkit-numba-") as d:
            res["compile_seconds_cold"] = round(compile_seconds(d), 2)
            res["compile_seconds_warm"] = round(compile_seconds(d), 2)
    else:
        res["compile_seconds_cold"] = res["compile_seconds_warm"] = None

    agent = AgentConfig(name="momentum", size=1, params={"short": 5, "long": 20})
    cfg = RunConfig(market=MarketConfig(duration_ns=parse_duration(a.duration), warmup_ns=parse_duration("5min")),
                    agent=agent)
    simulate(RunConfig(market=MarketConfig(duration_ns=parse_duration("1min"), warmup_ns=parse_duration("10s")),
                       agent=agent), 0)  # compile, or load the cache
    best_full = best_loop = 0.0
    events = 0
    for r in range(a.repeat):
        sim = Simulation(cfg, r)
        t0 = time.perf_counter()
        sim.advance(cfg.market.duration_ns)
        t1 = time.perf_counter()
        out = sim.run()  # the rest: the final sample, the frames, the summary
        t2 = time.perf_counter()
        events = int(sim.state.scalars[snb.S_N_EVENTS]) + int(out.summary["n_orders"])
        best_loop = max(best_loop, events / (t1 - t0))
        best_full = max(best_full, events / (t2 - t0))
    res["sim_events_per_s"] = round(best_full)
    res["loop_events_per_s"] = round(best_loop)
    res["events_per_run"] = events
    res["simulated"] = a.duration
    res["repeat"] = a.repeat

    # ~100,000-event simulations, the unit of the sweep figures
    small = RunConfig(market=MarketConfig(duration_ns=parse_duration("11min"), warmup_ns=parse_duration("1min")),
                      agent=agent)
    t0 = time.perf_counter()
    ev = sum(simulate(small, s).summary["n_events_total"] for s in range(a.small))
    res["sims_per_s_100k"] = round(a.small / (time.perf_counter() - t0), 1)
    res["events_per_small_sim"] = ev // a.small

    if a.sweep:
        from lobkit.sweeps import sweep_throughput

        res.update(sweep_throughput())
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    res["targets"] = dict(TARGETS)
    res["pass"] = {k: res[k] >= v for k, v in TARGETS.items()}

    text = json.dumps(res, indent=2)
    if a.out is not None:
        try:
            write_result(a.out, res)
        except OSError as exc:
            print(f"benchmarks/simulate.py: cannot write --out {a.out}: {exc.strerror}", file=sys.stderr)
            return 1
    if a.json:
        print(text)
        return 0
    m = res["machine"]
    print(f"lobkit simulator benchmark ({m['cpu_model']}, {m['cpu_count']} cores; {res['date']}; one core)")
    for k, v in res.items():
        if k in ("machine", "date", "benchmark", "targets", "pass"):
            continue
        print(f"  {k:>24}: {v:,}" if isinstance(v, int | float) and not isinstance(v, bool) else f"  {k:>24}: {v}")
    for k, v in TARGETS.items():
        print(f"  target {k} >= {v:,.0f}: {'met' if res['pass'][k] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
