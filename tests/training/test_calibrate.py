"""`lobkit calibrate`: the parametric flow fitted to an event stream (lobkit/training/calibrate.py).

(a) a synthetic stream of known parameters (tick's exponential Hawkes simulator, geometric marks, exponential
lifetimes, FIFO executions) is recovered within three standard errors, and the standard errors match the spread of
the estimates over seeds; (b) the TOML file round-trips exactly; (c) bad files give one clear line naming the file
and the field; (d) on the real Bitstamp day the command writes a file that ``--flow calibrated:PATH`` runs; (e) the
simulated moments are lobkit.realism's facts and distances over their bootstrap scales, the response-surface search
finds a known minimum, and a short search on the real day is recorded.
"""

from __future__ import annotations

import heapq
import math
import tomllib
from collections import deque
from dataclasses import fields

import click
import numpy as np
import pytest
import tomli_w
from click.testing import CliRunner

from lobkit.errors import InputFormatError
from lobkit.flows.hawkes import HawkesParams
from lobkit.training.calibrate import (
    FIT_FIELDS,
    MARKET_REQUIRED,
    MOMENT_EMPTY_PENALTY,
    MOMENT_FAIL_LOSS,
    MOMENT_SEED_KEY,
    MOMENT_TV_SCALE,
    MOMENTS,
    Calibration,
    MomentTarget,
    calibrate,
    moment_loss,
    moment_target,
    moment_terms,
    read_calibration,
    write_calibration,
)

from .conftest import require_data

# ------------------------------------------------------------------------------------------------ synthetic
TRUTH = {
    "limit_rate": 1.0, "market_rate": 0.1, "cancel_rate": 0.01, "hawkes_beta": 1.0, "excite_market_same": 0.3,
    "excite_market_cross": 0.1, "excite_limit_refill": 0.5, "excite_limit_limit": 0.3, "activity_coupling": 0.3,
    "limit_depth_mean": 6.0, "limit_size_mean": 3.0, "market_size_mean": 2.0,
}
SPREAD = 4  # ticks: efficient-price orders rest d - 2 ticks from their own best, the others d - 4
SHARE = HawkesParams.efficient_price_share  # what calibrate assumes without the moment stage
T_SYNTH = 5000.0


