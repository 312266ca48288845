"""The realism report: real vs real near the noise floor, the files (Markdown, JSON, PNG) with every section, the
targets met and missed, missing events, bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from lobkit.errors import ConfigError
from lobkit.realism import TARGETS, realism_report
from lobkit.realism.facts import DISTANCE_NAMES
from lobkit.realism.report import DISTANCE_LABELS, FACT_LABELS

from .conftest import NS, log_path_record

REPLICATES = 60


def _block_resample(rec, rng, block_ns=30 * 60 * NS):
    """A circular block resample of ``rec`` as separate records (one per block piece): a draw of "the same market"
    as long as the record, pooled like the seeds of a simulation (no return crosses blocks)."""
    T = rec.duration_ns
    out = []
    for s in rng.integers(0, T, size=-(-T // block_ns)):
        s = int(s)
        out.append(rec.window(s, min(s + block_ns, T)))
        if s + block_ns > T:
            out.append(rec.window(0, s + block_ns - T))
    return out


def test_real_vs_real_is_at_the_noise_floor(lob_btc):
    """eval-market on real vs real: lob-btc.db against a block resample of itself. Every distance is within the
    95% noise floor, acf_lag1 is within the real interval, and both TV targets are met."""
    rep = realism_report(lob_btc, _block_resample(lob_btc, np.random.default_rng(101)), seed=1,
                         replicates=REPLICATES)
    for row in rep.data["distances"]:
        assert row["value"] <= row["noise_floor"]["q95"], row
    met = {t["name"]: t["met"] for t in rep.targets}
    assert met["acf_lag1"] and met["spread_tv"] and met["volume_by_level_tv"]
    for row in rep.data["facts"]:  # every scalar fact of the resample within the real interval or its noise floor
        if row["simulated"] is not None and row["real"] is not None:
            lo, hi = row["real_ci"]
            near = abs(row["difference"]) <= row["noise_floor"]["q95"] + 1e-12
            assert (lo <= row["simulated"] <= hi) or near, row["name"]


def test_real_vs_itself_is_zero(lob_btc):
    rep = realism_report(lob_btc, [lob_btc], seed=np.random.SeedSequence(2), replicates=20)
    for row in rep.data["distances"]:
        assert row["value"] == pytest.approx(0.0, abs=1e-12)
    met = {t["name"]: t["met"] for t in rep.targets}
    assert met == {"spread_tv": True, "kurtosis_1min": True, "abs_acf_mean_lags_1_5": True, "acf_lag1": True,
                   "volume_by_level_tv": True}
    assert rep.missed == []


def test_real_halves_are_within_a_few_noise_floors(lob_btc):
    """The first half of the day against the second. The day is not stationary (the spread and the asks' depth
    change), so the halves sit above the bootstrap's 95% floor for some distances, but within three times it; the
    second half's lag-1 autocorrelation (-0.28) is outside the first half's interval, and the report says so."""
    first, second = lob_btc.halves()
    rep = realism_report(first, [second], seed=3, replicates=REPLICATES)
    for row in rep.data["distances"]:
        assert row["value"] <= 3 * row["noise_floor"]["q95"], row
    acf = next(t for t in rep.targets if t["name"] == "acf_lag1")
    assert acf["value"] == pytest.approx(-0.284, abs=0.005)
    assert acf["met"] is False and "acf_lag1" in rep.missed
    assert "Target acf_lag1 missed" in rep.markdown()


def test_report_files_hold_every_section(lob_btc, short_sim, tmp_path):
    rep = realism_report(lob_btc, [short_sim], seed=4, replicates=REPLICATES)
    md = rep.markdown()
    for heading in ("# Market realism", "## Targets", "## Facts", "## Distances", "## Notes"):
        assert heading in md
    assert "| fact | real [95% interval] | simulated | target | met |" in md
    for name in TARGETS:
        assert f"| {name} |" in md
    for label in [*FACT_LABELS.values(), *DISTANCE_LABELS.values()]:
        assert f"| {label} |" in md, label
    # the short simulation's spread is a tick or two: the spread target is missed, and the report says so
    assert "spread_tv" in rep.missed and "**Targets missed:** spread_tv" in md
    assert "Target spread_tv missed" in md
    # 5 minutes of returns: no 1-minute kurtosis nor |r| autocorrelation at lag 5: not evaluated, never "met"
    met = {t["name"]: t["met"] for t in rep.targets}
    assert met["kurtosis_1min"] is None and met["abs_acf_mean_lags_1_5"] is None
    assert "**Not evaluated (not computable):**" in md

    md_path = rep.write_markdown(tmp_path / "r" / "report.md")
    assert md_path.read_text() == md
    data = json.loads(rep.to_json(tmp_path / "r" / "report.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert {"real", "simulated", "seed", "bootstrap", "targets", "facts", "distances", "real_facts",
            "simulated_facts", "real_intervals", "notes"} <= set(data)
    assert [t["name"] for t in data["targets"]] == list(TARGETS)
    assert [d["name"] for d in data["distances"]] == list(DISTANCE_NAMES)
    assert [f["name"] for f in data["facts"]] == list(FACT_LABELS)
    row = next(f for f in data["facts"] if f["name"] == "kurtosis_1min")
    assert row["real"] == pytest.approx(24.1, abs=0.05) and len(row["real_ci"]) == 2
    assert data["seed"] == "4" and data["bootstrap"]["replicates"] == REPLICATES

    png = rep.figure(tmp_path / "r" / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    h, w = mpimg.imread(png).shape[:2]
    assert (w, h) == (2200, 950)


def test_missing_events_are_reported_not_available(lob_btc, short_sim, tmp_path):
    no_events = dataclasses.replace(short_sim, event_t_ns=None, event_type=None)
    rep = realism_report(lob_btc, [no_events], seed=5, replicates=20)
    data = rep.data
    dist = {d["name"]: d["value"] for d in data["distances"]}
    assert dist["inter_event_tv"] is None and dist["event_mix_tv"] is None
    facts = {f["name"]: f for f in data["facts"]}
    assert facts["share_limit_buy"]["simulated"] is None and facts["share_limit_buy"]["real"] is not None
    assert not data["simulated_facts"]["event_mix"]["available"]
    assert any("no events" in n for n in data["notes"])
    assert rep.figure(tmp_path / "f.png").stat().st_size > 10_000


def test_targets_are_evaluated_on_the_simulated_figures(lob_btc):
    """Gaussian returns (kurtosis 3, no volatility clustering) miss the kurtosis and |r| targets."""
    rng = np.random.default_rng(6)
    gauss = log_path_record(np.r_[0.0, np.cumsum(rng.standard_normal(3000) * 1e-3)], step_s=6.0)
    rep = realism_report(lob_btc, [gauss], seed=6, replicates=20)
    t = {x["name"]: x for x in rep.targets}
    assert t["kurtosis_1min"]["met"] is False and t["kurtosis_1min"]["value"] == pytest.approx(3, abs=0.6)
    assert t["abs_acf_mean_lags_1_5"]["met"] is False
    assert t["kurtosis_1min"]["real"] == pytest.approx(24.1, abs=0.05)
    assert "kurtosis_1min = " in rep.markdown()


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("real", "sims"), {"seed": 1}, "real: expected a MarketRecord"),
    ((None, []), {"seed": 1}, "real: expected a MarketRecord"),
    (("rec", []), {"seed": 1}, "simulated: a non-empty list"),
    (("rec", ["x"]), {"seed": 1}, r"simulated\[0\]: expected a MarketRecord"),
    (("rec", ["rec"]), {"seed": None}, "seed"),
    (("rec", ["rec"]), {"seed": -1}, "seed"),
    (("rec", ["rec"]), {"seed": 1, "replicates": 1}, "replicates"),
])
def test_bad_input(args, kwargs, message):
    rec = log_path_record(np.zeros(50) + np.arange(50) * 1e-4)
    real, sims = args
    real = rec if real == "rec" else real
    sims = [rec if s == "rec" else s for s in sims] if isinstance(sims, list) else sims
    with pytest.raises(ConfigError, match=message):
        realism_report(real, sims, **kwargs)


def test_nan_is_never_written_to_json(short_sim, tmp_path):
    rep = realism_report(short_sim, [short_sim], seed=7, replicates=10)
    text = rep.to_json(tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert math.isclose(json.loads(text)["distances"][0]["value"], 0.0, abs_tol=1e-12)
