"""Full-simulation benchmark: background Hawkes flow + momentum agent + matching + accounting, one core.

Prints a human summary, or one JSON object with ``--json``. Keys:

* ``sim_events_per_s``: background events (plus the agent's orders) per wall second of a whole run
  (``simulate``: loop, accounting, sampling grid and the result frames), best of ``--repeat`` runs after the
  compile cache is warm; ``loop_events_per_s`` is the jitted loop alone;
* ``sims_per_s_100k``: simulations of about 100,000 events per second on one core (what a sweep runs);
* ``compile_seconds_cold``: import + first tiny run in a fresh process with an empty ``NUMBA_CACHE_DIR``
  (everything compiled: engine kernels and the loop); ``compile_seconds_warm`` the same with the cache filled;
* sweep keys (``sweep_sims_per_s_1``, ``sweep_sims_per_s_2``, ...) when :mod:`lobkit.sweeps` provides
  ``sweep_throughput``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_TINY = (
    "import time; t0 = time.perf_counter()\n"
    "from lobkit.sim import AgentConfig, MarketConfig, RunConfig, simulate\n"
    "cfg = RunConfig(MarketConfig(duration_ns=20 * 10**9, warmup_ns=5 * 10**9), AgentConfig(short=2, long=4))\n"
    "simulate(cfg, 0)\n"
    "print(time.perf_counter() - t0)\n"
)


def compile_seconds(cache_dir: str | None) -> float:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", _TINY], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--duration", default="4h", help="simulated time of the throughput run (default 4h)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-compile measurement")
    args = ap.parse_args()

    from lobkit.sim import AgentConfig, MarketConfig, RunConfig, Simulation, parse_duration, simulate
    from lobkit.sim import nb as snb

    res: dict = {}
    if not args.no_cold:
        with tempfile.TemporaryDirectory(prefix="lobkit-numba-") as d:
            res["compile_seconds_cold"] = round(compile_seconds(d), 2)
            res["compile_seconds_warm"] = round(compile_seconds(d), 2)

    cfg = RunConfig(MarketConfig(duration_ns=parse_duration(args.duration), warmup_ns=parse_duration("5min")),
                    AgentConfig(name="momentum", short=5, long=20, size=1))
    simulate(RunConfig(MarketConfig(duration_ns=parse_duration("1min"), warmup_ns=parse_duration("10s")),
                       cfg.agent), 0)  # compile / load the cache
    best_full = best_loop = 0.0
    events = 0
    for r in range(args.repeat):
        sim = Simulation(cfg, r)
        t0 = time.perf_counter()
        sim.advance(cfg.market.duration_ns)
        t1 = time.perf_counter()
        out = sim.run()  # the rest: final sample, frames, summary
        t2 = time.perf_counter()
        events = int(sim.sm.sv[snb.SV_N_EVENTS]) + out.summary["n_orders"]
        best_loop = max(best_loop, events / (t1 - t0))
        best_full = max(best_full, events / (t2 - t0))
    res["sim_events_per_s"] = round(best_full)
    res["loop_events_per_s"] = round(best_loop)
    res["events_per_run"] = events
    res["simulated"] = args.duration

    # ~100,000-event simulations, the unit of the sweep target
    small = RunConfig(MarketConfig(duration_ns=parse_duration("11min"), warmup_ns=parse_duration("1min")),
                      cfg.agent)
    n = 20
    t0 = time.perf_counter()
    ev = 0
    for s in range(n):
        ev += simulate(small, s).summary["n_events_total"]
    dt = time.perf_counter() - t0
    res["sims_per_s_100k"] = round(n / dt, 1)
    res["events_per_small_sim"] = ev // n

    # ---- sweep throughput: provided by lobkit.sweeps (the sweeps engineer's function) -------------------------
    try:
        from lobkit.sweeps import sweep_throughput  # type: ignore[attr-defined]
    except ImportError:
        sweep_throughput = None
    if sweep_throughput is not None:
        res.update(sweep_throughput())
    # --------------------------------------------------------------------------------------------------------

    res["cpu_count"] = os.cpu_count()
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>24}: {v:,}" if isinstance(v, int | float) else f"{k:>24}: {v}")


if __name__ == "__main__":
    main()
