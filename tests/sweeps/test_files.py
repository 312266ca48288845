"""The sweep directory: damaged results parts and manifests are named with what to do (CLI, API, heatmap),
--force starts over safely, and writes are atomic."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.errors import ConfigError, InputFormatError
from lobkit.sweeps.grid import parse_grid
from lobkit.sweeps.results import load_results, write_heatmap
from lobkit.sweeps.runner import SweepResult, _write_atomic, manifest_grid, read_manifest, sweep

TINY = ["--duration", "2min", "--warmup", "30s", "--no-progress"]
GRID = "short=2,3,4 long=8"
ARGS = ["--grid", GRID, "--repeats", "2", "--seed", "3", *TINY]


def _cli(*args):
    return CliRunner().invoke(main, ["sweep", *args])


@pytest.fixture(scope="module")
def finished(tmp_path_factory, warm_numba_cache):
    """A finished three-configuration sweep (one part per configuration), copied by each test that damages it."""
    out = tmp_path_factory.mktemp("finished") / "s"
    r = _cli(*ARGS, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert len(list((out / "results").glob("part-*.parquet"))) == 3
    return out


@pytest.fixture
def copy(finished, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(finished, out)
    return out


def _part(out, i=1):
    return out / "results" / f"part-{i:08d}.parquet"


def _truncate(p):
    b = p.read_bytes()
    p.write_bytes(b[: len(b) // 2])


def _garbage(p):
    p.write_bytes(b"this is not a parquet file\n" * 20)


def _empty(p):
    p.write_bytes(b"")


def _foreign(p):  # valid Parquet, but not a results part
    pl.DataFrame({"a": [1, 2]}).write_parquet(p)


def _string_index(p):
    pl.read_parquet(p).with_columns(pl.col("config_index").cast(pl.String)).write_parquet(p)


def _out_of_grid(p):
    pl.read_parquet(p).with_columns(pl.lit(57, pl.Int64).alias("config_index")).write_parquet(p)


def _one_repeat_missing(p):
    pl.read_parquet(p).head(1).write_parquet(p)


def _duplicate(p):  # a second part holding the same configuration
    shutil.copy(p, p.with_name("part-00000009.parquet"))


PART_DAMAGE = [
    pytest.param(_truncate, "not a readable results part", id="truncated"),
    pytest.param(_garbage, "not a readable results part", id="garbage"),
    pytest.param(_empty, "not a readable results part", id="empty"),
    pytest.param(_foreign, "not a results part (no config_index, repeat, status column)", id="foreign-parquet"),
    pytest.param(_string_index, "column config_index is not a non-null integer", id="string-index"),
    pytest.param(_out_of_grid, "holds configuration 57, but this grid has configurations 0 to 2", id="out-of-grid"),
    pytest.param(_one_repeat_missing, "holds 1 runs of configuration 1, but the sweep has 2 repeats",
                 id="missing-repeat"),
    pytest.param(_duplicate, "which part-00000001.parquet holds too", id="duplicate"),
]


@pytest.mark.parametrize(("damage", "needle"), PART_DAMAGE)
def test_resume_with_a_damaged_part_names_it_and_runs_nothing(copy, damage, needle):
    part = _part(copy)
    damage(part)
    before = {p.name: p.read_bytes() for p in (copy / "results").iterdir()}
    r = _cli(*ARGS, "--out", str(copy), "--resume")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "ArrowInvalid" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.output
    assert needle in lines[0] and "results/part-0000000" in lines[0], lines[0]
    assert {p.name: p.read_bytes() for p in (copy / "results").iterdir()} == before  # nothing run or written


@pytest.mark.parametrize(("damage", "needle"), [PART_DAMAGE[0], PART_DAMAGE[3], PART_DAMAGE[7]])
def test_table_and_heatmap_name_a_damaged_part(copy, damage, needle):
    damage(_part(copy))
    res = SweepResult(out=copy, grid=parse_grid(GRID), repeats=2, seed_entropy=3, n_configs=3, n_valid=3,
                      n_invalid=0, n_run=3, n_resumed=0, n_errors=0, elapsed_s=0.0)
    for read in (res.table, res.summary, lambda: write_heatmap(copy), lambda: load_results(copy)):
        with pytest.raises(InputFormatError) as ei:
            read()
        assert needle in str(ei.value) and "part-0000000" in str(ei.value)


def _json_garbage(p):
    p.write_text("{not json")


def _json_truncated(p):
    t = p.read_text()
    p.write_text(t[: len(t) // 2])


def _json_list(p):
    p.write_text("[1, 2, 3]")


def _json_no_grid(p):
    m = json.loads(p.read_text())
    del m["grid"]
    p.write_text(json.dumps(m))


def _json_bad_seed(p):
    m = json.loads(p.read_text())
    m["seed_entropy"] = "three"
    p.write_text(json.dumps(m))


def _json_binary(p):
    p.write_bytes(b"\xff\xfe\x00garbage")


MANIFEST_DAMAGE = [
    pytest.param(_json_garbage, "not valid JSON", id="garbage"),
    pytest.param(_json_truncated, "not valid JSON", id="truncated"),
    pytest.param(_json_list, "not a sweep manifest", id="list"),
    pytest.param(_json_no_grid, "no valid grid", id="no-grid"),
    pytest.param(_json_bad_seed, "no valid seed_entropy", id="bad-seed"),
    pytest.param(_json_binary, "not a text file", id="binary"),
]


@pytest.mark.parametrize(("damage", "needle"), MANIFEST_DAMAGE)
def test_a_damaged_manifest_is_named_on_resume_and_when_reading(copy, damage, needle):
    damage(copy / "sweep.json")
    r = _cli(*ARGS, "--out", str(copy), "--resume")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0] and "sweep.json" in lines[0] and "--force" in lines[0], r.output
    for read in (lambda: read_manifest(copy), lambda: manifest_grid(copy), lambda: write_heatmap(copy)):
        with pytest.raises(InputFormatError, match=needle):
            read()


def test_a_damaged_invalid_jsonl_is_named(copy):
    from lobkit.sweeps.results import load_invalid

    (copy / "invalid.jsonl").write_text('{"config_index": 1, "params": {}, "error": "x"}\n{"config_in')
    with pytest.raises(InputFormatError, match=r"invalid.jsonl:2: not a record"):
        load_invalid(copy)


# ------------------------------------------------------------------------------------------- --force


def test_a_second_run_is_refused_naming_both_ways_out(copy):
    r = _cli(*ARGS, "--out", str(copy))
    assert r.exit_code == 2 and "already holds sweep results" in r.output
    assert "--resume" in r.output and "--force" in r.output


def test_force_starts_over_and_removes_only_what_the_sweep_wrote(copy, tiny):
    (copy / "notes.txt").write_text("mine")
    (copy / "results" / "README").write_text("mine too")
    old = load_results(copy)
    r = _cli("--grid", "short=2,5 long=9", "--seed", "4", *TINY, "--out", str(copy), "--force")
    assert r.exit_code == 0, r.output
    new = load_results(copy)
    assert new["config_index"].unique().to_list() == [0, 1] and new.height == 2  # the new sweep only
    assert new["long"].to_list() == [9, 9] and not new.equals(old)
    assert sorted(p.name for p in (copy / "results").iterdir()) == ["README", "part-00000000.parquet",
                                                                     "part-00000001.parquet"]
    assert (copy / "notes.txt").read_text() == "mine"
    assert json.loads((copy / "sweep.json").read_text())["grid"] == {"short": [2, 5], "long": [9]}
    # and again: --force works every time (what `make demo` needs)
    assert _cli("--grid", "short=2,5 long=9", "--seed", "4", *TINY, "--out", str(copy), "--force").exit_code == 0


def test_force_replaces_damaged_files_too(copy):
    _garbage(_part(copy))
    _json_garbage(copy / "sweep.json")
    r = _cli(*ARGS, "--out", str(copy), "--force")
    assert r.exit_code == 0, r.output
    assert load_results(copy).height == 6


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--resume", "--force"], "give one of them"),
        (["--force", "--grid", "short=[3,5]"], "character '['"),
        (["--force", "--grid", "shrot=3"], "unknown option"),
        (["--force", "--size", "-1"], "size"),
        (["--force", "--grid", "short=abc"], "expected an integer"),
    ],
)
def test_force_deletes_nothing_when_the_command_is_wrong(copy, args, needle):
    before = {p.name: p.read_bytes() for p in (copy / "results").iterdir()}
    r = _cli(*ARGS, "--out", str(copy), *args)
    assert r.exit_code == 2 and needle in r.output, r.output
    assert {p.name: p.read_bytes() for p in (copy / "results").iterdir()} == before
    assert (copy / "sweep.json").exists()


def test_resume_without_a_manifest_but_with_parts_is_refused(copy):
    (copy / "sweep.json").unlink()
    r = _cli(*ARGS, "--out", str(copy), "--resume")
    assert r.exit_code == 2 and "sweep.json" in r.output and "--force" in r.output, r.output
    r = _cli(*ARGS, "--out", str(copy))
    assert r.exit_code == 2 and "already holds sweep results" in r.output  # parts are never deleted silently


def test_api_overwrite(copy, tiny):
    with pytest.raises(ConfigError, match="--force"):
        sweep(tiny, GRID, repeats=2, seed=3, out=copy, progress=False)
    res = sweep(tiny, "short=2 long=8", repeats=1, seed=3, out=copy, overwrite=True, progress=False, heatmap=False)
    assert res.n_run == 1 and load_results(copy).height == 1
    with pytest.raises(ConfigError, match="give one of them"):
        sweep(tiny, GRID, out=copy, overwrite=True, resume=True, progress=False)


@pytest.mark.parametrize(("bad_out", "needle"), [("file", "is a file"), ("file/sub", "Not a directory")])
def test_an_out_that_cannot_be_a_directory_is_a_clear_error(tmp_path, tiny, bad_out, needle):
    (tmp_path / "file").write_text("x")
    r = _cli(*ARGS, "--out", str(tmp_path / bad_out))
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert needle in r.output and str(tmp_path / bad_out) in r.output, r.output
    with pytest.raises(ConfigError, match="sweep directory"):
        sweep(tiny, GRID, out=tmp_path / bad_out, progress=False)


# ------------------------------------------------------------------------------------------- atomic


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "part-00000000.parquet"
    target.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"new but incomp")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _write_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [target.name]
    _write_atomic(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == [target.name]
