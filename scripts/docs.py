"""Docs that are true and stay true: the CLI reference, the benchmark figures, the code blocks.

    python scripts/docs.py                  # regenerate docs/cli.md and re-render every figure section
    python scripts/docs.py cli              # docs/cli.md only (from lobkit.cli.main)
    python scripts/docs.py figures          # the figure sections only (from benchmarks/results/*.json)
    python scripts/docs.py check            # exit 1 when docs/cli.md or a figure section is stale
    python scripts/docs.py blocks           # list the fenced code blocks of the docs and how the test runs them
    python scripts/docs.py bench [NAME ...] # run benchmarks one at a time (engine simulate sweep ingest
                                            # coupling), write benchmarks/results/NAME.json, re-render the figures

**Figures.** Every benchmark writes its latest JSON object, with its date, machine and load average, to
``benchmarks/results/NAME.json`` (committed). A doc shows figures only between a begin and an end marker::

    <!-- figures: benchmarks/results/engine.json -->
    ...                                        (rendered: never edit by hand)
    <!-- end figures (rendered by python scripts/docs.py figures) -->

The text after ``figures:`` names a view of :data:`VIEWS` (``benchmarks/results/engine.json``,
``benchmarks/results/engine.json replay``, ``benchmarks/results/ingest.json``, ``benchmarks/results/sweep.json``,
``benchmarks/results/simulate.json``, ``benchmarks/results/coupling.json``, ``performance`` for README's table).
A begin marker without an end marker
gets one on the first render. Targets are read from the JSON (each benchmark script states its own) and met or
missed is computed from the figures. ``tests/test_docs.py`` checks that every rendered section equals what
this script renders from the committed JSON, and that no text outside them holds a hand-typed figure.

**CLI reference.** ``docs/cli.md`` is every command's ``--help`` (click's own text, as a terminal shows it), in the
manner of sqlite-utils' ``docs/cli-reference``; the test fails when it is stale or when a command, option or
argument has no help text.

**Code blocks.** Every fenced block of README.md and docs/*.md is run by ``tests/test_docs.py`` (python: in a
namespace of its own, in a fresh temporary working directory; bash: the block through ``bash -e`` in
such a directory, with the venv's ``lobkit`` first on PATH and ``../shared/data`` a link to the shared data;
toml: parsed). An HTML comment on the line(s) right before a fence says when a block runs otherwise:

    <!-- docs-test: skip (why it cannot run in a test) -->
    <!-- docs-test: replace "--repeats 8" => "--repeats 2", "1h" => "10min" (why: a cheaper equivalent run) -->
    <!-- docs-test: session NAME --> blocks of one doc with the same NAME share their working directory and
                                     Python namespace, in order (a reader's session); others get fresh ones
    <!-- docs-test: file NAME -->    the block is a file's content: written as NAME in the (session's) working
                                     directory, compiled when it is Python, not run
    <!-- docs-test: tsdb -->         needs TimescaleDB: the test starts a real server, every postgresql:// URL
                                     of the block becomes its DSN (a fresh database), `docker compose` lines
                                     are not run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLI_DOC = ROOT / "docs" / "cli.md"
CLI_WIDTH = 78  # what click prints in any terminal of 80 columns or more (its default max_content_width is 80)


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every docs/*.md, in a fixed order."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def rel(path: Path, root: Path = ROOT) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


class DocsError(Exception):
    """A doc, a marker or a results file that cannot be used: the message names it."""


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------

BEGIN_RE = re.compile(r"^<!-- figures: (?P<key>.+?) -->[ \t]*$", re.M)
END_MARK = "<!-- end figures (rendered by python scripts/docs.py figures) -->"
END_RE = re.compile(r"^<!-- end figures\b.*-->[ \t]*$", re.M)


def load_result(name: str, results: Path = RESULTS) -> dict:
    """The committed JSON of benchmark ``name`` (``engine``, ``ingest``, ``simulate``, ``sweep``)."""
    p = results / f"{name}.json"
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise DocsError(f"{rel(p)}: missing; run `python scripts/docs.py bench {name}`") from None
    except (OSError, ValueError) as exc:
        raise DocsError(f"{rel(p)}: not a readable JSON object ({exc})") from None


def need(j: dict, key: str):
    """``j[key]``, or an error naming the benchmark and the key (a results file from an older script)."""
    v = j.get(key)
    if v is None:
        raise DocsError(f"benchmarks/results/{j.get('_name', '?')}.json has no {key!r}: rerun that benchmark")
    return v


def m_rate(v: float, unit: str) -> str:
    """``39.3 M orders/s``."""
    return f"{v / 1e6:.1f} M {unit}/s"


def k_rate(v: float, unit: str) -> str:
    """``38,152 snapshots/s``."""
    return f"{v:,.0f} {unit}/s"


def secs(v: float) -> str:
    return f"{v:.1f} s" if v < 100 else f"{v:,.0f} s"


def times(v: float) -> str:
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def judged(label: str, value: float, target: float, show: Callable[[float], str], at_most: bool = False,
           shown: str | None = None) -> list[str]:
    """A table row: what, the figure (``shown``, else ``show(value)``), the target, met or missed (computed)."""
    ok = value <= target if at_most else value >= target
    return [label, shown if shown is not None else show(value), ("at most " if at_most else "") + show(target),
            verdict(ok)]


def date_of(j: dict) -> str:
    """``2026-11-24 09:30 UTC`` from the JSON's ISO 8601 date."""
    d = dt.datetime.fromisoformat(str(need(j, "date")).replace("Z", "+00:00"))
    return d.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def load_of(j: dict) -> str:
    before, after = need(j, "load_average_1min")
    return f"load average {before:.1f} before, {after:.1f} after"


def machine_fields(m: dict) -> dict:
    """The machine dicts of the benchmarks, under one set of names."""
    return {
        "cpu": m.get("cpu_model"),
        "cpus": m.get("cpu_count") or m.get("logical_cpus") or m.get("cores"),
        "memory": m.get("memory_gb") or m.get("memory_gib"),
        "os": m.get("os") or m.get("system"),
        "python": m.get("python"),
        "numpy": m.get("numpy"),
        "numba": m.get("numba"),
    }


