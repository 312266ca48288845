"""The sweep benchmark's JSON carries its date and the machine it ran on (a figure means little without them)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_json_has_date_and_machine(tmp_path):
    out = tmp_path / "results" / "sweep.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "sweep_throughput.py"), "--json", "--out", str(out),
           "--configs", "2", "--events", "2000", "--big", "0", "--rounds", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == printed
    when = dt.datetime.fromisoformat(printed["date"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 3600
    m = printed["machine"]
    assert m["cpu_model"] and m["cpu_count"] >= 1 and 1 <= m["usable_cores"] <= m["cpu_count"]
    assert {"os", "python", "numpy", "numba"} <= set(m)
    assert printed["sweep_sims_per_s_1"] > 0 and printed["parameters"]["configs"] == 2