def synthetic_stream(seed: int, T: float = T_SYNTH, p: dict = TRUTH):
    """The flow's model as a stream: order times from tick's ``SimuHawkesExpKernels`` with the structured adjacency
    (the activity coupling ``kappa`` is an excitation of both limit sides by every market order, of integral
    ``limit_rate kappa / (2 lambda_m)``, lambda_m the stationary market rate a side), geometric distances and sizes,
    exponential lifetimes (cancellations) and market orders that execute the oldest resting orders first."""
    from tick.hawkes import SimuHawkesExpKernels

    from lobkit.training.events import make_stream

    lam_m = p["market_rate"] / (1 - p["excite_market_same"] - p["excite_market_cross"])
    coup = p["limit_rate"] * p["activity_coupling"] / (2 * lam_m)
    A = np.zeros((4, 4))  # A[i, j]: the expected type-i events a type-j event triggers
    A[0, 0] = A[1, 1] = p["excite_limit_limit"]
    A[0, 3] = A[1, 2] = p["excite_limit_refill"] + coup  # a market sell consumed bids: bids refill
    A[0, 2] = A[1, 3] = coup
    A[2, 2] = A[3, 3] = p["excite_market_same"]
    A[2, 3] = A[3, 2] = p["excite_market_cross"]
    base = p["limit_rate"] * (1 - p["activity_coupling"])
    sim = SimuHawkesExpKernels(adjacency=A, decays=p["hawkes_beta"], end_time=T, seed=seed, verbose=False,
                               baseline=np.array([base, base, p["market_rate"], p["market_rate"]]))
    sim.simulate()
    times = np.concatenate(sim.timestamps)
    types = np.concatenate([np.full(len(ts), j) for j, ts in enumerate(sim.timestamps)])
    order = np.argsort(times, kind="stable")
    rng = np.random.default_rng(seed)
    out, books, deaths = [], (deque(), deque()), []

    def die(upto):
        while deaths and deaths[0][0] <= upto:
            t_death, _, rec = heapq.heappop(deaths)
            if rec["alive"]:
                rec["alive"] = False
                out.append((t_death, 4 + rec["side"], rec["x"], rec["left"]))

    for n, (t, k) in enumerate(zip(times[order], types[order], strict=True)):
        die(t)
        if k <= 1:
            d = rng.geometric(1 / p["limit_depth_mean"])
            x = d - (SPREAD // 2 if rng.random() < SHARE else SPREAD)
            rec = {"left": float(rng.geometric(1 / p["limit_size_mean"])), "x": x, "alive": True, "side": int(k)}
            books[k].append(rec)
            heapq.heappush(deaths, (t + rng.exponential(1 / p["cancel_rate"]), n, rec))
            out.append((t, k, x, rec["left"]))
        else:
            size = float(rng.geometric(1 / p["market_size_mean"]))
            out.append((t, k, 0, size))
            q, left = books[1 if k == 2 else 0], size  # a buy takes asks
            while left > 0 and q:
                rec = q[0]
                if rec["alive"]:
                    take = min(left, rec["left"])
                    rec["left"] -= take
                    left -= take
                    if rec["left"] > 0:
                        continue
                    rec["alive"] = False
                q.popleft()
    die(T)
    a = np.array(sorted(out, key=lambda r: r[0]), dtype=float)
    return make_stream(a[:, 0], a[:, 1].astype(int), a[:, 2].astype(int), a[:, 3], duration_s=T,
                       source=f"synthetic stream (seed {seed})")


def _fit(seed: int) -> Calibration:
    return calibrate(synthetic_stream(seed), tick_size=0.01, lot_size=1.0, initial_mid=100.0, spread_ticks=SPREAD,
                     moments=False)


@pytest.fixture(scope="module")
def fits() -> list[Calibration]:
    """Five seeds (a few seconds each)."""
    return [_fit(seed) for seed in range(5)]


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_a_synthetic_stream_gives_back_its_parameters_within_three_standard_errors(fits, name):
    cal = fits[0]
    est, se = getattr(cal.params, name), cal.fit["standard_errors"].get(name)
    assert se is not None and se > 0, f"{name}: no standard error"
    assert abs(est - TRUTH[name]) <= 3 * se, f"{name}: {est:.4g} vs truth {TRUTH[name]:.4g} (se {se:.3g})"


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_the_standard_errors_match_the_spread_over_seeds(fits, name):
    est = np.array([getattr(c.params, name) for c in fits])
    se = np.mean([c.fit["standard_errors"][name] for c in fits])
    spread = est.std(ddof=1)
    assert 0.2 * spread <= se <= 5 * spread, f"{name}: mean se {se:.3g}, spread over {len(fits)} seeds {spread:.3g}"


def test_the_fit_records_what_it_did(fits):
    fit = fits[0].fit
    T = fit["duration_s"]
    assert fit["n_events"] > 20_000 and T == T_SYNTH
    assert fit["rates"]["limit_per_side"] == pytest.approx(
        (fit["rates"]["counts"]["limit_buy"] + fit["rates"]["counts"]["limit_sell"]) / (2 * T))
    # the fitted process's stationary order rates reproduce the counts (the MLE's compensator identity)
    p = fits[0].params
    lam_m = p.market_rate / (1 - p.excite_market_same - p.excite_market_cross)
    lam_l = (p.limit_rate + p.excite_limit_refill * lam_m) / (1 - p.excite_limit_limit)
    assert lam_m == pytest.approx(fit["rates"]["market_per_side"], rel=0.1)
    assert lam_l == pytest.approx(fit["rates"]["limit_per_side"], rel=0.1)
    # tick's unconstrained fit at the same decay, for comparison
    assert len(fit["hawkes"]["tick_adjacency"]) == 4
    assert any("moments skipped" in w for w in fit["warnings"])


# ------------------------------------------------------------------------------------------------ the file
def test_the_toml_round_trip_is_exact(fits, tmp_path):
    cal = fits[0]
    path = write_calibration(cal, tmp_path / "market.toml")
    back = read_calibration(path)
    assert back == cal
    assert back.params == cal.params and back.market == cal.market and back.fit == cal.fit
    text = path.read_text()
    assert text.startswith("# lobkit calibrated market") and "[market]" in text and "[flow]" in text
    assert [p.name for p in tmp_path.iterdir()] == ["market.toml"]  # no temporary file left
    write_calibration(cal, path)  # replaced in place
    assert read_calibration(path) == cal


def test_writing_to_a_directory_is_refused(fits, tmp_path):
    from lobkit.errors import ConfigError

    with pytest.raises(ConfigError, match="is a directory"):
        write_calibration(fits[0], tmp_path)


@pytest.fixture(scope="module")
def good_doc(fits) -> dict:
    from dataclasses import asdict

    cal = fits[0]
    return {"market": dict(cal.market), "flow": asdict(cal.params), "fit": dict(cal.fit)}


def _write(tmp_path, doc) -> str:
    p = tmp_path / "cal.toml"
    p.write_text(tomli_w.dumps(doc))
    return str(p)


def _error(path) -> str:
    with pytest.raises(InputFormatError) as info:
        read_calibration(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


def _without(doc, section, name):
    return {**doc, section: {k: v for k, v in doc[section].items() if k != name}}


_MISSING = ([("flow", f.name) for f in fields(HawkesParams)] + [("market", n) for n in MARKET_REQUIRED]
            + [("fit", n) for n, (_, required) in FIT_FIELDS.items() if required])


@pytest.mark.parametrize(("section", "name"), _MISSING, ids=[f"{s}.{n}" for s, n in _MISSING])
def test_a_missing_field_is_named(good_doc, tmp_path, section, name):
    msg = _error(_write(tmp_path, _without(good_doc, section, name)))
    expect = f"{section}.{name}: missing" if name != "format" else "fit.format: missing"
    assert expect in msg, msg


_BAD = [
    ("extra flow field", lambda d: {**d, "flow": {**d["flow"], "limit_rat": 1.0}}, "flow.limit_rat: unknown field"),
    ("extra market field", lambda d: {**d, "market": {**d["market"], "tick": 0.01}}, "market.tick: unknown field"),
    ("extra fit field", lambda d: {**d, "fit": {**d["fit"], "comment": "x"}}, "fit.comment: unknown field"),
    ("extra section", lambda d: {**d, "agent": {"size": 1}}, "agent: unknown section"),
    ("missing section", lambda d: {k: v for k, v in d.items() if k != "flow"}, "[flow]: missing section"),
    ("negative rate", lambda d: {**d, "flow": {**d["flow"], "limit_rate": -1.0}}, "flow.limit_rate: must be"),
    ("explosive", lambda d: {**d, "flow": {**d["flow"], "excite_market_same": 0.9, "excite_market_cross": 0.2}},
     "flow.excite_market_same:"),
    ("float for an int", lambda d: {**d, "flow": {**d["flow"], "max_depth": 20.5}},
     "flow.max_depth: expected an integer"),
    ("text for a number", lambda d: {**d, "flow": {**d["flow"], "cancel_rate": "fast"}},
     "flow.cancel_rate: expected a number"),
    ("negative tick", lambda d: {**d, "market": {**d["market"], "tick_size": -0.01}}, "market.tick_size:"),
    ("narrow window", lambda d: {**d, "market": {**d["market"], "window": 512, "init_levels": 100},
                                 "flow": {**d["flow"], "max_depth": 200, "limit_depth_mean": 6.0}},
     "market.window: must be at least"),
    ("other format", lambda d: {**d, "fit": {**d["fit"], "format": "lobkit-sweep"}}, "fit.format: expected"),
    ("other version", lambda d: {**d, "fit": {**d["fit"], "format_version": 99}}, "fit.format_version:"),
    ("bad standard error", lambda d: {**d, "fit": {**d["fit"], "standard_errors": {"limit_rate": -1.0}}},
     "fit.standard_errors.limit_rate:"),
    ("standard error of nothing", lambda d: {**d, "fit": {**d["fit"], "standard_errors": {"speed": 1.0}}},
     "fit.standard_errors.speed: unknown field"),
]


@pytest.mark.parametrize(("case", "change", "expect"), _BAD, ids=[c[0] for c in _BAD])
def test_a_bad_field_is_named(good_doc, tmp_path, case, change, expect):
    assert expect in _error(_write(tmp_path, change(good_doc)))


@pytest.mark.parametrize(("case", "content", "expect"), [
    ("missing", None, "no such calibration file"),
    ("not toml", "limit_rate = = 3\n", "not TOML"),
    ("binary", b"\xff\xfe\x00", "not text"),
    ("another toml", "[grid]\nshort = [1, 2]\n", "grid: unknown section"),
])
def test_a_file_that_is_not_a_calibration_is_refused(tmp_path, case, content, expect):
    p = tmp_path / "market.toml"
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content)
    assert expect in _error(p)


def test_the_calibrated_flow_reports_a_bad_file_in_one_line(tmp_path):
    from lobkit.sim.options import apply_options

    p = tmp_path / "nothing.toml"
    with pytest.raises(InputFormatError, match="no such calibration file"):
        apply_options(None, {"flow": f"calibrated:{p}"})


# ------------------------------------------------------------------------------------------------ real data
def _group() -> click.Group:
    from lobkit.cli import _Group
    from lobkit.cli.calibrate import register

    g = _Group("lobkit")
    register(g)
    return g


def _cli(*args):
    return CliRunner().invoke(_group(), [str(a) for a in args])


@pytest.fixture(scope="module")
def btc_file(tmp_path_factory):
    """``lobkit calibrate --source bitstamp ... --quick`` on the real Bitstamp day (its book: lob-btc.db)."""
    capture = require_data("bitstamp-btcusd-2015-05-01.log.xz")
    require_data("lob-btc.db")
    out = tmp_path_factory.mktemp("calibrate") / "market-btc.toml"
    r = _cli("calibrate", "--source", "bitstamp", capture, "--out", out, "--quick", "--seed", 1, "--no-progress")
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output and "limit_rate" in r.output
    return out


def test_the_real_calibration_gives_plausible_rates(btc_file):
    cal = read_calibration(btc_file)
    p, fit = cal.params, cal.fit
    assert fit["source"].startswith("bitstamp") and fit["book"] and fit["n_events"] > 40_000
    lam_m = p.market_rate / (1 - p.excite_market_same - p.excite_market_cross)
    lam_l = (p.limit_rate + p.excite_limit_refill * lam_m) / (1 - p.excite_limit_limit)
    rates = fit["rates"]
    assert lam_m == pytest.approx(rates["market_per_side"], rel=0.1)
    assert lam_l == pytest.approx(rates["limit_per_side"], rel=0.1)
    assert rates["limit_per_side"] == pytest.approx(
        (rates["counts"]["limit_buy"] + rates["counts"]["limit_sell"]) / (2 * fit["duration_s"]))
    assert cal.market["tick_size"] == 0.01 and cal.market["lot_size"] == 0.01
    assert 200 < cal.market["initial_mid"] < 260
    assert 0.001 < p.cancel_rate < 1.0 and 1 <= p.limit_depth_mean <= p.max_depth
    # --quick skips the simulated moments: share, impact and refill boost keep their defaults and the rule
    assert not fit.get("moments") and any("moments skipped" in w for w in fit["warnings"])
    assert p.efficient_price_share == HawkesParams.efficient_price_share and p.refill_boost == 0.5


def test_the_calibrated_file_runs_as_a_flow(btc_file):
    from lobkit.flows.calibrated import CalibratedFlow
    from lobkit.sim import simulate
    from lobkit.sim.options import apply_options

    cal = read_calibration(btc_file)
    assert CalibratedFlow.default_params(str(btc_file)) == cal.params
    cfg = apply_options(None, {"flow": f"calibrated:{btc_file}", "duration": "10min", "warmup": "1min",
                               "agent": "null"})
    for name, value in cal.market.items():
        assert getattr(cfg.market, name) == value, name
    res = simulate(cfg, 3)
    s = res.summary
    assert s["n_events_total"] > 500 and s["empty_side_samples"] < 0.05 * 600
    simulated_limits = (s["events_limit_buy"] + s["events_limit_sell"]) / (2 * 600)
    assert simulated_limits == pytest.approx(cal.fit["rates"]["limit_per_side"], rel=0.5)


def test_the_command_refuses_to_overwrite_or_to_write_a_directory(btc_file, tmp_path):
    capture = require_data("bitstamp-btcusd-2015-05-01.log.xz")
    for out, expect in ((btc_file, "exists (--force replaces it)"), (tmp_path, "is a directory")):
        r = _cli("calibrate", "--source", "bitstamp", capture, "--out", out, "--quick", "--no-progress")
        assert r.exit_code == 2 and expect in r.output and r.output.count("\n") == 1, r.output


def test_an_events_file_needs_its_tick_size(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text("time,type\n0.5,0\n")
    r = _cli("calibrate", "--source", "events", p, "--out", tmp_path / "m.toml", "--no-progress")
    assert r.exit_code == 2 and "tick-size" in r.output, r.output


# ------------------------------------------------------------------------------------------------ simulated moments
NS = 1_000_000_000
AMZN5 = "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"


def _toy_record(seed: int, hours: float = 2.0):
    """A synthetic MarketRecord: 1 s samples of a random-walk mid with 1-6 tick spreads, five levels a side."""
    from lobkit.realism import MarketRecord

    rng = np.random.default_rng(seed)
    n = int(hours * 3600) + 1
    t = np.arange(n, dtype=np.int64) * NS
    mid2 = 20_000 + np.cumsum(rng.choice([-2, 0, 2], n, p=[0.05, 0.9, 0.05]))  # twice the mid, ticks
    spread = rng.integers(1, 7, n)
    bid = (mid2 - spread) // 2
    vol = rng.exponential(5.0, (n, 5)) * np.arange(1, 6)
    return MarketRecord(f"toy {seed}", 0.01, t, bid.astype(np.int64), (bid + spread).astype(np.int64), vol,
                        vol[::-1].copy(), None, None, int(t[-1]))


def test_the_moment_terms_are_the_realism_facts_over_their_scales():
    from lobkit.realism import distances, market_facts, scalar_facts

    real, other = market_facts(_toy_record(0)), market_facts(_toy_record(1))
    target = MomentTarget(None, real, 5, {n: 0.5 for n in MOMENTS})
    same = moment_terms(target, real)
    assert set(same) == set(MOMENTS) and all(v == 0 for v in same.values()) and moment_loss(same) == 0
    z = moment_terms(target, other)
    d, a, b = distances(real, other), scalar_facts(real), scalar_facts(other)
    for name, (kind, _) in MOMENTS.items():
        expect = d[name] if kind == "tv" else b[name] - a[name] if kind == "level" else math.log(b[name] / a[name])
        assert z[name] == pytest.approx(expect / 0.5), name
    assert moment_loss(z, 0.1) == pytest.approx(sum(w * z[n] ** 2 for n, (_, w) in MOMENTS.items())
                                                 + MOMENT_EMPTY_PENALTY * 0.1)
    assert moment_loss({**z, "acf_lag1": math.nan}) == MOMENT_FAIL_LOSS


def test_the_moment_target_is_the_books_record_and_its_block_bootstrap():
    from lobkit.realism import bootstrap_facts, market_facts, real_record, scalar_facts

    db = require_data("lob-btc.db")
    t = moment_target(db, 0.01, 5, replicates=20)
    rec = real_record(db, tick_size=0.01, levels=20, events="none")
    np.testing.assert_equal(t.facts, market_facts(rec))  # NaN-aware
    assert t.levels == 20 and t.record.duration_ns == rec.duration_ns
    reps = [scalar_facts(f) for f in bootstrap_facts(rec, 5, replicates=20)]
    assert t.scales["acf_lag1"] == pytest.approx(np.std([r["acf_lag1"] for r in reps], ddof=1))
    assert t.scales["std_1min"] == pytest.approx(np.std(np.log([r["std_1min"] for r in reps]), ddof=1))
    assert t.scales["spread_tv"] == t.scales["volume_by_level_tv"] == MOMENT_TV_SCALE
    # a level-5 LOBSTER file shows five levels: the volume profiles are compared on those
    assert moment_target(require_data(AMZN5), 0.01, 5, replicates=2).levels == 5


def test_the_response_surface_is_the_least_squares_quadratic():
    from lobkit.training.calibrate import _surface

    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (40, 4))

    def f(v):
        return 1.0 + v[0] - 2 * v[1] + 0.5 * v[2] * v[3] + 3 * v[0] ** 2

    s = _surface(x, np.array([f(v) for v in x]), np.zeros(4), np.full(4, 2.0))
    for v in rng.uniform(-2, 2, (5, 4)):
        assert s(v) == pytest.approx(f(v), abs=1e-9)
    assert _surface(x[:10], np.ones(10), np.zeros(4), np.ones(4)) is None  # fewer points than a quadratic needs
    # weighted: exact data stay exact; points of weight 0 do not count
    w = np.r_[np.ones(30), np.zeros(10)]
    y = np.array([f(v) for v in x])
    y[30:] = 1e6
    s = _surface(x, y, np.zeros(4), np.full(4, 2.0), w)
    assert s(np.full(4, 0.5)) == pytest.approx(f(np.full(4, 0.5)), abs=1e-9)


def test_the_search_finds_a_known_minimum(monkeypatch):
    """The search's machinery on a known problem: simulations replaced by moments that are linear in the search's
    coordinates plus noise, zero at a known point inside the first box; the surface's minimum is found."""
    import lobkit.training.calibrate as cal
    from lobkit.realism import market_facts, scalar_facts
    from lobkit.seeds import seed_sequence

    facts = market_facts(_toy_record(0))
    target = MomentTarget(None, facts, 5, {n: 1.0 for n in MOMENTS})
    params = HawkesParams()
    market = {"tick_size": 0.01, "lot_size": 1.0, "initial_mid": 100.0}
    sigma = scalar_facts(facts)["std_1min"] * 100.0 / 0.01
    lam_m = params.market_rate / (1 - params.excite_market_same - params.excite_market_cross)
    eta0 = sigma / math.sqrt(120 * lam_m * params.market_size_mean)
    truth = np.array([math.log(0.97 / 0.03), math.log(eta0) + 0.4, 0.5, math.log(0.1)])
    names = list(MOMENTS)
    A = 2 * np.eye(len(names), 4) + 0.3 * np.random.default_rng(1).normal(size=(len(names), 4))
    noise = np.random.default_rng(2)
    last = {}

    def coords(p):  # the search's coordinates (the distance-based depth is 10 ticks here)
        return np.array([math.log(p.efficient_price_share / (1 - p.efficient_price_share)),
                         math.log(p.efficient_price_impact), math.log(p.limit_depth_mean / 10.0),
                         math.log(p.refill_boost)])

    def fake_sim(p, market, seed, runs, *, duration_ns, levels):
        last["x"] = coords(p)
        return facts, 0.0

    def fake_terms(target, sim_facts):
        z = A @ (last["x"] - truth) + noise.normal(0, 0.05, len(names))
        return dict(zip(names, map(float, z), strict=True))

    monkeypatch.setattr(cal, "simulated_facts", fake_sim)
    monkeypatch.setattr(cal, "moment_terms", fake_terms)
    p, doc = cal._fit_moments(params, market, target, seed_sequence(4), 60, 3600 * NS, False,
                              lambda share: (10.0, 0.0, 1000), 1000)
    assert np.abs(coords(p) - truth).max() < 0.1, (coords(p), truth)
    assert doc["evaluations"] == 60 and len(doc["trace_loss"]) == 60 and doc["chosen"].startswith("the minimum")
    assert doc["runs"] == 20 and doc["seed"] == f"4/{MOMENT_SEED_KEY}"  # 20 simulated hours of 1 h runs


@pytest.fixture(scope="module")
def btc_stream():
    from lobkit.training.events import load_events

    return load_events("bitstamp", require_data("bitstamp-btcusd-2015-05-01.log.xz"))


def test_a_short_moment_search_on_the_real_day_is_recorded(btc_stream, tmp_path):
    """Six evaluations of one one-hour simulation each: the realism facts of the book and the chosen point, the
    four fitted parameters (no standard errors), fitting seeds off eval-market's, and the TOML round trip."""
    cal = calibrate(btc_stream, tick_size=0.01, book=require_data("lob-btc.db"), seed=2, moment_evals=6,
                    moment_duration="1h", moment_hours=1.0)
    mom, p = cal.fit["moments"], cal.params
    assert mom["evaluations"] == 6 and mom["runs"] == 1 and mom["duration_s"] == 3600 and mom["levels"] == 20
    assert mom["seed"] == f"2/{MOMENT_SEED_KEY}" and MOMENT_SEED_KEY >= 1000  # eval-market uses children 0..runs
    assert set(mom["objective"]) == set(MOMENTS) and set(mom["z"]) <= set(MOMENTS)
    assert 10 <= mom["real"]["spread_q50"] <= 25 and mom["real"]["acf_lag1"] < 0
    assert 0 <= mom["simulated"]["spread_tv"] <= 1 and math.isfinite(mom["loss"])
    i = mom["trace_loss"].index(mom["loss"]) if mom["chosen"].startswith("the best") else len(mom["trace_loss"]) - 1
    assert (p.efficient_price_share, p.efficient_price_impact, p.limit_depth_mean, p.refill_boost) == pytest.approx(
        (mom["trace_share"][i], mom["trace_impact"][i], mom["trace_depth"][i], mom["trace_refill_boost"][i]))
    assert not {"limit_depth_mean", "efficient_price_share", "refill_boost"} & set(cal.fit["standard_errors"])
    assert "search" in cal.fit["rules"]["refill_boost"]
    back = read_calibration(write_calibration(cal, tmp_path / "m.toml"))
    assert back == cal and tomllib.loads((tmp_path / "m.toml").read_text())["fit"]["moments"]["loss"] == mom["loss"]