def machine_text(*results: dict) -> str:
    """One description of the machine(s) the results were measured on (their fields merged)."""
    merged: dict = {}
    for j in results:
        for k, v in machine_fields(need(j, "machine")).items():
            if v is not None:
                merged.setdefault(k, v)
    cpus = {machine_fields(j["machine"])["cpu"] for j in results}
    parts = [" / ".join(sorted(str(c) for c in cpus if c)) or "unknown CPU"]
    if merged.get("cpus"):
        parts.append(f"{merged['cpus']} logical CPUs")
    if merged.get("memory"):
        parts.append(f"{merged['memory']:g} GiB")
    for k, label in (("os", ""), ("python", "Python "), ("numpy", "NumPy "), ("numba", "Numba ")):
        if merged.get(k):
            parts.append(f"{label}{merged[k]}")
    return ", ".join(parts)


def provenance(j: dict, source: str) -> str:
    return f"Measured {date_of(j)} on {machine_text(j)}; {load_of(j)} (`{source}`)."


def table(header: list[str], rows: list[list[str]], align: str) -> str:
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def judged_table(rows: list[list[str]]) -> str:
    return table(["what", "measured", "target", ""], rows, "lrrl")


def _streams(e: dict) -> list[tuple[str, str, str]]:
    """(kind, unit of its keys, label) of the engine's three streams, described from the JSON."""
    mix, match = need(e, "mix_shares"), need(e, "match_shares")
    return [("liquibook", "orders", "liquibook's 5M-limit-order stream"),
            ("mix", "messages", f"exchange-core-style mix ({mix['modify']:.0%} modify-price, {mix['trade']:.0%} "
                                "of messages trade)"),
            ("match", "messages", f"high-match stream ({match['trade']:.0%} of messages trade)")]


def _short(unit: str) -> str:
    return "orders" if unit == "orders" else "msgs"


def _engine_rows(e: dict) -> list[list[str]]:
    t = need(e, "targets")
    rows = []
    for kind, unit, label in _streams(e):
        key = f"{kind}_{unit}_per_s"
        u = _short(unit)
        ref = need(e, f"reference_{kind}_{unit}_per_s")
        rows.append([label, m_rate(need(e, key), u), m_rate(need(e, f"{kind}_apply_{unit}_per_s"), u),
                     times(need(e, f"{kind}_apply_vs_kernel")), f"{ref / 1e6:.2f} M {u}/s", m_rate(t[key], u),
                     verdict(e[key] >= t[key])])
    return rows


def _replay_label(e: dict) -> str:
    """``AMZN_2012-06-21_5, 155,935 messages`` from the benchmark's note on the file."""
    m = re.match(r"LOBSTER_SampleFile_(\S+?)\.zip: (\d+) messages", e.get("replay_file") or "")
    return f"{m.group(1)}, {int(m.group(2)):,} messages" if m else (e.get("replay_file") or "largest shared file")


def _reference_range(e: dict) -> str:
    ref = [e[f"reference_{k}_{u}_per_s"] for k, u, _ in _streams(e)]
    speed = [e[f"{k}_speedup_vs_reference"] for k, _, _ in _streams(e)]
    return (f"{min(ref) / 1e6:.2f}-{max(ref) / 1e6:.2f} M msgs/s (the engine {min(speed):,.0f}-{max(speed):,.0f}x "
            "as fast)")


def view_engine(load: Callable[[str], dict]) -> str:
    e = load("engine")
    t = need(e, "targets")
    rp = need(e, "replay_messages_per_s")
    rows = [*_engine_rows(e), [f"LOBSTER replay ({_replay_label(e)})", m_rate(rp, "msgs"), "", "", "",
                               m_rate(t["replay_messages_per_s"], "msgs"), verdict(rp >= t["replay_messages_per_s"])]]
    ratio, ratio_max = need(e, "liquibook_apply_vs_kernel"), t["liquibook_apply_vs_kernel_at_most"]
    out = [provenance(e, "benchmarks/results/engine.json") + f" One core, best of {e['runs']} runs.", "",
           table(["stream", "bare kernel", "`OrderBook.apply`", "kernel / apply", "`ReferenceBook`", "target", ""],
                 rows, "lrrrrrl"), "",
           f"`OrderBook.apply` on the liquibook stream: the bare kernel is {times(ratio)} as fast (target: at most "
           f"{ratio_max:g}x, {verdict(ratio <= ratio_max)}). `ReferenceBook` ran the first "
           f"{need(e, 'reference_prefix'):,} messages of each stream. The liquibook stream gave exactly "
           f"{e['liquibook_fills']:,} fills and {e['liquibook_shares']:,} shares."]
    if e.get("compile_seconds_cold") is not None:
        out.append(f"Compile (a fresh interpreter running every engine kernel once): {secs(e['compile_seconds_cold'])} "
                   f"with an empty cache, {secs(e['compile_seconds_warm'])} from the cache.")
    return "\n".join(out)


def view_replay(load: Callable[[str], dict]) -> str:
    e = load("engine")
    t = need(e, "targets")
    out = [provenance(e, "benchmarks/results/engine.json"), "",
           judged_table([judged(f"replay, book maintenance only ({_replay_label(e)})",
                                need(e, "replay_messages_per_s"), t["replay_messages_per_s"],
                                lambda v: m_rate(v, "msgs"))])]
    if e.get("compile_seconds_cold") is not None:
        out += ["", f"Compile of the engine's kernels: {secs(e['compile_seconds_cold'])} cold (empty cache), "
                    f"{secs(e['compile_seconds_warm'])} warm (loaded from the cache)."]
    return "\n".join(out)


def _ingest_limit(g: dict) -> str:
    """What bounds migration: CPU per snapshot over the machine's cores."""
    cpu, srv = g.get("migrate_client_cpu_s"), g.get("migrate_server_cpu_s")
    if cpu is None or srv is None:
        return ""
    cores = machine_fields(g["machine"])["cpus"] or 1
    per = (cpu + srv) / g["snapshots"]
    want = g["targets"]["speedup_vs_naive"]
    return (f"CPU per migrated snapshot: {per * 1e6:.0f} us ({cpu:.1f} s of the client and {srv:.1f} s of the "
            f"server for {g['snapshots']:,} snapshots), which caps migration on {cores} cores near "
            f"{k_rate(cores / per, 'snapshots')} even with perfect overlap; {want:g}x the naive loop would need "
            f"{k_rate(want * g['naive_snapshots_per_s'], 'snapshots')}.")


