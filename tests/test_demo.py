"""``lobkit demo`` (``make demo``): the whole pipeline on the embedded default, end to end on small settings."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.demo import DemoConfig, pipeline
from lobkit.errors import ConfigError


def test_pipeline_writes_every_step(tmp_path):
    cfg = DemoConfig(out=tmp_path / "out", db=tmp_path / "lob.db", snapshots=300, seed=3, duration="2min", warmup="30s",
                     repeats=2, sweep_grid="short=3,5 long=20", sweep_duration="1min", sweep_repeats=2, jobs=2,
                     messages=20_000)
    lines: list[str] = []
    res = pipeline(cfg, echo=lines.append)
    # 1. the SQLite file has the real schema and the snapshots came back through the stream
    with sqlite3.connect(cfg.db) as c:
        assert c.execute("SELECT count(*) FROM items").fetchone()[0] == 300
        assert c.execute("SELECT count(*) FROM bids").fetchone()[0] == 300 * 20
    assert res["snapshots"] == 300
    # 2. the engine processed the stream
    assert res["engine_messages_per_s"] > 0
    # 3. the run's files, and its summary agrees with what was returned
    summary = json.loads((cfg.out / "run" / "summary.json").read_text())["summary"]
    assert summary["final_pnl"] == pytest.approx(res["run"]["final_pnl"])
    assert summary["n_trades"] == res["run"]["n_trades"] > 0
    assert (cfg.out / "run" / "pnl.png").stat().st_size > 1000
    # 4. the counterfactual
    cmp = json.loads((cfg.out / "compare" / "compare.json").read_text())
    assert cmp["summary"]["repeats"] == 2 and len(cmp["pairs"]) == 2
    assert (cfg.out / "compare" / "compare.png").exists()
    # 5. the sweep: two valid configurations, a heatmap
    assert set(res["sweep_best"]["short"].to_list()) == {3, 5}
    assert (cfg.out / "sweep" / "heatmap.png").exists()
    text = "\n".join(lines)
    for step in ("== 1. data", "== 2. engine", "== 3. one run", "== 4. counterfactual", "== 5. sweep"):
        assert step in text


def test_pipeline_reuses_an_existing_snapshot_file(tmp_path):
    from lobkit.data.sample import write_sample_db

    db = tmp_path / "mine.db"
    write_sample_db(db, 150, 1)
    before = db.read_bytes()
    cfg = DemoConfig(out=tmp_path / "o", db=db, duration="1min", warmup="20s", repeats=1, sweep_grid="short=3 long=20",
                     sweep_duration="1min", sweep_repeats=1, jobs=1, messages=5_000)
    lines: list[str] = []
    res = pipeline(cfg, echo=lines.append)
    assert res["snapshots"] == 150 and db.read_bytes() == before
    assert f"using {db}" in lines[1]


@pytest.mark.parametrize(
    "kw, field",
    [({"repeats": 0}, "repeats"), ({"seed": -1}, "seed"), ({"duration": "soon"}, "duration"), ({"jobs": 1.5}, "jobs"),
     ({"duration": "1min"}, "duration")],
)
def test_demo_config_rejects_bad_values(kw, field):
    with pytest.raises(ConfigError, match=field):
        DemoConfig(**kw)


def test_cli_demo_bad_duration_is_one_clear_line(tmp_path):
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--duration", "forever"])
    assert r.exit_code == 2
    assert "forever" in r.output and "Traceback" not in r.output
