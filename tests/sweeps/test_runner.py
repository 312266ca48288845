"""The sweep runner on the real simulator: determinism across workers and Dask, invalid combinations,
failing configurations, interrupted sweeps and resume, output layout."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import polars as pl
import pytest

from lobkit.errors import ConfigError
from lobkit.sim import simulate
from lobkit.sweeps.grid import parse_grid
from lobkit.sweeps.results import aggregate, load_invalid, load_results
from lobkit.sweeps.runner import Unit, _done_indices, _make_tasks, run_seed, sims_per_task, sweep

GRID = "short=3,5 long=4,12"  # (5, 4) is invalid


def test_one_and_two_workers_give_identical_tables(tmp_path, tiny):
    a = sweep(tiny, GRID, repeats=3, seed=11, jobs=1, out=tmp_path / "a", progress=False, heatmap=False)
    b = sweep(tiny, GRID, repeats=3, seed=11, jobs=2, out=tmp_path / "b", progress=False, heatmap=False)
    ta, tb = a.table(), b.table()
    assert ta.height == 3 * 3 and (ta["status"] == "ok").all()
    assert ta.equals(tb)
    # the repeats really differ, and the numbers are those of the documented child seed
    assert ta["final_pnl"].n_unique() > 1 or ta["n_events"].n_unique() > 1
    row = ta.filter((pl.col("config_index") == 3) & (pl.col("repeat") == 1)).row(0, named=True)
    direct = simulate(tiny.with_agent(short=5, long=12), run_seed(11, 3, 1)).summary
    assert row["final_pnl"] == direct["final_pnl"] and row["n_events"] == direct["n_events"]
    # another seed, another table
    c = sweep(tiny, GRID, repeats=3, seed=12, jobs=1, out=tmp_path / "c", progress=False, heatmap=False)
    assert not c.table().equals(ta)


def test_task_packing_covers_every_run_once():
    from lobkit.sweeps.grid import Point

    points = [Point(i, {}, None) for i in (0, 2, 3, 7)]
    for repeats, per in ((1, 1), (3, 2), (5, 4), (8, 64), (2, 3)):
        tasks = list(_make_tasks(iter(points), repeats, per))
        runs = [(u.index, r) for t in tasks for u in t for r in range(u.start, u.stop)]
        assert sorted(runs) == [(p.index, r) for p in points for r in range(repeats)]
        assert all(sum(u.stop - u.start for u in t) <= per for t in tasks)
        assert all(isinstance(u, Unit) for t in tasks for u in t)
    assert sims_per_task(10, 2) == 2 and sims_per_task(10_000, 2) == 64 and sims_per_task(3, 2) == 1
    # guided: task sizes shrink towards the end, and still cover every run once
    many = [Point(i, {}, None) for i in range(1000)]
    tasks = list(_make_tasks(iter(many), 1, lambda left: sims_per_task(left, 2), 1000))
    sizes = [sum(u.stop - u.start for u in t) for t in tasks]
    assert sum(sizes) == 1000 and sizes[0] == 64 and sizes[-1] == 1 and sizes == sorted(sizes, reverse=True)
    assert len(tasks) < 100


@pytest.mark.dask
def test_dask_local_cluster_gives_the_same_table(tmp_path, tiny):
    from distributed import LocalCluster

    local = sweep(tiny, GRID, repeats=2, seed=5, jobs=1, out=tmp_path / "local", progress=False, heatmap=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = sweep(tiny, GRID, repeats=2, seed=5, out=tmp_path / "dask", backend="dask",
                    scheduler=cluster.scheduler_address, progress=False, heatmap=False)
    assert res.n_run == 3 and res.n_invalid == 1
    assert res.table().equals(local.table())


def test_invalid_combinations_are_reported_and_skipped(tmp_path, tiny):
    seen = []
    res = sweep(tiny, "short=3,10,20 long=10,30", repeats=1, seed=1, out=tmp_path, progress=False,
                heatmap=False, on_invalid=seen.append)
    assert res.n_configs == 6 and res.n_invalid == 2 and res.n_valid == 4 and res.n_run == 4
    assert [(p.params["short"], p.params["long"]) for p in seen] == [(10, 10), (20, 10)]
    assert all("short" in p.error for p in seen) and res.invalid == tuple(seen)
    inv = load_invalid(tmp_path)
    assert inv["config_index"].to_list() == [2, 4]
    assert sorted(load_results(tmp_path)["config_index"].unique().to_list()) == [0, 1, 3, 5]


def test_a_configuration_that_raises_is_recorded_and_the_sweep_goes_on(tmp_path, tiny):
    from lobkit.data.sample import write_sample_db

    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    write_sample_db(good, 3, 1)
    bad.write_text("this is not a SQLite database")
    grid = {"snapshot": [str(bad), str(good)], "short": [3, 5]}
    res = sweep(tiny.with_market(initial_mid=236.5), grid, repeats=2, seed=3, jobs=2, out=tmp_path / "s",
                progress=False)
    assert res.n_run == 4 and res.n_errors == 4
    t = res.table()
    err = t.filter(pl.col("snapshot") == str(bad))
    assert err.height == 4 and (err["status"] == "error").all()
    assert err["error"].str.contains("not a readable SQLite database").all()
    assert err["final_pnl"].is_null().all()
    ok = t.filter(pl.col("snapshot") == str(good))
    assert ok.height == 4 and (ok["status"] == "ok").all() and ok["error"].is_null().all()
    s = res.summary()
    assert s.filter(pl.col("snapshot") == str(bad))["n"].to_list() == [0, 0]
    assert s.filter(pl.col("snapshot") == str(bad))["n_errors"].to_list() == [2, 2]
    assert res.best(10).height == 2  # only configurations that ran are ranked
    assert res.heatmap is not None and res.heatmap.exists()


def test_aggregate_matches_numpy(tmp_path, tiny):
    res = sweep(tiny, "short=2,3", repeats=4, seed=9, out=tmp_path, progress=False, heatmap=False)
    s = res.summary()
    t = res.table()
    for row in s.iter_rows(named=True):
        x = t.filter(pl.col("config_index") == row["config_index"])["final_pnl"].to_numpy()
        assert row["n"] == 4 and row["n_errors"] == 0
        assert row["mean"] == pytest.approx(x.mean())
        assert row["std"] == pytest.approx(x.std(ddof=1))
        if x.std() > 0:
            assert row["t_stat"] == pytest.approx(x.mean() / (x.std(ddof=1) / np.sqrt(4)))
        n_trades = t.filter(pl.col("config_index") == row["config_index"])["n_trades"].to_numpy()
        assert row["mean_n_trades"] == pytest.approx(n_trades.mean())


def _part_stats(results_dir):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in results_dir.glob("part-*.parquet")}


def test_resume_after_a_killed_sweep_runs_exactly_the_missing_configurations(tmp_path, tiny, run_py):
    out = tmp_path / "killed"
    # 40 configurations of 30 simulated minutes each (~60 ms a simulation), in tasks of 10, 8, 6, ...
    grid = "short=1:8:1 long=10:50:10"
    code = (
        "from lobkit import api\n"
        f"api.sweep({grid!r}, repeats=1, seed=4, jobs=1, out={str(out)!r}, progress=False, heatmap=False,"
        " duration='30min', warmup='30s')\n"
    )
    proc = run_py(code)
    results = out / "results"
    deadline = time.monotonic() + 120
    while len(_done_indices(results)) < 5:
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "no configuration finished in 120 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = _part_stats(results)
    done = _done_indices(results)
    assert 5 <= len(done) < 40, "the sweep was not interrupted in the middle"

    base = tiny.with_market(duration_ns=1_800_000_000_000)
    with pytest.raises(ConfigError, match="--resume"):
        sweep(base, grid, repeats=1, seed=4, out=out, progress=False, heatmap=False)
    with pytest.raises(ConfigError, match="different seed"):
        sweep(base, grid, repeats=1, seed=5, out=out, resume=True, progress=False, heatmap=False)
    res = sweep(base, grid, repeats=1, seed=4, jobs=2, out=out, resume=True, progress=False, heatmap=False)
    assert res.n_resumed == len(done) and res.n_run == 40 - len(done)
    after = _part_stats(results)
    assert _done_indices(results) == set(range(40)) and not list(results.glob(".*.tmp"))
    assert {k: after[k] for k in before} == before  # finished parts untouched: not recomputed
    # every configuration is in exactly one part
    assert load_results(out)["config_index"].to_list() == list(range(40))
    # and the completed table is the one an uninterrupted sweep gives
    full = sweep(base, grid, repeats=1, seed=4, jobs=2, out=tmp_path / "full", progress=False, heatmap=False)
    assert res.table().equals(full.table())


def test_output_layout_and_manifest(tmp_path, tiny):
    res = sweep(tiny, parse_grid("short=2,3 long=8"), repeats=2, seed=0, out=tmp_path, progress=False)
    m = json.loads((tmp_path / "sweep.json").read_text())
    assert m["grid"] == {"short": [2, 3], "long": [8]} and m["repeats"] == 2 and m["seed_entropy"] == 0
    assert m["base_config"]["market"]["duration_ns"] == tiny.market.duration_ns
    # tasks of one simulation here (4 in all, one worker): each configuration's part is written as its
    # second repeat comes back, named after the configuration
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["part-00000000.parquet",
                                                                       "part-00000001.parquet"]
    assert res.heatmap == tmp_path / "heatmap.png"
    t = res.table()
    assert t.columns[:6] == ["config_index", "repeat", "short", "long", "status", "error"]
    assert t["short"].dtype == pl.Int64 and t["final_pnl"].dtype == pl.Float64
    assert aggregate(t, ("short", "long")).height == 2


def test_bad_arguments_are_clear_errors(tmp_path, tiny):
    for kw, needle in (({"repeats": 0}, "repeats"), ({"jobs": 0}, "jobs"), ({"backend": "spark"}, "backend"),
                       ({"seed": -1}, "seed"), ({"scheduler": "tcp://x:1"}, "scheduler")):
        with pytest.raises(ConfigError, match=needle):
            sweep(tiny, GRID, out=tmp_path, progress=False, **kw)
    with pytest.raises(ConfigError, match="unknown option"):
        sweep(tiny, "shrot=3", out=tmp_path, progress=False)


def test_messages_show_values_as_written_not_numpy_reprs(tmp_path, tiny):
    for kw, needle in (({"repeats": np.int64(0)}, "got 0"), ({"jobs": np.int64(-5)}, "got -5"),
                       ({"seed": np.int64(-1)}, "got -1"), ({"grid": {"size": [np.float64(1.5)]}}, "size=1.5")):
        kw = {"grid": GRID, **kw}
        with pytest.raises(ConfigError) as ei:
            sweep(tiny, out=tmp_path / "x", progress=False, **kw)
        assert needle in str(ei.value) and "np." not in str(ei.value) and "int64" not in str(ei.value)


def test_resume_with_other_options_says_what_differs_in_the_users_terms(tmp_path, tiny):
    sweep(tiny, "short=2,3 long=8", repeats=1, seed=1, out=tmp_path, progress=False, heatmap=False)
    cases = (({"grid": "short=2,4 long=8"}, "different grid (short=2,3 long=8 there, short=2,4 long=8 now)"),
             ({"repeats": 2}, "different number of repeats (1 there, 2 now)"),
             ({"seed": 9}, "different seed (1 there, 9 now)"),
             ({"base": tiny.with_market(tick_size=0.05)}, "market.tick_size: 0.01 there, 0.05 now"))
    for kw, needle in cases:
        args = {"grid": "short=2,3 long=8", "repeats": 1, "seed": 1, **kw}
        base = args.pop("base", tiny)
        with pytest.raises(ConfigError) as ei:
            sweep(base, out=tmp_path, resume=True, progress=False, heatmap=False, **args)
        assert needle in str(ei.value), str(ei.value)
        assert "{" not in str(ei.value)


def test_memory_bounded_queue_for_a_large_grid(tmp_path, tiny):
    """A 5,000-point grid whose combinations are all invalid: validated lazily, nothing materialised."""
    res = sweep(tiny, "short=100:5099:1 long=50", repeats=1, seed=0, out=tmp_path, progress=False)
    assert res.n_configs == 5000 and res.n_invalid == 5000 and res.n_run == 0
    assert len(res.invalid) <= 50 and res.heatmap is None
    assert len((tmp_path / "invalid.jsonl").read_text().splitlines()) == 5000