def _ingest_rows(g: dict) -> list[list[str]]:
    t = need(g, "targets")
    snaps = lambda v: k_rate(v, "snapshots")  # noqa: E731
    return [
        judged(f"`migrate`: SQLite -> TimescaleDB, {g['snapshots']:,} {g['levels']}-level snapshots, binary COPY on "
               f"{g['connections']} connections", need(g, "migrate_snapshots_per_s"), t["migrate_snapshots_per_s"],
               snaps),
        judged(f"`migrate` against a naive row-by-row INSERT loop ({snaps(need(g, 'naive_snapshots_per_s'))})",
               need(g, "speedup_vs_naive"), t["speedup_vs_naive"], times),
        judged(f"streaming back to Polars chunks of {g['chunk_size']:,} (packed levels)",
               need(g, "read_snapshots_per_s"), t["read_snapshots_per_s"], snaps,
               shown=f"{snaps(g['read_snapshots_per_s'])}, peak RSS {g['read_peak_mb']:,.0f} MB "
                     f"({g['read_rss_after_imports_mb']:,.0f} MB of it imports)"),
    ]


def view_ingest(load: Callable[[str], dict]) -> str:
    g = load("ingest")
    rows = _ingest_rows(g)
    rows.insert(3, ["the same reader to numpy book arrays", k_rate(need(g, "read_to_arrays_snapshots_per_s"),
                                                                    "snapshots"), "", ""])
    out = [provenance(g, "benchmarks/results/ingest.json") + f" Best of {g['repeat']} runs; server: "
                                                              f"{g.get('server', '?')}.", "", judged_table(rows)]
    limit = _ingest_limit(g)
    return "\n".join(out + (["", limit] if limit else []))


def _big_sweep(s: dict) -> tuple[str, int, str]:
    """The big sweep's key, configurations and thousands of events per simulation."""
    for k in s:
        m = re.fullmatch(r"sweep_(\d+)x(\d+)k_seconds", k)
        if m:
            return k, int(m.group(1)), m.group(2)
    raise DocsError("benchmarks/results/sweep.json has no sweep_<N>x<K>k_seconds: run it with --big")


def _sweep_rows(s: dict) -> list[list[str]]:
    t = need(s, "targets")
    big, n_big, k_ev = _big_sweep(s)
    return [
        judged(f"sweep throughput, ~{s['events_per_sim']:,.0f}-event simulations, 1 -> 2 workers",
               need(s, "sweep_scaling"), t["sweep_scaling"], times,
               shown=f"{need(s, 'sweep_sims_per_s_1'):.1f} -> {need(s, 'sweep_sims_per_s_2'):.1f} sims/s "
                     f"({times(s['sweep_scaling'])}; {s['cores_used_2']:.2f} cores used)"),
        judged(f"sweep of {n_big:,} configurations of ~{k_ev}k-event simulations, 2 fresh workers, heatmap included",
               need(s, big), t[big], secs, at_most=True),
    ]


def view_sweep(load: Callable[[str], dict]) -> str:
    s = load("sweep")
    rows = [*_sweep_rows(s), ["worker start-up (spawn, imports, Numba cache)",
                              secs(need(s, "worker_startup_seconds")), "", ""]]
    return "\n".join([provenance(s, "benchmarks/results/sweep.json") + f" {s['parameters']['configs']} "
                      "configurations, the fastest of the alternating 1- and 2-worker rounds.", "",
                      judged_table(rows)])


def _simulate_rows(m: dict) -> list[list[str]]:
    t = need(m, "targets")
    rows = [judged("full simulation: Hawkes background flow + momentum agent + matching + accounting",
                   need(m, "sim_events_per_s"), t["sim_events_per_s"], lambda v: m_rate(v, "events"))]
    if "sim_events_per_s_nhp" in m:
        rows += [
            judged(f"the same on the learned market (`--flow nhp:`, GRU of {m['nhp_hidden']} units in the jitted loop, "
                   f"{m['events_per_run_nhp']:,} events)", m["sim_events_per_s_nhp"], t["sim_events_per_s_nhp"],
                   lambda v: m_rate(v, "events")),
            judged(f"the same on the calibrated market (`--flow calibrated:`, {m['events_per_run_calibrated']:,} "
                   f"events): its speed over the parametric flow's", m["calibrated_vs_hawkes"],
                   t["calibrated_vs_hawkes"], times,
                   shown=f"{m['calibrated_vs_hawkes']:.3f}x ({m_rate(m['sim_events_per_s_calibrated'], 'events')})"),
            judged("sweep over the learned market, 1 -> 2 workers", m["sweep_scaling_nhp"], t["sweep_scaling_nhp"],
                   times),
        ]
    return rows


def view_simulate(load: Callable[[str], dict]) -> str:
    m = load("simulate")
    rows = _simulate_rows(m)
    rows[0][0] += f" ({m['simulated']} simulated, {m['events_per_run']:,} events, best of {m['repeat']})"
    rows += [["the jitted loop alone", m_rate(need(m, "loop_events_per_s"), "events"), "", ""],
             [f"simulations of ~{m['events_per_small_sim']:,} events, one core",
              f"{need(m, 'sims_per_s_100k'):.1f} sims/s", "", ""]]
    if m.get("compile_seconds_cold") is not None:
        rows.append(["compile, engine + simulator: cold (empty cache) / warm",
                     f"{secs(m['compile_seconds_cold'])} / {secs(m['compile_seconds_warm'])}", "", ""])
    return "\n".join([provenance(m, "benchmarks/results/simulate.json"), "", judged_table(rows)])


