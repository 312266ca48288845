"""How real the learned markets look: the realism report (``lobkit eval-market``) of the calibrated and the neural
flow against the Bitstamp day (lob-btc.db with its capture) and LOBSTER AMZN (level 5), from models made here.

    .venv/bin/python benchmarks/realism.py                 # the targets tables
    .venv/bin/python benchmarks/realism.py --json          # one JSON object
    .venv/bin/python benchmarks/realism.py --out benchmarks/results/realism.json --reports reports/realism

For each market: ``lobkit calibrate`` (with the simulated-moment stage) and ``lobkit train-nhp`` (the default
configuration, at most ``--train-seconds``) on the market's event stream, then ``eval_market`` for each flow with
the real data's first snapshot as the initial book, ``--runs`` simulations (seeds split from ``--seed``) each as
long as the real data. Keys: ``markets`` -> ``btc`` / ``amzn`` -> ``calibrated`` / ``nhp`` -> ``targets`` (name,
value, threshold, met), ``facts`` (the headline facts, real with their 95% interval and simulated),
``distances``; and per market the models' making (``calibrate_seconds``, ``nhp_train_seconds``, the fitted
parameters). ``reports``: each report's target figures by name (``btc_calibrated``, ...); ``targets``: the
issue's thresholds; ``date``, ``machine``, ``load_average_1min``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _results import positive_int, write_result  # noqa: E402  (benchmarks/_results.py)

HEADLINE = ("spread_q50", "spread_q90", "kurtosis_1min", "kurtosis_5min", "acf_lag1", "abs_acf_lag1",
            "abs_acf_mean_lags_1_5", "std_1min", "iet_q50")


def _markets(data: Path) -> dict:
    return {
        "btc": {"label": "Bitstamp BTC/USD, 2015-05-01 (lob-btc.db + its capture)", "source": "bitstamp",
                "events": data / "bitstamp-btcusd-2015-05-01.log.xz", "book": data / "lob-btc.db",
                "lot_size": 0.01},
        "amzn": {"label": "LOBSTER AMZN 2012-06-21, level 5", "source": "lobster",
                 "events": data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
                 "book": data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip", "lot_size": None},
    }


def _summary(rep) -> dict:
    d = rep.data
    facts = {f["name"]: f for f in d["facts"]}
    return {
        "targets": [{k: t[k] for k in ("name", "value", "target", "threshold", "met")} for t in d["targets"]],
        "facts": {n: {"real": facts[n]["real"], "real_ci": facts[n]["real_ci"], "simulated": facts[n]["simulated"]}
                  for n in HEADLINE if n in facts},
        "distances": {r["name"]: {"value": r["value"], "noise_q95": r["noise_floor"]["q95"]} for r in d["distances"]},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON object here")
    ap.add_argument("--reports", type=Path, default=None, help="write each full report (md, json, png) under here")
    ap.add_argument("--runs", type=positive_int, default=3, help="simulations per report (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the simulations and the bootstrap (default 1)")
    ap.add_argument("--train-seconds", type=positive_int, default=240, help="NHP training time cap (default 240)")
    ap.add_argument("--markets", default="btc,amzn", help="which markets (default btc,amzn)")
    a = ap.parse_args(argv)

    import lobkit
    from lobkit.paths import shared_data_dir
    from lobkit.sweeps.bench import machine_description
    from lobkit.training.calibrate import calibrate, write_calibration
    from lobkit.training.config import NHPConfig
    from lobkit.training.events import load_events
    from lobkit.training.nhp_training import train_nhp

    data = shared_data_dir()
    import os

    load_before = os.getloadavg()[0]
    res: dict = {"benchmark": "realism", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "machine": machine_description(), "runs": a.runs, "seed": a.seed, "markets": {}}
    with tempfile.TemporaryDirectory(prefix="lobkit-bench-realism-") as tmp:
        for key in a.markets.split(","):
            m = _markets(data)[key]
            for f in (m["events"], m["book"]):
                if not f.exists():
                    raise SystemExit(f"benchmarks/realism.py: {f} not found (set LOBKIT_DATA_DIR)")
            stream = load_events(m["source"], str(m["events"]))
            t0 = time.perf_counter()
            cal = calibrate(stream, tick_size=0.01, lot_size=m["lot_size"], book=str(m["book"]), seed=a.seed)
            cal_path = write_calibration(cal, Path(tmp) / f"{key}.toml")
            cal_s = time.perf_counter() - t0
            lot = cal.market["lot_size"]
            t0 = time.perf_counter()
            nhp = train_nhp(stream, NHPConfig(max_seconds=a.train_seconds), out=Path(tmp) / f"nhp-{key}",
                            seed=a.seed, device="cpu", progress=False, market={"tick_size": 0.01, "lot_size": lot})
            nhp_s = time.perf_counter() - t0
            out = {"label": m["label"], "calibrate_seconds": round(cal_s, 1), "nhp_train_seconds": round(nhp_s, 1),
                   "nhp_epochs": nhp.epochs, "nhp_final_ll": nhp.history[-1]["train_ll_per_event"],
                   "lot_size": lot, "calibration": {"params": {k: v for k, v in vars(cal.params).items()},
                                                    "market": cal.market}}
            for flow, spec in (("calibrated", f"calibrated:{cal_path}"), ("nhp", f"nhp:{nhp.model_path}")):
                t0 = time.perf_counter()
                rep = lobkit.eval_market(flow=spec, against=str(m["book"]), runs=a.runs, seed=a.seed,
                                         initial_book=f"snapshot:{m['book']}",
                                         out=(a.reports / f"{key}-{flow}") if a.reports else None)
                out[flow] = {**_summary(rep), "seconds": round(time.perf_counter() - t0, 1)}
            res["markets"][key] = out
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    # the targets (the Bitstamp day's), and each report's figures under them (``reports``)
    res["targets"] = {"spread_tv_at_most": 0.2, "kurtosis_1min": 8.0, "abs_acf_mean_lags_1_5": 0.05,
                      "acf_lag1": "within the real 95% interval", "volume_by_level_tv_at_most": 0.2}
    res["reports"] = {f"{key}_{flow}": {t["name"]: t["value"] for t in m[flow]["targets"]}
                      for key, m in res["markets"].items() for flow in ("calibrated", "nhp")}
    if a.out is not None:
        write_result(a.out, res)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    for m in res["markets"].values():
        print(f"{m['label']}:")
        for flow in ("calibrated", "nhp"):
            row = ", ".join(f"{t['name']} {t['value']:.3g} ({'met' if t['met'] else 'MISSED'})"
                            for t in m[flow]["targets"])
            print(f"  {flow:>10}: {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
