"""The realism report: real data and simulations side by side (:func:`realism_report` -> :class:`RealismReport`):
every fact of :mod:`lobkit.realism.facts` for the real record (with its 95% block-bootstrap interval) and the pooled
simulated records, their distances with the noise floor, and the targets (:data:`TARGETS`) met or missed; as a
JSON-able dict, a Markdown table (:meth:`RealismReport.markdown`), a JSON file and one PNG figure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lobkit.errors import ConfigError
from lobkit.realism.facts import (
    ACF_LAGS,
    DEFAULT_BLOCK_NS,
    DEFAULT_REPLICATES,
    DISTANCE_NAMES,
    SIGNATURE_S,
    as_generator,
    bootstrap_facts,
    distances,
    intervals,
    market_facts,
    noise_floor,
    scalar_facts,
)
from lobkit.realism.record import EVENT_NAMES, NS, MarketRecord

#: The targets (the Bitstamp day's): name -> (what is compared, kind, threshold). Kinds: ``"<="`` / ``">="`` a
#: threshold, ``"within"`` the real figure's 95% interval.
TARGETS = {
    "spread_tv": ("total variation distance of the spread distributions", "<=", 0.2),
    "kurtosis_1min": ("simulated Pearson kurtosis of 1-minute returns", ">=", 8.0),
    "abs_acf_mean_lags_1_5": ("simulated autocorrelation of absolute 1-minute returns, mean over lags 1-5", ">=", 0.05),
    "acf_lag1": ("simulated autocorrelation of 1-minute returns at lag 1", "within", None),
    "volume_by_level_tv": ("total variation distance of the mean volume by level (both sides' profile)", "<=", 0.2),
}

#: The rows of the facts table: key of :func:`lobkit.realism.facts.scalar_facts` -> label.
FACT_LABELS = {
    "spread_q10": "spread, 10th percentile (ticks)",
    "spread_q50": "spread, median (ticks)",
    "spread_q90": "spread, 90th percentile (ticks)",
    "spread_mean": "spread, mean (ticks)",
    "std_1min": "std of 1-min log returns",
    "std_5min": "std of 5-min log returns",
    "kurtosis_1min": "kurtosis of 1-min returns (Pearson)",
    "kurtosis_5min": "kurtosis of 5-min returns (Pearson)",
    **{f"acf_lag{k}": f"acf of 1-min returns, lag {k}" for k in ACF_LAGS},
    **{f"abs_acf_lag{k}": f"acf of abs 1-min returns, lag {k}" for k in ACF_LAGS},
    "abs_acf_mean_lags_1_5": "acf of abs 1-min returns, mean of lags 1-5",
    "iet_q10": "inter-event time, 10th percentile (s)",
    "iet_q50": "inter-event time, median (s)",
    "iet_q90": "inter-event time, 90th percentile (s)",
    "iet_zero_share": "share of simultaneous events",
    **{f"share_{n}": f"event mix: {n.replace('_', ' ')}" for n in EVENT_NAMES},
    **{f"rv_{s}s": f"realised variance per hour, sampled every {s} s" for s in SIGNATURE_S},
}

DISTANCE_LABELS = {
    "spread_tv": "spread distribution (TV)",
    "volume_by_level_tv": "mean volume by level, both sides (TV)",
    "volume_by_level_bid_tv": "mean volume by level, bids (TV)",
    "volume_by_level_ask_tv": "mean volume by level, asks (TV)",
    "inter_event_tv": "inter-event time distribution (TV)",
    "event_mix_tv": "event-type mix (TV)",
}


def _clean(x):
    """``x`` with NaN/inf -> None and numpy scalars/arrays -> Python (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(float(x)) else None
    return x


def _num(v) -> float:
    return math.nan if v is None else float(v)


def _fmt(v) -> str:
    """A number for people: 4 significant digits, n/a for None/NaN."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        return f"{v:.3e}"
    return f"{v:.4g}"


def _seed_label(seed) -> str:
    if isinstance(seed, np.random.Generator):
        return "a numpy Generator"
    if isinstance(seed, np.random.SeedSequence):
        from lobkit.seeds import label

        return label(seed)
    return str(seed)


@dataclass(frozen=True, eq=False)
class RealismReport:
    """The report: ``data`` is the JSON-able dict (strict JSON: NaN is None):

    * ``real`` / ``simulated``: the records (:meth:`MarketRecord.describe`); ``seed``, ``bootstrap``;
    * ``facts``: one row per scalar fact: ``name``, ``label``, ``real``, ``real_ci`` ``[lo, hi]``, ``simulated``,
      ``difference`` (simulated - real), ``noise_floor`` (``q50``, ``q95`` of ``|difference|`` between independent
      bootstrap replicates, ``halves``);
    * ``distances``: one row per distance (:data:`lobkit.realism.facts.DISTANCE_NAMES`): ``name``, ``label``,
      ``value``, ``noise_floor``;
    * ``targets``: one row per target (:data:`TARGETS`): ``name``, ``what``, ``value``, ``target`` (text),
      ``threshold`` (a number, or ``[lo, hi]`` for "within"), ``met`` (true / false / None when not computable),
      ``real``;
    * ``real_facts``, ``simulated_facts``: the full facts dicts (:func:`lobkit.realism.facts.market_facts`);
      ``real_intervals``: the 95% intervals of every vector fact (:func:`lobkit.realism.facts.intervals`);
    * ``notes``: what a reader must know (events not available, events inferred, targets missed).
    """

    data: dict

    @property
    def targets(self) -> list[dict]:
        return self.data["targets"]

    @property
    def missed(self) -> list[str]:
        """Names of the targets missed (``met`` false)."""
        return [t["name"] for t in self.targets if t["met"] is False]

    def to_json(self, path) -> Path:
        """Write ``data`` as strict JSON (indented) to ``path``; returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.data, indent=2, allow_nan=False) + "\n")
        return p

    def markdown(self) -> str:
        """The report as Markdown: the records, the targets, the facts (fact | real [95% interval] | simulated |
        target | met), the distances with their noise floor, and the notes (every missed target said so)."""
        d = self.data
        target_of = {t["name"]: t for t in d["targets"]}
        lines = ["# Market realism: real vs simulated", ""]
        r, sims = d["real"], d["simulated"]
        lines.append(f"- Real: {r['source']} ({_fmt(r['hours'])} h, {r['samples']} samples, "
                     f"{'no' if r['events'] is None else r['events']} events)")
        lines.append(f"- Simulated: {len(sims)} record(s), {_fmt(sum(s['hours'] for s in sims))} h in all"
                     + "".join(f"\n  - {s['source']} ({_fmt(s['hours'])} h, "
                               f"{'no' if s['events'] is None else s['events']} events)" for s in sims))
        b = d["bootstrap"]
        lines.append(f"- Intervals: 95% circular block bootstrap of the real record ({b['replicates']} replicates, "
                     f"blocks of {_fmt(b['block_s'] / 60)} min, seed {d['seed']})")
        lines += ["", "## Targets", "", "| target | what | value | threshold | met |", "|---|---|---|---|---|"]
        for t in d["targets"]:
            lines.append(f"| {t['name']} | {t['what']} | {_fmt(t['value'])} | {t['target']} | "
                         f"{_met(t['met'])} |")
        missed = [t for t in d["targets"] if t["met"] is False]
        na = [t for t in d["targets"] if t["met"] is None]
        lines.append("")
        if missed:
            lines.append("**Targets missed:** " + "; ".join(
                f"{t['name']} = {_fmt(t['value'])} (target {t['target']})" for t in missed) + ".")
        else:
            lines.append("**Every target that could be evaluated is met.**")
        if na:
            lines.append("")
            lines.append("**Not evaluated (not computable):** " + ", ".join(t["name"] for t in na) + ".")
        lines += ["", "## Facts", "", "| fact | real [95% interval] | simulated | target | met |",
                  "|---|---|---|---|---|"]
        for row in d["facts"]:
            lo, hi = row["real_ci"]
            t = target_of.get(row["name"])
            lines.append(f"| {row['label']} | {_fmt(row['real'])} [{_fmt(lo)}, {_fmt(hi)}] | "
                         f"{_fmt(row['simulated'])} | {t['target'] if t else ''} | {_met(t['met']) if t else ''} |")
        lines += ["", "## Distances", "",
                  "| distance | value | noise floor: halves | noise floor: bootstrap median / 95% | target | met |",
                  "|---|---|---|---|---|---|"]
        for row in d["distances"]:
            nf = row["noise_floor"]
            t = target_of.get(row["name"])
            lines.append(f"| {row['label']} | {_fmt(row['value'])} | {_fmt(nf.get('halves'))} | "
                         f"{_fmt(nf['q50'])} / {_fmt(nf['q95'])} | {t['target'] if t else ''} | "
                         f"{_met(t['met']) if t else ''} |")
        lines += ["", "The noise floor is what a distance looks like between two samples of the real market: between "
                      "the real record's two halves, and between pairs of independent bootstrap replicates as long "
                      "as the record.", "", "## Notes", ""]
        lines += [f"- {n}" for n in d["notes"]] or ["- none"]
        return "\n".join(lines) + "\n"

    def write_markdown(self, path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.markdown())
        return p

    def figure(self, path) -> Path:
        """One PNG (Agg backend) with panels, real (with its 95% interval) vs simulated: spread distribution,
        mean volume by level, acf of returns, acf of absolute returns, inter-event time distribution, event-type
        mix, signature plot, and the targets. Returns the path."""
        return _figure(self.data, Path(path))