def view_performance(load: Callable[[str], dict]) -> str:
    """README's table: the headline figures of every benchmark, with their targets."""
    e, m, s, g, t = load("engine"), load("simulate"), load("sweep"), load("ingest"), load("train")
    h, ui, dm = load("nhp"), load("gui"), load("demo")
    te = need(e, "targets")
    msgs = lambda v: m_rate(v, "msgs")  # noqa: E731
    streams = {k: label for k, _, label in _streams(e)}
    rows = [
        judged(f"{streams['liquibook']} (exactly {e['liquibook_fills']:,} fills, {e['liquibook_shares']:,} shares)",
               need(e, "liquibook_orders_per_s"), te["liquibook_orders_per_s"], lambda v: m_rate(v, "orders")),
        judged("the same through `OrderBook.apply` (the facade users call): the bare kernel's speed over it",
               need(e, "liquibook_apply_vs_kernel"), te["liquibook_apply_vs_kernel_at_most"], times, at_most=True,
               shown=f"{times(e['liquibook_apply_vs_kernel'])} "
                     f"({m_rate(need(e, 'liquibook_apply_orders_per_s'), 'orders')})"),
        judged(f"LOBSTER replay ({_replay_label(e)}, book maintenance only)", need(e, "replay_messages_per_s"),
               te["replay_messages_per_s"], msgs),
        judged(streams["mix"], need(e, "mix_messages_per_s"), te["mix_messages_per_s"], msgs),
        judged(streams["match"], need(e, "match_messages_per_s"), te["match_messages_per_s"], msgs),
        ["the three streams through the plain-Python `ReferenceBook` (a prefix of each)", _reference_range(e), "", ""],
        *_simulate_rows(m),
        *_sweep_rows(s),
        *_ingest_rows(g),
        *_train_rows(t),
        judged(f"neural Hawkes process training on LOBSTER (AMZN level 5), over EasyTPP's NHP "
               f"({need(h, 'lobster')['nhp_train_events_per_s']:,.0f} vs "
               f"{h['lobster']['easytpp_train_events_per_s']:,.0f} events/s)", h["lobster"]["speedup"],
               need(h, "targets")["speedup"], times),
        *_gui_rows(ui),
        *_demo_rows(dm),
    ]
    if e.get("compile_seconds_cold") is not None and m.get("compile_seconds_cold") is not None:
        rows.append(["Numba compile, cold (empty cache) / warm start: engine; engine + simulator",
                     f"{secs(e['compile_seconds_cold'])} / {secs(e['compile_seconds_warm'])}; "
                     f"{secs(m['compile_seconds_cold'])} / {secs(m['compile_seconds_warm'])}", "", ""])
    dates = "; ".join(f"{name} {date_of(j)}, {load_of(j)}"
                      for name, j in (("engine", e), ("simulator", m), ("sweeps", s), ("ingest", g), ("training", t),
                                      ("neural Hawkes", h), ("GUI", ui), ("demo", dm)))
    out = [f"Measured on this project's machine ({machine_text(e, m, s, g, t, h, ui, dm)}), one run of each benchmark "
           f"({dates}; "
           "the cores are shared with other work). Engine and simulator figures are on one core after JIT warm-up, "
           "with the engine's full bookkeeping on (order ids, owners, a fill record per fill).", "",
           judged_table(rows)]
    limit = _ingest_limit(g)
    return "\n".join(out + (["", "Migration is bound by CPU. " + limit] if limit else []))


def view_coupling(load: Callable[[str], dict]) -> str:
    """docs/simulator.md: how much of a comparison is impact (benchmarks/coupling.py), per flow model."""
    c = load("coupling")
    t = need(c, "targets")
    p = need(c, "parameters")
    lots = p["lots"]
    out = [provenance(c, "benchmarks/results/coupling.json") + f" Impulse responses over {p['pairs']} seed pairs "
           f"per size, the momentum comparison over {p['repeats']} one-hour pairs.", ""]
    def means(r: dict, lag: str) -> str:
        return " / ".join(f"{r[f'impulse_{q}_mean_ticks_{lag}']:+.2f}" for q in lots) + " ticks"

    for flow, r in need(c, "flows").items():
        shape_ok = r["impulse_increasing"] and r["impulse_concave"]
        rows = [
            judged(f"`--flow {flow}`: one 1-lot market order, standard deviation across pairs of the mid difference "
                   "10 min later", r["impulse_1_sd_ticks_600s"], t["impulse_1_sd_ticks_600s_at_most"],
                   lambda v: f"{v:.2f} ticks", at_most=True),
            [f"mean mid difference 10 min after one order of {' / '.join(map(str, lots))} lots", means(r, "600s"),
             "increasing, concave", verdict(shape_ok)],
            ["the same 1 s and 1 min after the order", f"{means(r, '1s')}; {means(r, '60s')}", "", ""],
            judged("momentum strategy's comparison: variance of pnl - paper pnl over that of independent seeds",
                   r["momentum_variance_ratio"], t["momentum_variance_ratio_at_most"], lambda v: f"{v:.3f}",
                   at_most=True),
            ["its mean impact cost (paper PnL - PnL) and mean absolute final mid difference",
             f"{r['momentum_impact_cost_mean']:+.3f}; {r['momentum_mid_diff_final_abs_ticks']:.2f} ticks", "", ""],
        ]
        out.append(judged_table(rows))
    return "\n".join(out)


def _train_rows(t: dict) -> list[list[str]]:
    """The WGAN's speed and time-to-target rows (benchmarks/train.py)."""
    tg, cpu = need(t, "targets"), need(t, "cpu")
    rows = [[f"WGAN-GP training, default configuration ({t['torch_threads']} torch threads)",
             f"{need(t, 'wgan_steps_per_s'):.2f} steps/s ({cpu['default']['training_images_per_s']:,} training "
             f"images/s)", "", ""],
            ["WGAN-GP training, small configuration", f"{cpu['small']['steps_per_s']:.2f} steps/s", "", ""]]
    if t.get("cuda"):
        rows.append(["WGAN-GP training on CUDA, default configuration", f"{t['cuda']['default']['steps_per_s']:.2f} "
                     "steps/s", "", ""])
    three = lambda v: f"{v:.3f}"  # noqa: E731
    if t.get("default_c2st") is not None:
        rows += [
            judged(f"default configuration: classifier two-sample test after {secs(t['default_seconds'])} of training "
                   f"({t['default']['final']['step']:,} steps; at most {tg['default_seconds_at_most']:.0f} s)",
                   t["default_c2st"], tg["default_c2st_at_most"], three, at_most=True),
            judged("default configuration: correlation distance of the level volumes, below both naive references "
                   f"(theirs: {t['default']['final']['corr_distance_independent']:.3f} independent, "
                   f"{t['default']['final']['corr_distance_gaussian']:.3f} Gaussian)", t["default_corr_distance"],
                   min(t["default"]["final"]["corr_distance_independent"],
                       t["default"]["final"]["corr_distance_gaussian"]), three, at_most=True),
            judged("default configuration: nearest-neighbour ratio (below 0.8: memorisation)", t["default_nn_ratio"],
                   tg["default_nn_ratio"], lambda v: f"{v:.2f}"),
            judged(f"small configuration: classifier two-sample test after {secs(t['small_seconds'])} of training "
                   f"({t['small']['final']['step']:,} steps; at most {tg['small_seconds_at_most']:.0f} s)",
                   t["small_c2st"], tg["small_c2st_at_most"], three, at_most=True),
        ]
    return rows


