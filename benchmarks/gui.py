"""How responsive the Algo-Gym stays during a full-speed run: the window's event loop, Stop, and what the window
costs the simulation.

    .venv/bin/python benchmarks/gui.py                 # the figures as a table
    .venv/bin/python benchmarks/gui.py --json          # one JSON object
    .venv/bin/python benchmarks/gui.py --out benchmarks/results/gui.json

The window runs under Tk's own ``mainloop`` on a virtual display (Xvfb, started here unless ``--display`` is
given), light mode, the default market and momentum strategy, as fast as possible. A 20 ms ``after`` ticker runs
beside the window's own refresh; the largest gap between two of its callbacks is the longest the window was
unresponsive. Measured with the *Live* tab on screen (status, depth ladder and blotter redrawn) and with the
*Analysis* tab on screen (the live plot redrawn). Stop: the wall time from ``Stop`` to the worker's end, in
``--stops`` runs stopped at random points. Cost: the run's wall time in the window (Start to the results shown)
against the same run with ``lobkit.run`` (same configuration and seed, no window; best of two).

Keys: ``ticker_max_gap_ms_live``, ``ticker_max_gap_ms_analysis`` (and ``_p99_``, ``_mean_``), ``stop_latency_ms_max``
and ``_median``, ``gui_wall_s``, ``headless_wall_s``, ``gui_over_headless``, ``events_per_run``; ``targets``
(``ticker_max_gap_ms_*`` at most 100, ``stop_latency_ms_max`` at most 500), ``date``, ``machine``,
``load_average_1min``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _results import positive_int, print_result, write_result  # noqa: E402  (benchmarks/_results.py)

TARGETS = {"ticker_max_gap_ms_live": 100.0, "ticker_max_gap_ms_analysis": 100.0, "stop_latency_ms_max": 500.0}
TICK_MS = 20


def _scenario(app, args, res):
    """The steps, run inside Tk's mainloop (a generator: each ``yield`` waits that many ms)."""
    import numpy as np

    gaps: list[float] = []
    last = [None]

    def ticker():
        now = time.perf_counter()
        if last[0] is not None:
            gaps.append((now - last[0]) * 1000)
        last[0] = now
        if not app.closed:
            app.root.after(TICK_MS, ticker)

    for field, value in (("duration", args.duration), ("seed", str(args.seed))):
        app.controls.vars[field].set(value)
    # warm: load the compiled loop once (a first run of the process pays for it)
    app.controls.vars["duration"].set("10min")
    app.start()
    while not app.runs:
        yield 50
    app.controls.vars["duration"].set(args.duration)
    app.root.after(TICK_MS, ticker)
    for tab, key in ((0, "live"), (1, "analysis")):
        app.tabs.select(tab)
        yield 200
        n_runs = len(app.runs)
        gaps.clear()
        last[0] = None
        t0 = time.perf_counter()
        app.start()
        while len(app.runs) == n_runs:
            yield 5
        wall = time.perf_counter() - t0
        g = np.array(gaps)
        res[f"ticker_max_gap_ms_{key}"] = round(float(g.max()), 1)
        res[f"ticker_p99_gap_ms_{key}"] = round(float(np.percentile(g, 99)), 1)
        res[f"ticker_mean_gap_ms_{key}"] = round(float(g.mean()), 2)
        res[f"ticker_callbacks_{key}"] = int(len(g))
        res[f"gui_wall_s_{key}"] = round(wall, 3)
        res["events_per_run"] = int(app.runs[-1].result.summary["n_events_total"])
        res[f"plot_redraws_{key}"] = app.analysis.n_draws
    rng = np.random.default_rng(args.seed)
    latencies = []
    app.tabs.select(0)
    for _ in range(args.stops):
        app.controls.vars["duration"].set("24h")
        app.start()
        yield int(rng.uniform(300, 1500))
        live = app.live
        app.stop()
        while live.running:
            yield 1
        latencies.append(live.stop_latency_s * 1000)
    res["stop_latency_ms_all"] = [round(x, 1) for x in latencies]
    res["stop_latency_ms_max"] = round(max(latencies), 1)
    res["stop_latency_ms_median"] = round(float(np.median(latencies)), 1)
    app.close()


def measure(args) -> dict:
    import lobkit
    from lobkit.gui.app import AlgoGym
    from lobkit.sweeps.bench import machine_description

    res: dict = {"benchmark": "gui", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "machine": machine_description(), "duration": args.duration, "seed": args.seed,
                 "tick_ms": TICK_MS}
    load_before = os.getloadavg()[0]
    os.environ.setdefault("LOBKIT_CONFIG_DIR", str(Path(args.tmp) / "config"))
    app = AlgoGym(out=Path(args.tmp) / "exports", models={}, dark=False)
    steps = _scenario(app, args, res)

    def advance():
        try:
            wait = next(steps)
        except StopIteration:
            return
        app.root.after(wait, advance)

    app.root.after(100, advance)
    app.mainloop()
    cfg = lobkit.build_config(duration=args.duration)
    walls = []
    for _ in range(2):  # best of two (the first pays for fresh memory)
        t0 = time.perf_counter()
        lobkit.run(config=cfg, seed=args.seed, record=True)
        walls.append(time.perf_counter() - t0)
    res["headless_wall_s"] = round(min(walls), 3)
    res["gui_over_headless"] = round(res["gui_wall_s_live"] / res["headless_wall_s"], 2)
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    res["targets"] = dict(TARGETS)
    res["pass"] = {k: res[k] <= v for k, v in TARGETS.items()}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON object there")
    ap.add_argument("--duration", default="6h", help="simulated time of the measured runs (default 6h)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stops", type=positive_int, default=5, help="runs stopped mid-way (default 5)")
    ap.add_argument("--display", default=None, help="use this X display instead of starting Xvfb")
    args = ap.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lobkit-gui-bench-") as tmp:
        args.tmp = tmp
        if args.display:
            os.environ["DISPLAY"] = args.display
            res = measure(args)
        else:
            from lobkit.gui.xvfb import virtual_display

            with virtual_display():
                res = measure(args)
    if args.out:
        write_result(args.out, res)
    print_result(res, args.json, skip=("stop_latency_ms_all",), unit=" ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
