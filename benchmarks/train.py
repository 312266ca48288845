"""WGAN-GP training on this machine: speed, and how good the generator is after how long.

* Speed: generator steps per second of ``lobkit.training.wgan_training`` (the real training loop: ``n_critic`` critic
  steps with the gradient penalty, then one generator step) for the default and the small configuration, the
  training images the critic sees per second (``steps/s * n_critic * batch_size``), and generated images per second
  (inference, batches of 1,024); on the CPU and, when one is present, on a CUDA GPU.
* Time to target, on the real BTC snapshots (``lob-btc.db``): the default configuration trained in segments of
  ``--eval-every`` steps (``resume`` continues exactly, so this is one run), each evaluated with
  :func:`lobkit.training.evaluate_wgan`; the small configuration trained once. Targets (issue 8): the default
  configuration reaches a classifier test of at most 0.60, a correlation distance below both naive references and
  a nearest-neighbour ratio of at least 0.8 within 10 minutes on 2 CPU cores; the small one a classifier test of at
  most 0.65 within 60 s.

Prints a summary, or one JSON object with ``--json`` (``--out FILE`` also writes it, atomically). Key
``wgan_steps_per_s``: the default configuration's training speed on the CPU. Training time excludes reading the data
and the evaluations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _results import positive_int, write_result  # noqa: E402  (benchmarks/_results.py)

#: Each names a figure of the JSON (``_at_most``: an upper bound, else a lower one).
TARGETS = {"default_c2st_at_most": 0.60, "default_seconds_at_most": 600.0, "default_nn_ratio": 0.8,
           "default_corr_distance_margin": 0.0, "small_c2st_at_most": 0.65, "small_seconds_at_most": 60.0}
KEEP = ("c2st", "c2st_real", "c2st_independent", "c2st_gaussian", "corr_distance", "corr_distance_real",
        "corr_distance_independent", "corr_distance_gaussian", "nn_ratio", "generated_one_sided", "n_generated",
        "c2st_real_time_split")


def speed(cfg, data: str, device: str, steps: int) -> dict:
    """Steps/s of a short run of the real training loop (after 3 warm-up steps), and generated images/s."""
    import torch

    from lobkit.training.wgan_training import load_generator, train_wgan

    with tempfile.TemporaryDirectory() as tmp:
        train_wgan(data, cfg.__class__(**{**cfg.to_dict(), "steps": 3, "snapshot_every": 0}), out=tmp, seed=0,
                   device=device, progress=False)
        res = train_wgan(data, cfg.__class__(**{**cfg.to_dict(), "steps": 3 + steps, "snapshot_every": 0}), out=tmp,
                         resume=True, device=device, progress=False)
        m = load_generator(Path(tmp) / "generator.pth", device=device)
        z = torch.randn(1024, cfg.z_dim, device=m.device)
        with torch.no_grad():
            m.generator(z)
            t0 = time.perf_counter()
            for _ in range(5):
                m.generator(z)
            if m.device.type == "cuda":
                torch.cuda.synchronize()
            gen_s = (time.perf_counter() - t0) / 5
    sps = steps / res.seconds
    return {"steps_per_s": round(sps, 3), "training_images_per_s": round(sps * cfg.n_critic * cfg.batch_size),
            "generated_images_per_s": round(1024 / gen_s)}


def time_to_target(cfg, data: str, every: int, seed: int) -> dict:
    """Train ``cfg`` in segments of ``every`` steps, evaluating after each: the curve and the first passing point."""
    from lobkit.training.evaluate import evaluate_wgan
    from lobkit.training.wgan_training import train_wgan

    curve = []
    with tempfile.TemporaryDirectory() as tmp:
        seconds, step = 0.0, 0
        while step < cfg.steps:
            step = min(step + every, cfg.steps)
            res = train_wgan(data, cfg.__class__(**{**cfg.to_dict(), "steps": step, "snapshot_every": 0}), out=tmp,
                             seed=seed, resume=step > every, device="cpu",
                             progress=False)
            seconds += res.seconds
            s = evaluate_wgan(Path(tmp) / "generator.pth", data, seed=0, plot=False).summary
            point = {"step": step, "train_seconds": round(seconds, 1), **{k: s[k] for k in KEEP},
                     "pass": s["pass"], "marginals": s["marginals"]}
            curve.append(point)
            print(f"  step {step}: {seconds:.0f} s, c2st {s['c2st']:.3f}, corr {s['corr_distance']:.3f} "
                  f"(independent {s['corr_distance_independent']:.3f}, Gaussian {s['corr_distance_gaussian']:.3f}), "
                  f"nn ratio {s['nn_ratio']:.2f}", file=sys.stderr, flush=True)
    first = next((p for p in curve if all(p["pass"].values())), None)
    return {"config": cfg.to_dict(), "curve": curve, "final": curve[-1],
            "first_all_targets": None if first is None else {"step": first["step"], "train_seconds":
                                                             first["train_seconds"]}}


def summarise(res: dict) -> None:
    """The headline figures of the two time-to-target runs, at the top level where the targets name them, and
    ``pass``. ``default_corr_distance_margin``: the smaller naive reference's correlation distance minus the
    model's (positive: below both)."""
    d, s = res["default"]["final"], res["small"]["final"]
    res.update({"default_c2st": d["c2st"], "default_seconds": d["train_seconds"], "default_nn_ratio": d["nn_ratio"],
                "default_corr_distance": d["corr_distance"],
                "default_corr_distance_margin": round(min(d["corr_distance_independent"],
                                                          d["corr_distance_gaussian"]) - d["corr_distance"], 6),
                "small_c2st": s["c2st"], "small_seconds": s["train_seconds"]})
    res["pass"] = {k.removesuffix("_at_most"): (res[k.removesuffix("_at_most")] <= v if k.endswith("_at_most")
                                                else res[k] >= v) for k, v in TARGETS.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    ap.add_argument("--data", default=None, help="snapshots (default: the shared data's lob-btc.db)")
    ap.add_argument("--speed-steps", type=positive_int, default=40, help="steps timed for the speed (default 40)")
    ap.add_argument("--eval-every", type=positive_int, default=500, help="steps between evaluations (default 500)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speed-only", action="store_true", help="measure the speed only (a minute)")
    args = ap.parse_args()

    import torch

    from lobkit.paths import shared_data_dir
    from lobkit.sweeps.bench import machine_description
    from lobkit.training.config import WGANConfig

    data = args.data or str(shared_data_dir() / "lob-btc.db")
    load_before = os.getloadavg()[0]
    default, small = WGANConfig(), WGANConfig.small()
    res = {"benchmark": "train", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine": machine_description(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "data": data, "targets": dict(TARGETS)}
    res["cpu"] = {"default": speed(default, data, "cpu", args.speed_steps),
                  "small": speed(small, data, "cpu", args.speed_steps)}
    res["cuda"] = ({"default": speed(default, data, "cuda", args.speed_steps)} if torch.cuda.is_available()
                   else None)
    res["wgan_steps_per_s"] = res["cpu"]["default"]["steps_per_s"]
    if not args.speed_only:
        print(f"default configuration, {default.steps} steps:", file=sys.stderr)
        res["default"] = time_to_target(default, data, args.eval_every, args.seed)
        print(f"small configuration, {small.steps} steps:", file=sys.stderr)
        res["small"] = time_to_target(small, data, small.steps, args.seed)
        summarise(res)
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if args.out:
        write_result(args.out, res)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    for name, r in res["cpu"].items():
        print(f"{name} configuration on the CPU: {r['steps_per_s']:.2f} steps/s, {r['training_images_per_s']:,} "
              f"training images/s, {r['generated_images_per_s']:,} generated images/s")
    for name in ("default", "small"):
        if name in res:
            f = res[name]["final"]
            print(f"{name}: after {f['train_seconds']:.0f} s ({f['step']} steps) c2st {f['c2st']:.3f}, corr distance "
                  f"{f['corr_distance']:.3f}, nn ratio {f['nn_ratio']:.2f}")


if __name__ == "__main__":
    main()