def _demo_rows(d: dict) -> list[list[str]]:
    """``make demo``'s wall times (benchmarks/demo.py)."""
    tg = need(d, "targets")
    data = "the real Bitstamp book" if d.get("real_data") else "synthetic data"
    s = lambda v: f"{v:.0f} s" if v < 100 else f"{v / 60:.1f} min"  # noqa: E731
    return [
        judged(f"`make demo` on a fresh clone, on {data} (virtual environment, installs, cold Numba compiles, "
               f"every step, the report)", need(d, "fresh_clone_seconds"), tg["fresh_clone_seconds"], s,
               at_most=True),
        judged("`make demo` again (every step reused, the report re-rendered)", need(d, "second_run_seconds"),
               tg["second_run_seconds"], s, at_most=True),
    ]


def _gui_rows(g: dict) -> list[list[str]]:
    """The Algo-Gym's responsiveness rows (benchmarks/gui.py)."""
    tg = need(g, "targets")
    ms = lambda v: f"{v:.0f} ms"  # noqa: E731
    run = f"a {g['duration']} full-speed run, {g['events_per_run']:,} events"
    return [
        judged(f"Algo-Gym: largest gap of a {g['tick_ms']} ms `after` ticker, {run}, Live tab on screen",
               need(g, "ticker_max_gap_ms_live"), tg["ticker_max_gap_ms_live"], ms, at_most=True),
        judged("the same with the Analysis tab's live plot on screen", need(g, "ticker_max_gap_ms_analysis"),
               tg["ticker_max_gap_ms_analysis"], ms, at_most=True),
        judged(f"Algo-Gym: Stop to the worker's end (largest of {len(g['stop_latency_ms_all'])} runs stopped "
               f"mid-way; median {g['stop_latency_ms_median']:.0f} ms)", need(g, "stop_latency_ms_max"),
               tg["stop_latency_ms_max"], ms, at_most=True),
        [f"the same run in the window / headless `lobkit.run` ({secs(g['gui_wall_s_live'])} / "
         f"{secs(g['headless_wall_s'])})", times(need(g, "gui_over_headless")), "", ""],
    ]


def view_gui(load: Callable[[str], dict]) -> str:
    g = load("gui")
    return "\n".join([provenance(g, "benchmarks/results/gui.json"), "", judged_table(_gui_rows(g))])


def view_train(load: Callable[[str], dict]) -> str:
    """docs/training.md: the WGAN's speed, its evaluation over training time, and the references."""
    t = load("train")
    out = [provenance(t, "benchmarks/results/train.json") + " Training time excludes reading the data and the "
           "evaluations; each evaluation generates as many books as are held out (1,000).", "",
           judged_table(_train_rows(t))]
    d = t.get("default")
    if d:
        out += ["", "The default configuration's evaluation along its training (one run, evaluated every "
                f"{d['curve'][0]['step']:,} steps):", "",
                table(["step", "training time", "c2st", "corr distance", "nn ratio", "one-sided books"],
                      [[f"{p['step']:,}", secs(p["train_seconds"]), f"{p['c2st']:.3f}", f"{p['corr_distance']:.3f}",
                        f"{p['nn_ratio']:.2f}", f"{p['generated_one_sided']} of {p['n_generated']}"]
                       for p in d["curve"]], "rrrrrr"),
                "", "References on the same held-out books: real training books "
                f"{d['final']['c2st_real']:.3f} (correlation distance {d['final']['corr_distance_real']:.3f}), "
                f"levels drawn independently {d['final']['c2st_independent']:.3f} "
                f"({d['final']['corr_distance_independent']:.3f}), per-level Gaussian "
                f"{d['final']['c2st_gaussian']:.3f} ({d['final']['corr_distance_gaussian']:.3f}); the same real "
                f"books across a plain time split (the last fifth held out): {d['final']['c2st_real_time_split']:.3f}."]
        m = d["final"]["marginals"]
        keys = [k for k in ("spread", "imbalance_5", "bid_volume_1", "ask_volume_1", "depth_10") if k in m]
        out += ["", "Marginals of the final model (total variation between histograms on common bins; Wasserstein-1 "
                "over the pooled standard deviation), against held-out real books:", "",
                table(["marginal", "TV", "W1 / sd"], [[k.replace("_", " "), f"{m[k]['tv']:.3f}",
                                                       f"{m[k]['w1_std']:.3f}"] for k in keys], "lrr")]
    return "\n".join(out)


def view_nhp(load: Callable[[str], dict]) -> str:
    """docs/nhp.md: lobkit's neural Hawkes process against EasyTPP's, and on the real streams."""
    j = load("nhp")
    tg = need(j, "targets")
    four = lambda v: f"{v:.4f}"  # noqa: E731
    out = [provenance(j, "benchmarks/results/nhp.json") + f" lobkit trained {j['oracle']['epochs']} epochs, EasyTPP "
           f"{j['oracle']['easytpp_epochs']}, on {j['window']}-event windows with {j['oracle']['torch_threads']} "
           "torch threads; held-out log-likelihood per event on the held-out part's windows, each conditioned on its "
           "own events.", ""]
    rows = []
    for name in ("oracle", "lobster"):
        r = need(j, name)
        label = "Hawkes oracle (3 types)" if name == "oracle" else "LOBSTER AMZN level 5 (6 types)"
        truth = f"; true model {r['true_test_ll']:.4f}" if "true_test_ll" in r else ""
        rows.append(judged(f"{label}: log-likelihood per event, lobkit (EasyTPP NHP {r['easytpp_test_ll']:.4f}, "
                           f"{r['easytpp_test_ll_3201_points']:.4f} with 3,201 points{truth})", r["nhp_test_ll"],
                           r["easytpp_test_ll"], four,
                           shown=f"{r['nhp_test_ll']:.4f}"))
        rows.append(judged(f"{label}: training speed, lobkit over EasyTPP ({r['nhp_train_events_per_s']:,.0f} vs "
                           f"{r['easytpp_train_events_per_s']:,.0f} events/s)", r["speedup"], tg["speedup"], times))
        rows.append([f"{label}: next-type accuracy, lobkit / EasyTPP",
                     f"{r['nhp_type_accuracy']:.3f} / {r['easytpp_type_accuracy']:.3f}", "", ""])
    out.append(judged_table(rows))
    real = j.get("real")
    if real:
        o = real.get("oracle")
        if o:
            out += ["", judged_table([judged(
                f"the oracle check: held-out log-likelihood per event {o['test_ll_per_event']:.4f} against the true "
                f"model's {o['true_test_ll_per_event']:.4f} (whole history; KS p-value of the compensator increments "
                f"{o['ks_pvalue']:.2f})", o["gap_to_truth"], tg["oracle_gap_to_truth_at_most"],
                lambda v: f"{v:.2%} off", at_most=True)])]
        out += ["", "lobkit's model with its default configuration on each stream (held-out last 20% of the "
                "time, conditioned on the whole history):", "",
                table(["stream", "events", "lobkit", "Poisson", "Hawkes (tick)", "type accuracy (majority)",
                       "time RMSE (mean gap's)", "KS p-value", "training"],
                      [[re.sub(r"\S*/", "", r["source"]), f"{r['events']:,}", four(r["test_ll_per_event"]),
                        four(r["poisson_test_ll_per_event"]), four(r["hawkes_test_ll_per_event"]),
                        f"{r['type_accuracy']:.3f} ({r['majority_type_accuracy']:.3f})",
                        f"{r['time_rmse']:.3f} s ({r['mean_gap_rmse']:.3f} s)", f"{r['ks_pvalue']:.2g}",
                        f"{r['train_seconds']:.0f} s"] for r in real.values()], "lrrrrrrrr")]
    return "\n".join(out)