def _met(m) -> str:
    return "n/a" if m is None else ("yes" if m else "**no**")


def _check_records(real, simulated) -> list[MarketRecord]:
    if not isinstance(real, MarketRecord):
        raise ConfigError(f"real: expected a MarketRecord, got {type(real).__name__}")
    if isinstance(simulated, MarketRecord):
        simulated = [simulated]
    if not isinstance(simulated, Sequence) or not simulated:
        raise ConfigError("simulated: a non-empty list of MarketRecord objects")
    for i, s in enumerate(simulated):
        if not isinstance(s, MarketRecord):
            raise ConfigError(f"simulated[{i}]: expected a MarketRecord, got {type(s).__name__}")
    return list(simulated)


def realism_report(real: MarketRecord, simulated: Sequence[MarketRecord], *, seed,
                   replicates: int = DEFAULT_REPLICATES, block_ns: int = DEFAULT_BLOCK_NS) -> RealismReport:
    """Real and simulated records side by side (see :class:`RealismReport` for the contents).

    The real facts are :func:`lobkit.realism.facts.market_facts` of ``real``; the simulated ones of all of
    ``simulated`` pooled (returns within each record). Intervals: ``replicates`` circular block bootstrap replicates
    of the real record with blocks of ``block_ns`` (:func:`lobkit.realism.facts.bootstrap_facts`), drawn with
    ``seed`` (an integer, a :class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`: required, so
    that a report can be repeated). The noise floor: :func:`lobkit.realism.facts.noise_floor` over the same
    replicates and the record's halves. Targets: :data:`TARGETS`; one that cannot be computed (NaN: too short a
    record, no events) is reported with ``met`` None, never as met.
    """
    sims = _check_records(real, simulated)
    rng = as_generator(seed)
    real_f = market_facts(real)
    sim_f = market_facts(sims)
    reps = bootstrap_facts(real, rng, replicates=replicates, block_ns=block_ns)
    ivs = intervals(reps)
    halves = tuple(market_facts(h) for h in real.halves())
    floor = noise_floor(reps, halves)
    dist = distances(real_f, sim_f)
    rs, ss = scalar_facts(real_f), scalar_facts(sim_f)

    facts_rows = []
    for name, label in FACT_LABELS.items():
        lo, hi = ivs[name]
        facts_rows.append({"name": name, "label": label, "real": rs[name], "real_ci": [lo[0], hi[0]],
                           "simulated": ss[name], "difference": dist["diff"][name], "noise_floor": floor[name]})
    dist_rows = [{"name": n, "label": DISTANCE_LABELS[n], "value": dist[n], "noise_floor": floor[n]}
                 for n in DISTANCE_NAMES]

    targets = []
    for name, (what, kind, thr) in TARGETS.items():
        if kind == "within":
            value = ss[name]
            lo, hi = ivs[name][0][0], ivs[name][1][0]
            ok = None if not all(map(math.isfinite, (value, lo, hi))) else bool(lo <= value <= hi)
            targets.append({"name": name, "what": what, "value": value, "target": f"within [{_fmt(lo)}, {_fmt(hi)}]",
                            "threshold": [lo, hi], "met": ok, "real": rs[name]})
            continue
        value = dist[name] if name in dist else ss[name]
        ok = None if not math.isfinite(value) else bool(value <= thr if kind == "<=" else value >= thr)
        row = {"name": name, "what": what, "value": value, "target": f"{kind} {_fmt(thr)}", "threshold": thr,
               "met": ok, "real": rs.get(name)}
        if name in dist:
            row["noise_floor"] = floor[name]
        targets.append(row)

    notes = []
    for t in targets:
        if t["met"] is False:
            notes.append(f"Target {t['name']} missed: {_fmt(t['value'])}, target {t['target']}"
                         + (f" (real: {_fmt(t['real'])})" if t["real"] is not None else
                            f" (noise floor: {_fmt(t['noise_floor']['q95'])})" if "noise_floor" in t else "") + ".")
        elif t["met"] is None:
            notes.append(f"Target {t['name']} not evaluated: the value cannot be computed from these records.")
    if not real.has_events:
        notes.append("The real record has no events: inter-event times and the event mix are not available.")
    if not all(s.has_events for s in sims):
        notes.append("A simulated record has no events: inter-event times and the event mix are not available.")
    if "inferred from the snapshots" in real.source:
        notes.append("The real events are inferred from snapshots, their times spread evenly between snapshots: "
                     "the inter-event time distribution is an artefact; the event mix is meaningful.")
    L_r, L_s = real.levels, min(s.levels for s in sims)
    if L_r != L_s:
        notes.append(f"Volume by level compared on the first {min(L_r, L_s)} levels (real {L_r}, simulated {L_s}).")
    short = [n for n, v in (("5-min kurtosis", ss["kurtosis_5min"]), ("1-min kurtosis", ss["kurtosis_1min"]))
             if not math.isfinite(v)]
    if short:
        notes.append(f"Too few simulated returns for: {', '.join(short)} (simulate longer).")
    notes.append("Bootstrap intervals are percentile intervals; for tail statistics (kurtosis) they may lie below "
                 "the full-sample figure, which a few extreme returns drive.")

    data = {
        "real": real.describe(),
        "simulated": [s.describe() for s in sims],
        "seed": _seed_label(seed),
        "bootstrap": {"method": "circular block bootstrap in time, percentile intervals", "replicates": int(replicates),
                      "block_s": min(int(block_ns), real.duration_ns // 2) / NS, "level": 0.95},
        "targets": targets,
        "facts": facts_rows,
        "distances": dist_rows,
        "real_facts": real_f,
        "simulated_facts": sim_f,
        "real_intervals": ivs,
        "notes": notes,
    }
    return RealismReport(_clean(data))


# ------------------------------------------------------------------------------------------------- figure
def _arr(v) -> np.ndarray:
    return np.array([_num(x) for x in v], dtype=np.float64)


def _figure(d: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rf, sf, iv = d["real_facts"], d["simulated_facts"], d["real_intervals"]
    real_c, sim_c = "tab:blue", "tab:orange"
    fig, axes = plt.subplots(2, 4, figsize=(22, 9.5))
    (a_sp, a_vol, a_acf, a_abs), (a_iet, a_mix, a_sig, a_txt) = axes

    def band(ax, x, name, **kw):
        lo, hi = _arr(iv[name][0]), _arr(iv[name][1])
        n = min(len(x), len(lo))
        ax.fill_between(x[:n], lo[:n], hi[:n], color=real_c, alpha=0.2, label="real 95% interval", **kw)

    # spread distribution
    edges = rf["spread"]["edges_ticks"]
    x = np.arange(len(edges))
    w = 0.4
    a_sp.bar(x - w / 2, _arr(rf["spread"]["hist"]), w, color=real_c, label="real")
    a_sp.bar(x + w / 2, _arr(sf["spread"]["hist"]), w, color=sim_c, label="simulated")
    lo, hi = _arr(iv["spread_hist"][0]), _arr(iv["spread_hist"][1])
    mid = _arr(rf["spread"]["hist"])
    a_sp.errorbar(x - w / 2, mid, yerr=[np.clip(mid - lo, 0, None), np.clip(hi - mid, 0, None)], fmt="none",
                  ecolor="k", lw=0.8, capsize=2)
    a_sp.set_xticks(x, [f"{e}" if i < len(edges) - 1 else f"{e}+" for i, e in enumerate(edges)], rotation=60,
                    fontsize=7)
    a_sp.set(title="spread distribution", xlabel="spread (ticks, bin lower edge)", ylabel="share of samples")
    a_sp.legend(fontsize=8)

    # volume by level
    L = min(rf["volume_by_level"]["levels"], sf["volume_by_level"]["levels"])
    lv_r, lv_s = rf["volume_by_level"]["levels"], sf["volume_by_level"]["levels"]
    xr, xs = np.arange(1, lv_r + 1), np.arange(1, lv_s + 1)
    a_vol.plot(xr, _arr(rf["volume_by_level"]["both"]), "o-", color=real_c, label="real")
    band(a_vol, xr.astype(float), "volume_both")
    a_vol.plot(xs, _arr(sf["volume_by_level"]["both"]), "s-", color=sim_c, label="simulated")
    a_vol.set(title=f"mean volume by level (profile, both sides; TV on {L} levels)", xlabel="level (1 = best)",
              ylabel="share of the volume in view")
    a_vol.legend(fontsize=8)

    # acf
    lags = np.asarray(rf["acf"]["lags"], float)
    for ax, key, name, title in ((a_acf, "r", "acf_r", "autocorrelation of 1-min returns"),
                                 (a_abs, "abs_r", "acf_abs_r", "autocorrelation of |1-min returns|")):
        ax.axhline(0, color="grey", lw=0.8)
        band(ax, lags, name)
        ax.plot(lags, _arr(rf["acf"][key]), "o-", color=real_c, label="real")
        ax.plot(lags, _arr(sf["acf"][key]), "s-", color=sim_c, label="simulated")
        ax.set(title=title, xlabel="lag (minutes)", ylabel="autocorrelation")
        ax.set_xticks(lags)
        ax.legend(fontsize=8)

    # inter-event times
    if rf["inter_event"]["available"] or sf["inter_event"]["available"]:
        for f, c, lab in ((rf, real_c, "real"), (sf, sim_c, "simulated")):
            if f["inter_event"]["available"]:
                e = np.asarray(f["inter_event"]["edges_s"], float)
                centres = np.r_[0.5e-6, np.sqrt(e[1:-1] * e[2:]), e[-1] * 3]
                a_iet.plot(centres, _arr(f["inter_event"]["hist"]), "o-", color=c, label=lab)
        if rf["inter_event"]["available"]:
            e = np.asarray(rf["inter_event"]["edges_s"], float)
            band(a_iet, np.r_[0.5e-6, np.sqrt(e[1:-1] * e[2:]), e[-1] * 3], "iet_hist")
        a_iet.set_xscale("log")
        a_iet.legend(fontsize=8)
    else:
        a_iet.text(0.5, 0.5, "not available (no events)", ha="center", va="center", transform=a_iet.transAxes)
    a_iet.set(title="inter-event time distribution", xlabel="time to the next event (s; first bin: < 1 µs)",
              ylabel="share of gaps")

    # event mix
    names = list(EVENT_NAMES)
    x = np.arange(len(names))
    for f, c, off, lab in ((rf, real_c, -w / 2, "real"), (sf, sim_c, w / 2, "simulated")):
        if f["event_mix"]["available"]:
            a_mix.bar(x + off, _arr(f["event_mix"]["shares"]), w, color=c, label=lab)
        else:
            a_mix.text(0.5, 0.9 if lab == "real" else 0.8, f"{lab}: not available (no events)", ha="center",
                       transform=a_mix.transAxes)
    a_mix.set_xticks(x, [n.replace("_", "\n") for n in names], fontsize=8)
    a_mix.set(title="event-type mix", ylabel="share of events")
    a_mix.legend(fontsize=8)

    # signature plot
    dt = np.asarray(rf["signature"]["interval_s"], float)
    band(a_sig, dt, "rv_per_hour")
    a_sig.plot(dt, _arr(rf["signature"]["rv_per_hour"]), "o-", color=real_c, label="real")
    a_sig.plot(dt, _arr(sf["signature"]["rv_per_hour"]), "s-", color=sim_c, label="simulated")
    a_sig.set_xscale("log")
    a_sig.set(title="signature plot", xlabel="sampling interval (s)", ylabel="realised variance per hour")
    a_sig.legend(fontsize=8)

    # targets
    a_txt.axis("off")
    text = ["Targets"]
    for t in d["targets"]:
        text.append(f"{t['name']}: {_fmt(t['value'])}  ({t['target']})  {_met(t['met']).replace('*', '')}")
    text.append("")
    text.append(f"real: {d['real']['hours']:.2f} h; simulated: {len(d['simulated'])} record(s), "
                f"{sum(s['hours'] for s in d['simulated']):.2f} h")
    k_r, k_s = rf["returns"]["1min"]["kurtosis"], sf["returns"]["1min"]["kurtosis"]
    text.append(f"kurtosis 1 min: real {_fmt(k_r)}, simulated {_fmt(k_s)}")
    k_r, k_s = rf["returns"]["5min"]["kurtosis"], sf["returns"]["5min"]["kurtosis"]
    text.append(f"kurtosis 5 min: real {_fmt(k_r)}, simulated {_fmt(k_s)}")
    a_txt.text(0.0, 1.0, "\n".join(text), va="top", ha="left", family="monospace", fontsize=9,
               transform=a_txt.transAxes)
    fig.suptitle("Market realism: real vs simulated (shaded / bars: real 95% block-bootstrap interval)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
