"""``lobkit sweep`` end to end: outputs, the best-configurations table, bad parameters, Ctrl-C and --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.sweeps.runner import _done_indices

TINY = ["--duration", "2min", "--warmup", "30s", "--no-progress"]


def _invoke(*args):
    return CliRunner().invoke(main, ["sweep", *args])


def test_sweep_command_end_to_end(tmp_path):
    out = tmp_path / "ma"
    r = _invoke("--grid", "short=2,3,12 long=5,12", "--repeats", "2", "--jobs", "2", "--seed", "3",
                "--out", str(out), *TINY)
    assert r.exit_code == 0, r.output
    assert "skipped (invalid): short=12 long=5" in r.output and "skipped (invalid): short=12 long=12" in r.output
    assert "4 configurations run" in r.output and "2 invalid" in r.output
    assert "best configurations" in r.output and "mean final_pnl" in r.output
    assert f"heatmap: {out / 'heatmap.png'}" in r.output and (out / "heatmap.png").stat().st_size > 10_000
    table = pl.read_parquet(out / "results" / "*.parquet")
    assert table.height == 8 and set(table["seed" if "seed" in table.columns else "repeat"].to_list()) == {0, 1}
    # the CLI and the API give the same table for the same options
    import lobkit

    api = lobkit.sweep("short=2,3,12 long=5,12", repeats=2, seed=3, out=tmp_path / "api", progress=False,
                       duration="2min", warmup="30s")
    assert api.table().equals(table.sort("config_index", "repeat"))


def test_sweep_from_a_toml_grid_file(tmp_path):
    g = tmp_path / "grid.toml"
    g.write_text("[grid]\nshort = [2, 3]\nlong = {start = 8, stop = 16, step = 8}\n")
    r = _invoke("--grid-file", str(g), "--out", str(tmp_path / "o"), "--heatmap", "long,short", *TINY)
    assert r.exit_code == 0, r.output
    assert "(4 configurations x 1 repeats)" in r.output
    assert pl.read_parquet(tmp_path / "o" / "results" / "*.parquet")["config_index"].to_list() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grid", "short=3,5", "--size", "-1"], "size: must be an integer in [1, 1,000,000] lots"),
        (["--grid", "short=3,5", "--agent", "bogus"], "unknown agent"),
        (["--grid", "short=3,5", "--duration", "3 parsecs"], "cannot read '3 parsecs' as a duration"),
        (["--grid", "shrot=3,5"], "shrot: unknown option"),
        (["--grid", "short=3,,5"], "empty value"),
        (["--grid", "short=3", "--grid-file", "g.toml"], "exactly one of --grid and --grid-file"),
        ([], "exactly one of --grid and --grid-file"),
        (["--grid-file", "missing.toml"], "not found"),
        (["--grid", "short=3", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --backend dask"),
        (["--grid", "short=3", "--repeats", "0"], "--repeats"),
        (["--grid", "short=3", "--jobs", "0"], "jobs must be a positive integer"),
        (["--grid", "short=3", "--heatmap", "long"], "not a swept parameter"),
        (["--grid", "short=30,40 long=10"], "every one of the 2 combinations of the grid is invalid"),
    ],
)
def test_bad_parameters_give_a_clear_error_and_nonzero_exit(tmp_path, args, needle):
    r = _invoke(*TINY, "--out", str(tmp_path / "bad"), *args)  # args last: they win over TINY
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "bad" / "results").exists() or not any((tmp_path / "bad" / "results").iterdir())


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        ("short=[3,5]", "'short=[3,5]': character '['"),
        ("short=3=4", "'short=3=4': '=' inside a value"),
        ("short==3", "'short==3': '=' inside a value"),
        ("short=3,,5", "empty value in 'short=3,,5'"),
        ("short=", "'short=' has no values"),
        ("=3", "'=3' has no parameter name"),
        ('agent="momentum', "unbalanced quote"),
        ("agent=mom entum", "'entum' is not name=values"),
        ("short=1:x:2", "range stop must be a finite number, got x"),
        ("short=nan", "nan is not a finite number"),
        # values that no combination can make valid are grid mistakes too, refused before anything runs
        ("short=abc,xyz", "grid: short=abc: short: expected an integer"),
        ("size=1,1.5", "grid: size=1.5: size: expected an integer"),
        ("duration=1h,3parsecs", "cannot read '3parsecs' as a duration"),
    ],
)
def test_malformed_grids_are_refused_before_anything_is_written(tmp_path, grid, needle):
    out = tmp_path / "never"
    r = _invoke(*TINY, "--out", str(out), "--grid", grid)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output and "skipped (invalid)" not in r.output, r.output
    assert not out.exists()


def test_existing_results_need_resume(tmp_path):
    args = ["--grid", "short=2,3", "--out", str(tmp_path), *TINY]
    assert _invoke(*args).exit_code == 0
    r = _invoke(*args)
    assert r.exit_code == 2 and "--resume" in r.output and "--force" in r.output
    r = _invoke(*args, "--resume")
    assert r.exit_code == 0 and "0 configurations run, 2 already done" in r.output
    r = _invoke(*args, "--resume", "--repeats", "2")
    assert r.exit_code == 2 and "different number of repeats" in r.output


def test_ctrl_c_keeps_finished_configurations_and_resume_completes_them(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, workers included, as a terminal sends it) to a running
    ``lobkit sweep --jobs 2``: exit 130 with a hint; ``--resume`` runs only the rest."""
    out = tmp_path / "int"
    args = ["sweep", "--grid", "short=1:8:1 long=10:50:10", "--jobs", "2", "--out", str(out), "--duration", "30min",
            "--warmup", "30s", "--no-progress", "--seed", "2"]
    proc = subprocess.Popen([sys.executable, "-c", "from lobkit.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    results = out / "results"
    deadline = time.monotonic() + 120
    while len(_done_indices(results)) < 5:
        assert proc.poll() is None, f"the sweep ended before the interrupt: {proc.communicate()}"
        assert time.monotonic() < deadline, "no configuration finished in 120 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "--resume" in stderr and "Traceback" not in stderr
    parts = {p.name: p.stat().st_mtime_ns for p in results.glob("part-*.parquet")}
    done = _done_indices(results)
    assert 5 <= len(done) < 40

    r = CliRunner().invoke(main, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    assert f"{40 - len(done)} configurations run, {len(done)} already done" in r.output
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("part-*.parquet")}
    assert _done_indices(results) == set(range(40)) and all(after[k] == v for k, v in parts.items())