def _g(v) -> str:
    """A fact or distance for a table: 3 significant figures; n/a for None."""
    if v is None:
        return "n/a"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def view_realism(load: Callable[[str], dict]) -> str:
    """docs/market.md: the realism targets and headline facts of the calibrated and neural flows on each market."""
    r = load("realism")
    out = [f"Measured {date_of(r)} on {machine_text(r)} (`benchmarks/results/realism.json`): {r['runs']} simulations "
           "per report, each as long "
           "as the real data, seed " + str(r["seed"]) + "; real figures with their 95% block-bootstrap interval."]
    labels = {"spread_tv": "spread distribution, TV (at most 0.2)", "kurtosis_1min": "kurtosis, 1-min returns "
              "(at least 8)", "abs_acf_mean_lags_1_5": "acf of abs returns, mean of lags 1-5 (at least 0.05)",
              "acf_lag1": "acf of returns, lag 1 (within the real interval)",
              "volume_by_level_tv": "mean volume by level, TV (at most 0.2)"}
    facts = {"spread_q50": "median spread (ticks)", "spread_q90": "90th percentile spread (ticks)",
             "std_1min": "sd of 1-min returns", "kurtosis_5min": "kurtosis, 5-min returns",
             "abs_acf_lag1": "acf of abs returns, lag 1", "iet_q50": "median inter-event time (s)"}
    for m in need(r, "markets").values():
        out += ["", f"**{m['label']}** (calibration {secs(m['calibrate_seconds'])}; neural Hawkes "
                    f"{m['nhp_epochs']} epochs in {secs(m['nhp_train_seconds'])}; lot {m['lot_size']:g})", ""]
        rows = []
        real_of = {t["name"]: t for t in m["calibrated"]["targets"]}
        for name, label in labels.items():
            cal = {t["name"]: t for t in m["calibrated"]["targets"]}[name]
            nn = {t["name"]: t for t in m["nhp"]["targets"]}[name]
            real = m["calibrated"]["facts"].get(name)
            if real is not None:
                real_txt = f"{_g(real['real'])} [{_g(real['real_ci'][0])}, {_g(real['real_ci'][1])}]"
            elif name == "acf_lag1":
                lo, hi = real_of[name]["threshold"]
                real_txt = f"[{_g(lo)}, {_g(hi)}]"
            else:  # a distance: what real against real gives (95th percentile of bootstrap pairs)
                real_txt = f"real vs real: {_g(m['calibrated']['distances'][name]['noise_q95'])}"
            def judged_value(t):
                return f"{_g(t['value'])} " + ("n/a" if t["met"] is None else verdict(bool(t["met"])))

            rows.append([label, real_txt, judged_value(cal), judged_value(nn)])
        for name, label in facts.items():
            f_cal, f_nn = m["calibrated"]["facts"].get(name), m["nhp"]["facts"].get(name)
            if f_cal is None:
                continue
            rows.append([label, f"{_g(f_cal['real'])} [{_g(f_cal['real_ci'][0])}, {_g(f_cal['real_ci'][1])}]",
                         _g(f_cal["simulated"]), _g(f_nn["simulated"])])
        out.append(table(["what", "real", "`calibrated`", "`nhp`"], rows, "lrrr"))
    return "\n".join(out)


#: Marker key -> renderer. A renderer gets ``load(name)`` (the parsed ``benchmarks/results/<name>.json``).
VIEWS: dict[str, Callable[[Callable[[str], dict]], str]] = {
    "benchmarks/results/engine.json": view_engine,
    "benchmarks/results/engine.json replay": view_replay,
    "benchmarks/results/ingest.json": view_ingest,
    "benchmarks/results/sweep.json": view_sweep,
    "benchmarks/results/simulate.json": view_simulate,
    "benchmarks/results/coupling.json": view_coupling,
    "benchmarks/results/train.json": view_train,
    "benchmarks/results/nhp.json": view_nhp,
    "benchmarks/results/realism.json": view_realism,
    "benchmarks/results/gui.json": view_gui,
    "performance": view_performance,
}


@dataclass
class FigureSection:
    key: str
    begin: int  # offset of the begin marker's line
    body_start: int  # offset just after the begin marker's line
    body_end: int | None  # offset of the end marker's line (None: no end marker yet)
    end: int | None  # offset just after the end marker's line


def wrap_prose(text: str, width: int = 115) -> str:
    """Lines of prose wrapped at ``width`` like the hand-written docs around them (tables stay one row a line)."""
    import textwrap

    return "\n".join(line if line.startswith("|") or len(line) <= width else
                     textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                     for line in text.split("\n"))


def figure_sections(text: str, name: str = "doc") -> list[FigureSection]:
    """The figure sections of a doc, in order. Raises :class:`DocsError` for an end marker without a begin, a
    begin inside a section, or an unknown view."""
    out = []
    begins = list(BEGIN_RE.finditer(text))
    ends = list(END_RE.finditer(text))
    for i, b in enumerate(begins):
        key = b.group("key").strip()
        if key not in VIEWS:
            line = text.count("\n", 0, b.start()) + 1
            raise DocsError(f"{name}:{line}: unknown figures view {key!r}; known: {', '.join(VIEWS)}")
        nxt = begins[i + 1].start() if i + 1 < len(begins) else len(text)
        end = next((e for e in ends if b.end() < e.start() < nxt), None)
        body_start = b.end() + 1 if text[b.end():b.end() + 1] == "\n" else b.end()
        after_end = None if end is None else end.end() + (text[end.end():end.end() + 1] == "\n")
        out.append(FigureSection(key, b.start(), body_start, end.start() if end else None, after_end))
    used = {s.body_end for s in out}
    for e in ends:
        if e.start() not in used:
            line = text.count("\n", 0, e.start()) + 1
            raise DocsError(f"{name}:{line}: an end-figures marker without a begin marker before it")
    return out


