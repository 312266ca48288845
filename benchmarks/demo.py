"""How long ``make demo`` takes on a fresh clone (virtual environment, installs and cold Numba compiles included),
and a second time (every step reused).

    .venv/bin/python benchmarks/demo.py                  # the figures
    .venv/bin/python benchmarks/demo.py --json           # one JSON object
    .venv/bin/python benchmarks/demo.py --out benchmarks/results/demo.json

Clones this repository (its committed HEAD) into a temporary directory with ``../shared`` linked beside it, as CI
does, runs ``make demo`` there twice and times both with the wall clock. Keys: ``fresh_clone_seconds``,
``second_run_seconds``, the demo's own step times from its records (``steps``: seconds per step of the first
run), whether the data was real, the report's size; ``targets`` (fresh clone at most 360 s, second run at most
120 s), ``date``, ``machine``, ``load_average_1min``, ``commit``.
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
from _results import print_result, write_result  # noqa: E402  (benchmarks/_results.py)

TARGETS = {"fresh_clone_seconds": 360.0, "second_run_seconds": 120.0}


def _make_demo(repo: Path, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "a") as f:
        p = subprocess.run(["make", "demo"], cwd=repo, stdout=f, stderr=subprocess.STDOUT,
                           env={k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")})
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"make demo failed (exit {p.returncode}); see {log}")
    return seconds


def measure(keep: Path | None = None) -> dict:
    from lobkit.sweeps.bench import machine_description

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    res = {"benchmark": "demo", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine": machine_description(), "commit": commit}
    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="lobkit-demo-bench-")) if keep is None else keep
    repo = base / "lobkit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    shared = ROOT.parent / "shared"
    if shared.exists() and not (base / "shared").exists():
        (base / "shared").symlink_to(shared)
    log = base / "make-demo.log"
    res["fresh_clone_seconds"] = round(_make_demo(repo, log), 1)
    res["second_run_seconds"] = round(_make_demo(repo, log), 1)
    out = repo / "runs" / "demo"
    steps = {}
    for rec in sorted(out.glob("*/step.json")):
        doc = json.loads(rec.read_text())
        steps[doc["step"]] = doc["seconds"]
    res["steps"] = steps
    data = json.loads((out / "data" / "step.json").read_text())["headline"]
    res["real_data"] = bool(data["real"])
    res["report_kib"] = round((out / "report.html").stat().st_size / 1024)
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    res["targets"] = dict(TARGETS)
    res["pass"] = {k: res[k] <= v for k, v in TARGETS.items()}
    res["log"] = str(log)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON object there")
    ap.add_argument("--keep", type=Path, default=None, help="clone into this directory (kept) instead of a temp one")
    args = ap.parse_args(argv)
    res = measure(args.keep)
    if args.out:
        write_result(args.out, res)
    print_result(res, args.json, unit=" s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
