"""Counterfactual coupling: how much of a comparison's difference is impact and how much is noise.

For each registered order-flow model (``--flow``, default all):

* the impulse response (:func:`lobkit.sim.impulse_response`): one market order of 1, 5, 25 and 100 lots at the end
  of the warm-up against the same market without it, on ``--pairs`` seed pairs; the mean mid difference and its
  standard deviation across the pairs 1 s, 1 min and 10 min after the order, whether the mean increases with the
  size and is concave in it (target: a 1-lot order's standard deviation at 10 minutes at most 2 ticks);
* the momentum strategy's comparison (:func:`lobkit.sim.compare`, ``--repeats`` pairs of one hour): the variance of
  ``pnl - paper_pnl`` over its variance with independent seeds (target at most 0.05), the mean impact cost.

Prints a summary, or one JSON object with ``--json`` (``--out FILE`` also writes it, atomically): ``date``,
``machine``, ``load_average_1min`` (before, after), ``parameters``, ``targets`` and, per flow model, the figures
above with ``pass`` (each target met or not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _results import write_result  # noqa: E402  (benchmarks/_results.py)

LOTS = (1, 5, 25, 100)
LAGS = (1.0, 60.0, 600.0)
TARGETS = {"impulse_1_sd_ticks_600s_at_most": 2.0, "momentum_variance_ratio_at_most": 0.05}


def measure(flow: str, pairs: int, repeats: int, seed: int) -> dict:
    import polars as pl

    from lobkit.sim import compare, impulse_response
    from lobkit.sim.options import apply_options

    out: dict = {}
    t0 = time.perf_counter()
    imp = impulse_response(apply_options(None, {"flow": flow, "warmup": "2min"}), seed, lots=LOTS, pairs=pairs,
                           horizon="10min")
    for q in LOTS:
        c = imp.curves.filter(pl.col("lots") == q)
        for lag in LAGS:
            row = c.filter(pl.col("lag_s") == lag).row(0, named=True)
            key = f"{int(lag)}s"
            out[f"impulse_{q}_mean_ticks_{key}"] = round(row["mean_ticks"], 4)
            out[f"impulse_{q}_sd_ticks_{key}"] = round(row["sd_ticks"], 4)
    out["impulse_increasing"] = imp.summary["increasing"]
    out["impulse_concave"] = imp.summary["concave"]
    out["impulse_pairs"] = pairs
    out["impulse_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    cmp = compare(apply_options(None, {"flow": flow, "agent": "momentum"}), seed, repeats=repeats)
    s = cmp.summary
    out["momentum_variance_ratio"] = round(s["coupling_variance_ratio"], 4)
    out["momentum_impact_cost_mean"] = round(s["impact_cost_mean"], 4)
    out["momentum_pnl_mean"] = round(s["pnl_mean"], 4)
    out["momentum_mid_diff_final_abs_ticks"] = round(float(cmp.pairs["mid_diff_final_ticks"].abs().mean()), 3)
    out["momentum_repeats"] = repeats
    out["momentum_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    ap.add_argument("--flow", action="append", help="flow model(s) to measure (default: every registered one)")
    ap.add_argument("--pairs", type=int, default=128, help="seed pairs of the impulse response (default 128)")
    ap.add_argument("--repeats", type=int, default=96, help="seed pairs of the comparison (default 96)")
    ap.add_argument("--seed", type=int, default=20261130)
    args = ap.parse_args()

    from lobkit.flows import flow_names
    from lobkit.sweeps.bench import machine_description

    flows = args.flow or flow_names()
    load_before = os.getloadavg()[0]
    res = {"benchmark": "coupling", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine": machine_description(),
           "parameters": {"pairs": args.pairs, "repeats": args.repeats, "seed": args.seed, "lots": list(LOTS)},
           "flows": {f: measure(f, args.pairs, args.repeats, args.seed) for f in flows}}
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    res["targets"] = dict(TARGETS)
    sd_max, ratio_max = TARGETS["impulse_1_sd_ticks_600s_at_most"], TARGETS["momentum_variance_ratio_at_most"]
    for r in res["flows"].values():
        r["pass"] = {"impulse_1_sd_ticks_600s": r["impulse_1_sd_ticks_600s"] <= sd_max,
                     "impulse_increasing_and_concave": r["impulse_increasing"] and r["impulse_concave"],
                     "momentum_variance_ratio": r["momentum_variance_ratio"] <= ratio_max}
    text = json.dumps(res, indent=2)
    if args.out:
        write_result(args.out, res)
    if args.json:
        print(text)
        return
    for f, r in res["flows"].items():
        print(f"flow {f}: 1-lot impulse sd at 10 min {r['impulse_1_sd_ticks_600s']:.2f} ticks (target <= 2); mean "
              f"impact at 10 min " + ", ".join(f"{q}: {r[f'impulse_{q}_mean_ticks_600s']:+.2f}" for q in LOTS)
              + f" ticks (increasing {r['impulse_increasing']}, concave {r['impulse_concave']}); momentum compare "
              f"variance ratio {r['momentum_variance_ratio']:.3f} (target <= 0.05)")


if __name__ == "__main__":
    main()