def render_text(text: str, load: Callable[[str], dict], name: str = "doc") -> str:
    """``text`` with every figure section rendered (end markers added where missing)."""
    parts, pos = [], 0
    cache: dict[str, str] = {}
    for s in figure_sections(text, name):
        if s.key not in cache:
            cache[s.key] = wrap_prose(VIEWS[s.key](load).rstrip("\n"))
        parts.append(text[pos:s.body_start])
        parts.append("\n" + cache[s.key] + "\n\n" + END_MARK + "\n")
        pos = s.end if s.end is not None else s.body_start
    parts.append(text[pos:])
    return "".join(parts)


def strip_figures(text: str) -> str:
    """``text`` without the rendered bodies of its figure sections (markers kept): what a person typed."""
    parts, pos = [], 0
    for s in figure_sections(text):
        parts.append(text[pos:s.body_start])
        pos = s.body_end if s.body_end is not None else s.body_start
    parts.append(text[pos:])
    return "".join(parts)


def loader(results: Path = RESULTS) -> Callable[[str], dict]:
    cache: dict[str, dict] = {}

    def load(name: str) -> dict:
        if name not in cache:
            cache[name] = {**load_result(name, results), "_name": name}
        return cache[name]

    return load


def render_docs(root: Path = ROOT, write: bool = True) -> list[Path]:
    """Render every doc's figure sections; return the docs that changed (written when ``write``)."""
    load = loader(root / "benchmarks" / "results")
    changed = []
    for p in doc_files(root):
        text = p.read_text()
        new = render_text(text, load, rel(p, root))
        if new != text:
            changed.append(p)
            if write:
                p.write_text(new)
    return changed


# ----------------------------------------------------------------------------------------------------------------
# CLI reference
# ----------------------------------------------------------------------------------------------------------------


def walk_commands(group=None, prog: str = "lobkit") -> Iterator[tuple[list[str], object, object]]:
    """Every visible command of the ``lobkit`` group, depth first in name order: ``(path, command, context)``;
    the contexts are chained and fixed at :data:`CLI_WIDTH` columns, so the help text does not depend on the
    terminal."""
    import click

    if group is None:
        from lobkit.cli import main as group

    def rec(cmd, path, parent):
        settings = {**cmd.context_settings, "terminal_width": CLI_WIDTH, "max_content_width": CLI_WIDTH}
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, **settings)
        yield path, cmd, ctx
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from rec(sub, [*path, name], ctx)

    yield from rec(group, [prog], None)


def missing_help(group=None) -> list[str]:
    """What lacks help text: a command without a docstring, an option without ``help``, an argument whose name
    its command's help never mentions."""
    import click

    out = []
    for path, cmd, _ctx in walk_commands(group):
        name = " ".join(path)
        if not (cmd.help or cmd.short_help or "").strip():
            out.append(f"{name}: the command has no help text")
        for p in cmd.params:
            if isinstance(p, click.Option):
                if not p.hidden and not (p.help or "").strip():
                    out.append(f"{name}: option {'/'.join(p.opts)} has no help text")
            elif isinstance(p, click.Argument):
                word = (p.metavar or p.name or "").strip("[].").upper()
                if not re.search(rf"\b{re.escape(word)}\b", cmd.help or "", re.I):
                    out.append(f"{name}: argument {word} is not described in the command's help")
    return out


