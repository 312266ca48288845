"""``lobkit demo`` (``make demo``): the whole pipeline end to end on the shared real data in a small configuration,
its report with every section, the reuse of unchanged steps, --force, a failing step named, and the synthetic
fallback when no data is found."""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner

from lobkit.cli import main
from lobkit.demo import STEPS, DemoConfig, DemoError, find_data, pipeline
from lobkit.errors import ConfigError
from tests.conftest import require_data

SMALL = dict(seed=3, wgan_steps=20, nhp_epochs=1, duration="10min", warmup="2min", size=100, repeats=3,
             impact_lots=(10, 1000), impact_pairs=4, impact_horizon="2min", sweep_grid="short=3,5 long=20",
             sweep_duration="6min", sweep_repeats=1, jobs=2, realism_runs=1, replicates=20, progress=False)
SECTIONS = ("data", "wgan", "nhp", "compare", "impact", "sweep", "realism")


def _sections(html: str) -> dict[str, str]:
    """The report's sections by id: the HTML from its heading to the next."""
    parts = re.split(r'<h2 id="', html)
    return {p.split('"', 1)[0]: p for p in parts[1:]}


def check_report(path, real: bool) -> dict[str, str]:
    """Every section is there with figures: a summary table of numbers and its embedded PNGs."""
    html = path.read_text()
    assert html.startswith("<!doctype html>") and "http" not in re.sub(r'https?://[^"\s]*lobkit', "", html).split(
        "<style>")[0]
    sec = _sections(html)
    assert list(sec) == ["headline", *SECTIONS]
    for name in SECTIONS:
        body = sec[name]
        assert re.search(r'<td class="num">[^<]*\d', body), f"section {name} has no figures"
        assert body.count('src="data:image/png;base64,') >= 1, f"section {name} has no figure"
    head = sec["headline"]
    for label in ("classifier two-sample test", "held-out log-likelihood", "realism targets met", "momentum PnL",
                  "impact cost", "best sweep configuration"):
        assert label in head, label
    assert ("SYNTHETIC" in html) is (not real)
    return sec


def test_the_demo_on_the_real_data_then_again(tmp_path, monkeypatch):
    db = require_data("lob-btc.db")
    require_data("bitstamp-btcusd-2015-05-01.log.xz")
    monkeypatch.chdir(tmp_path)  # no ./lob-btc.db here: it is found in the shared data directory
    lines: list[str] = []
    res = pipeline(DemoConfig(out=tmp_path / "demo", **SMALL), echo=lines.append)
    text = "\n".join(lines)
    assert f"real data: {db}" in text and "SYNTHETIC" not in text
    assert res.report == tmp_path / "demo" / "report.html" and f"report: {res.report.resolve()}" in text
    check_report(res.report, real=True)
    recs = res.records
    assert recs["data"]["headline"]["snapshots"] == 5011 and recs["data"]["headline"]["events"]["kind"] == "bitstamp"
    assert recs["nhp"]["headline"]["real_events"] and 0 <= recs["wgan"]["headline"]["c2st"] <= 1
    compare = json.loads((tmp_path / "demo" / "compare" / "compare.json").read_text())
    assert compare["summary"]["repeats"] == 3
    assert compare["config"]["flow.name"] == "nhp"
    # the WGAN's books when it draws two-sided ones, else (a 20-step generator) the data's first snapshot, said so
    book = recs["wgan"]["headline"]["initial_book"]
    assert compare["config"]["market.initial_book"] == book
    assert book.startswith("wgan:") is (recs["wgan"]["headline"]["two_sided_share"] >= 0.1)
    # again: every step reused, quickly, the same figures
    lines.clear()
    t0 = time.perf_counter()
    again = pipeline(DemoConfig(out=tmp_path / "demo", **SMALL), echo=lines.append)
    assert again.reused == list(SECTIONS) and time.perf_counter() - t0 < 60
    assert sum("reused" in line for line in lines) == len(STEPS)
    assert again.records["compare"]["headline"] == recs["compare"]["headline"]
    check_report(again.report, real=True)
    # a changed setting redoes its step and what depends on it, no more
    changed = pipeline(DemoConfig(out=tmp_path / "demo", **(SMALL | {"repeats": 2})), echo=lines.append)
    assert set(SECTIONS) - set(changed.reused) == {"compare"}
    # --force redoes everything through the command line
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo"), "--force", "--no-progress", "--seed", "3",
                                  "--wgan-steps", "20", "--nhp-epochs", "1", "--duration", "10min", "--repeats", "2"])
    assert r.exit_code == 0, r.output
    assert "reused" not in r.output and r.output.rstrip().endswith("report.html")


def test_without_data_the_demo_says_so_and_runs_on_synthetic_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LOBKIT_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.chdir(tmp_path)
    files = find_data(None, tmp_path / "demo")
    assert not files.real and files.events is None and files.db == tmp_path / "demo" / "data" / "lob-btc.db"
    lines: list[str] = []
    res = pipeline(DemoConfig(out=tmp_path / "demo", snapshots=1500, **SMALL), echo=lines.append)
    assert any("SYNTHETIC" in line for line in lines)
    check_report(res.report, real=False)
    assert res.records["nhp"]["headline"]["real_events"] is False


def test_a_failing_step_is_named_in_one_line(tmp_path):
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(DemoError, match=r"^demo step 1 \(data\): .*broken\.db"):
        pipeline(DemoConfig(out=tmp_path / "o", db=bad, **SMALL), echo=lambda s: None)
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "o"), "--db", str(bad), "--no-progress"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.output.splitlines()[-1].startswith("error: demo step 1 (data):")  # after the step's own header
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "o"), "--db", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "missing.db: no such file" in r.output


@pytest.mark.parametrize(
    "kw, field",
    [({"repeats": 0}, "repeats"), ({"seed": -1}, "seed"), ({"duration": "soon"}, "duration"), ({"jobs": 1.5}, "jobs"),
     ({"duration": "1min"}, "duration"), ({"impact_lots": (0,)}, "impact_lots"), ({"dsn": "mysql://x"}, "dsn"),
     ({"wgan_steps": 0}, "wgan_steps")],
)
def test_demo_config_rejects_bad_values(kw, field):
    with pytest.raises(ConfigError, match=field):
        DemoConfig(**kw)


def test_cli_demo_bad_duration_is_one_clear_line(tmp_path):
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--duration", "forever"])
    assert r.exit_code == 2
    assert "forever" in r.output and "Traceback" not in r.output