def cli_reference(group=None) -> str:
    """The text of ``docs/cli.md``."""
    entries = list(walk_commands(group))
    lines = [
        "# Command-line reference",
        "",
        "<!-- generated by `python scripts/docs.py cli` from lobkit.cli.main: do not edit by hand; "
        "tests/test_docs.py fails when it is stale -->",
        "",
        "Every command and option of `lobkit`, exactly as `lobkit COMMAND --help` prints it. Regenerate with "
        "`python scripts/docs.py cli` after changing a command.",
        "",
    ]
    for path, _cmd, _ctx in entries:
        anchor = "-".join(path)
        lines.append(f"{'  ' * (len(path) - 1)}- [{' '.join(path)}](#{anchor})")
    for path, cmd, ctx in entries:
        lines += ["", f"## {' '.join(path)}", "", "```text", cmd.get_help(ctx).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def write_cli_reference(root: Path = ROOT, write: bool = True) -> bool:
    """Regenerate ``docs/cli.md``; True when it changed."""
    p = root / "docs" / "cli.md"
    new = cli_reference()
    old = p.read_text() if p.exists() else None
    if new != old and write:
        p.write_text(new)
    return new != old


# ----------------------------------------------------------------------------------------------------------------
# Code blocks
# ----------------------------------------------------------------------------------------------------------------

FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
MARK_RE = re.compile(r"^[ \t]*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->[ \t]*$")
#: Docs whose blocks are generated and checked as a whole (not run block by block), with the reason.
GENERATED = {"docs/cli.md": "generated from click; test_cli_reference_is_current checks it against every --help"}


@dataclass
class Block:
    """A fenced code block: where it is, its language, its text, and its docs-test directives."""

    doc: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None = None  # the reason, when marked skip
    replace: list[tuple[str, str]] = field(default_factory=list)
    replace_reason: str | None = None
    session: str | None = None
    tsdb: bool = False
    file: str | None = None  # the block is this file's content, written to the working directory (not run)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.code.splitlines() if ln.strip()), "")

    def runnable_code(self) -> str:
        """The code with the ``replace`` directive applied; each OLD must occur in the block."""
        code = self.code
        for old, new in self.replace:
            if old not in code:
                raise DocsError(f"{self.id}: docs-test replace: {old!r} does not occur in the block")
            code = code.replace(old, new)
        return code


def _reason(body: str) -> tuple[str, str | None]:
    """Split ``"... (reason)"`` into the text before the outermost trailing parentheses and the reason."""
    body = body.rstrip()
    if not body.endswith(")"):
        return body, None
    depth = 0
    for i in range(len(body) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(body[i], 0)
        if depth == 0:
            return body[:i].rstrip(), body[i + 1:-1].strip()
    return body, None


_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_PAIR_RE = re.compile(rf"\s*,?\s*(?P<old>{_QUOTED})\s*=>\s*(?P<new>{_QUOTED})\s*")


def _unquote(q: str) -> str:
    """A quoted string of a directive: "..." (backslash escapes \\" and \\\\) or '...' (literal)."""
    return re.sub(r"\\(.)", r"\1", q[1:-1]) if q[0] == '"' else q[1:-1]


def parse_directive(body: str, where: str, block: Block) -> None:
    word, _, rest = body.partition(" ")
    if word == "skip":
        _, reason = _reason(rest)
        if not reason:
            raise DocsError(f"{where}: docs-test skip needs a reason in parentheses: skip (why)")
        block.skip = reason
    elif word == "replace":
        pairs_text, reason = _reason(rest)
        if not reason:
            raise DocsError(f'{where}: docs-test replace needs a reason: replace "OLD" => "NEW" (why)')
        pos = 0
        for m in _PAIR_RE.finditer(pairs_text):
            if m.start() != pos:
                break
            block.replace.append((_unquote(m.group("old")), _unquote(m.group("new"))))
            pos = m.end()
        if pos != len(pairs_text) or not block.replace:
            raise DocsError(f'{where}: docs-test replace: expected "OLD" => "NEW", ... (why), got {rest!r}')
        block.replace_reason = reason
    elif word == "session" and re.fullmatch(r"\w[\w.-]*", rest.strip()):
        block.session = rest.strip()
    elif word == "tsdb" and not rest.strip():
        block.tsdb = True
    elif word == "file" and re.fullmatch(r"[\w.-]+", rest.strip()):
        block.file = rest.strip()
    else:
        raise DocsError(f"{where}: unknown docs-test directive {body!r} (skip (why), replace \"OLD\" => \"NEW\" "
                        "(why), session NAME, tsdb, file NAME)")


def code_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The fenced code blocks of a markdown file with their docs-test directives. A directive is an HTML comment
    ``<!-- docs-test: ... -->`` on the line(s) right before the opening fence; one that precedes no fence is an
    error, and so is an unclosed fence."""
    name = rel(path, root)
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    pending: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        mk = MARK_RE.match(lines[i])
        if mk:
            pending.append((i + 1, mk.group("body")))
            i += 1
            continue
        m = FENCE_RE.match(lines[i])
        if m:
            fence, indent = m.group("fence"), len(m.group("indent"))
            j = i + 1
            while j < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[j]):
                j += 1
            if j == len(lines):
                raise DocsError(f"{name}:{i + 1}: a code fence that is never closed")
            body = "\n".join(ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[i + 1:j])
            b = Block(name, i + 1, (m.group("info").split() or [""])[0].lower(), body + "\n")
            for line_no, text in pending:
                parse_directive(text, f"{name}:{line_no}", b)
            blocks.append(b)
            pending = []
            i = j + 1
            continue
        if pending and lines[i].strip():
            raise DocsError(f"{name}:{pending[0][0]}: a docs-test directive must be right before a code fence")
        i += 1
    if pending:
        raise DocsError(f"{name}:{pending[0][0]}: a docs-test directive after the last code fence")
    return blocks


def all_blocks(root: Path = ROOT) -> list[Block]:
    return [b for p in doc_files(root) if rel(p, root) not in GENERATED for b in code_blocks(p, root)]


# ----------------------------------------------------------------------------------------------------------------
# Benchmarks
# ----------------------------------------------------------------------------------------------------------------

#: Benchmark name -> its script (each writes benchmarks/results/<name>.json with --out).
BENCHMARKS = {"engine": "engine.py", "simulate": "simulate.py", "sweep": "sweep_throughput.py",
              "ingest": "ingest.py", "coupling": "coupling.py", "train": "train.py", "nhp": "nhp.py",
              "realism": "realism.py", "gui": "gui.py", "demo": "demo.py"}


def run_benchmarks(names: list[str]) -> int:
    """Run the named benchmarks one after the other (the machine is shared: never two at once), each writing its
    JSON to benchmarks/results/, then re-render the figures."""
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in names:
        out = RESULTS / f"{name}.json"
        cmd = [sys.executable, str(ROOT / "benchmarks" / BENCHMARKS[name]), "--out", str(out)]
        print(f"$ {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
        if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
            print(f"benchmark {name} failed; {rel(out)} not updated", file=sys.stderr)
            return 1
    for p in render_docs():
        print(f"rendered {rel(p)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Without a command: cli, then figures (regenerate everything).")
    sub = ap.add_subparsers(dest="what")
    sub.add_parser("cli", help="regenerate docs/cli.md")
    sub.add_parser("figures", help="re-render the figure sections from benchmarks/results/*.json")
    sub.add_parser("check", help="exit 1 when docs/cli.md or a figure section is stale")
    sub.add_parser("blocks", help="list the code blocks and how tests/test_docs.py runs them")
    b = sub.add_parser("bench", help="run benchmarks one at a time, save their JSON, re-render")
    b.add_argument("names", nargs="*", metavar="NAME",
                   help=f"benchmarks to run, one at a time (default: all: {' '.join(BENCHMARKS)})")
    a = ap.parse_args(argv)
    try:
        if a.what == "bench":
            unknown = [n for n in a.names if n not in BENCHMARKS]
            if unknown:
                ap.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
            return run_benchmarks(a.names or list(BENCHMARKS))
        if a.what == "check":
            stale = [rel(p) for p in render_docs(write=False)]
            if write_cli_reference(write=False):
                stale.append("docs/cli.md")
            for s in missing_help():
                print(f"missing help: {s}")
            for s in stale:
                print(f"stale: {s} (run python scripts/docs.py)")
            return 1 if stale or missing_help() else 0
        if a.what == "blocks":
            for bl in all_blocks():
                how = (f"skip ({bl.skip})" if bl.skip else
                       ", ".join(x for x in (f"session {bl.session}" if bl.session else "", "tsdb" if bl.tsdb else "",
                                             f"file {bl.file}" if bl.file else "",
                                             f"replace ({bl.replace_reason})" if bl.replace else "") if x) or "run")
                print(f"{bl.id:28s} {bl.lang or '-':7s} {how}: {bl.first_line[:60]}")
            return 0
        if a.what in (None, "cli") and write_cli_reference():
            print("wrote docs/cli.md")
        if a.what in (None, "figures"):
            for p in render_docs():
                print(f"rendered {rel(p)}")
        return 0
    except DocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
