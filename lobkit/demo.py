"""The main job (``make demo`` / ``lobkit demo``): the whole pipeline on real data, on one machine, into one report.

1. **data**: the real ``lob-btc.db`` when one is found (``--db``, ``./lob-btc.db``, or the shared data directory:
   ``$LOBKIT_DATA_DIR`` / ``../shared/data``), else a synthetic file in the same schema (said clearly); with
   ``--dsn``, the snapshots are migrated into TimescaleDB and every later step reads them from there;
2. **wgan**: ``train-wgan`` on the snapshots (the small configuration, 300 steps), then ``eval-wgan`` on the
   held-out ones;
3. **nhp**: ``train-nhp`` (the default network, 20 epochs) on real events (the Bitstamp capture beside
   ``lob-btc.db``, else a LOBSTER sample), else on events inferred from the generator's books; then ``eval-nhp``
   against Poisson and parametric Hawkes;
4. **compare**: the momentum strategy against its do-nothing baseline on the learned market (the neural flow,
   from a WGAN book at the data's mid), common random numbers, several seed pairs;
5. **impact**: the mid's response to one market order of several sizes on the learned market;
6. **sweep**: the moving-average windows on the learned market, two workers;
7. **realism**: the learned market's stylised facts against the data's (``eval-market``);
8. **report**: one self-contained HTML file (:mod:`lobkit.report`), its path printed at the end.

Each step leaves its files and a record (``<out>/<step>/step.json``) with a fingerprint of its inputs (the
settings, the data files' sizes and times, the upstream steps' fingerprints, lobkit's version and a hash of its
source). A step whose
fingerprint is unchanged is reused, so running the demo again is quick; ``force`` redoes every step. A failing
step stops the demo with one line naming it (:class:`DemoError`). Every step calls the same library functions as
the CLI; nothing here is implemented twice. :func:`engine_demo` is the engine's own demo (``--engine-only``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lobkit.errors import ConfigError, LobkitError
from lobkit.validate import show

__all__ = ["DemoConfig", "DemoError", "DemoResult", "STEPS", "engine_demo", "find_data", "pipeline"]

TICK_SIZE = 0.01  # the Bitstamp book's tick (USD) and the synthetic file's
LOT_SIZE = 0.01  # one simulator lot of the Bitstamp book: 0.01 BTC


class DemoError(LobkitError):
    """A step of the demo failed: the message names the step and says why, in one line."""


def engine_demo(messages: int = 1_000_000, kind: str = "mix", seed: int = 0, depth: int = 5) -> dict:
    """Generate a seeded synthetic stream, apply it to a fresh :class:`OrderBook` in one jitted batch, and
    return the timing, the fills and the top ``depth`` levels."""
    from lobkit.engine import OrderBook
    from lobkit.engine.synthetic import FLOWS, synthetic_flow

    if kind not in FLOWS:
        raise ConfigError(f"kind must be one of {sorted(FLOWS)}, got {kind!r}")
    if messages < 1 or messages > 50_000_000:
        raise ConfigError(f"messages must be in [1, 50,000,000], got {messages}")
    if depth < 1:
        raise ConfigError(f"depth must be positive, got {depth}")
    t0 = time.perf_counter()
    msgs, info = synthetic_flow(messages, kind, seed)
    gen_s = time.perf_counter() - t0
    # load the kernels from the cache (or compile them) before timing
    OrderBook(capacity=1_000, window=4096, center=100_000, tick_size=0.01, keep_fills=False).apply(msgs[:100])
    book = OrderBook(capacity=100_000, window=4096, center=100_000, tick_size=0.01, keep_fills=False)
    t0 = time.perf_counter()
    r = book.apply(msgs)
    apply_s = time.perf_counter() - t0
    return {
        "book": book,
        "messages": messages,
        "kind": kind,
        "seed": seed,
        "generate_seconds": gen_s,
        "apply_seconds": apply_s,
        "messages_per_s": messages / apply_s if apply_s > 0 else float("inf"),
        "fills": len(r.fills),
        "volume": int(r.fills["size"].sum()),
        "l2": book.l2(depth),
        "info": info,
    }


@dataclass(frozen=True)
class DemoConfig:
    """What the demo does (validated on construction). Sizes are in lots of 0.01 BTC; durations as everywhere
    (``"30min"``, ``"90s"``)."""

    out: Path = Path("runs/demo")
    db: Path | None = None  # None: found by find_data, else a synthetic file in out/data
    dsn: str | None = None  # a postgresql:// URL: the snapshots go through TimescaleDB
    seed: int = 7
    force: bool = False
    snapshots: int = 3_000  # of the synthetic file, when no real data is found
    wgan_steps: int = 300
    nhp_epochs: int = 20
    duration: str = "30min"
    warmup: str = "5min"
    size: int = 100  # the momentum strategy's order size (lots: 1 BTC)
    repeats: int = 8
    impact_lots: tuple[int, ...] = (10, 100, 1000)
    impact_pairs: int = 16
    impact_horizon: str = "10min"
    sweep_grid: str = "short=3,5,10 long=20,40"
    sweep_duration: str = "20min"
    sweep_repeats: int = 2
    jobs: int = 2
    realism_runs: int = 1
    replicates: int = 100
    progress: bool = True

    def __post_init__(self):
        from lobkit.sim.config import parse_duration

        object.__setattr__(self, "out", Path(self.out))
        if self.db is not None:
            object.__setattr__(self, "db", Path(self.db))
        object.__setattr__(self, "impact_lots", tuple(self.impact_lots))
        for name in ("snapshots", "wgan_steps", "nhp_epochs", "size", "repeats", "impact_pairs", "sweep_repeats",
                     "jobs", "realism_runs", "replicates"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {show(v)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed: must be a non-negative integer, got {show(self.seed)}")
        if not self.impact_lots or any(isinstance(q, bool) or not isinstance(q, int) or q < 1
                                       for q in self.impact_lots):
            raise ConfigError(f"impact_lots: positive integers, got {show(self.impact_lots)}")
        if self.dsn is not None and not str(self.dsn).startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"dsn: expected a postgresql:// URL, got {show(self.dsn)}")
        warm = parse_duration(self.warmup, "warmup")
        parse_duration(self.impact_horizon, "impact_horizon")
        for name in ("duration", "sweep_duration"):
            if parse_duration(getattr(self, name), name) <= warm:
                raise ConfigError(f"{name}: must be longer than the warm-up ({self.warmup}), got {getattr(self, name)}")


# ----------------------------------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class DataFiles:
    """Where the demo's data is: ``db`` (the snapshots), ``real`` (a real file, not the synthetic one), ``events``
    (the event stream's file and kind: ``bitstamp`` or ``lobster``, or None: events from the generator)."""

    db: Path
    real: bool
    events: Path | None
    events_kind: str | None
    why: str


def find_data(db: Path | None, out: Path) -> DataFiles:
    """The snapshot file: ``db`` when given (it must exist), else ``./lob-btc.db``, else ``lob-btc.db`` in the
    shared data directory (``$LOBKIT_DATA_DIR`` or ``../shared/data``), else a synthetic one to be written in
    ``out/data``. Events: the Bitstamp capture (``bitstamp-*.log.xz``) beside the snapshot file, else a LOBSTER
    sample in the shared data directory, else none. Raises :class:`ConfigError` for a ``db`` that does not exist."""
    from lobkit.paths import shared_data_dir

    if db is not None:
        if not Path(db).is_file():
            raise ConfigError(f"--db {db}: no such file")
        found, why = Path(db), f"--db {db}"
    elif Path("lob-btc.db").is_file():
        found, why = Path("lob-btc.db"), "./lob-btc.db"
    elif (shared_data_dir() / "lob-btc.db").is_file():
        found, why = shared_data_dir() / "lob-btc.db", f"the shared data directory ({shared_data_dir()})"
    else:
        return DataFiles(out / "data" / "lob-btc.db", False, None, None,
                         "no lob-btc.db given, in the working directory or in the shared data directory")
    captures = sorted(found.parent.glob("bitstamp-*.log.xz"))
    if captures:
        return DataFiles(found, True, captures[0], "bitstamp", why)
    lobster = sorted((shared_data_dir() / "lobster").glob("LOBSTER_SampleFile_*_5.zip"))
    if lobster:
        return DataFiles(found, True, lobster[0], "lobster", why)
    return DataFiles(found, True, None, None, why)


def _file_stamp(path: Path | None) -> list | None:
    if path is None or not Path(path).exists():
        return None
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


# ---------------------------------------------------------------------------------------------- the step records
@dataclass
class Ctx:
    """What the steps share: the configuration, the data, the upstream steps' records."""

    cfg: DemoConfig
    data: DataFiles | None = None
    records: dict = field(default_factory=dict)
    echo: Callable[[str], None] = print
    code: str = ""

    def path(self, step: str, rel: str) -> Path:
        return self.cfg.out / step / rel

    @property
    def source(self) -> str:
        """The snapshot source the steps read: the TimescaleDB URL with --dsn, else the SQLite file."""
        return self.cfg.dsn if self.cfg.dsn else str(self.data.db)

    @property
    def market(self) -> dict:
        """The learned market's options: the neural flow, a WGAN book at the data's first mid."""
        g = self.records["wgan"]["headline"]
        return dict(flow=f"nhp:{self.path('nhp', 'nhp_background_trader.pth')}", initial_book=g["initial_book"],
                    initial_mid=g["first_mid"], warmup=self.cfg.warmup)


def _record(step: str, index: int, title: str, *, text: str, summary: list, headline: dict, tables=(), images=(),
            files=()) -> dict:
    return {"step": step, "index": index, "title": title, "text": text,
            "summary": [[a, b] for a, b in summary], "headline": headline, "tables": list(tables),
            "images": list(images), "files": list(files)}


def _fmt_ci(mean, lo, hi, digits: int = 2) -> str:
    """``+1.23 [-0.50, +2.96]``; without an interval (one repeat) the mean alone, said so."""
    import math

    def bad(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    if bad(mean):
        return "-"
    if bad(lo) or bad(hi):
        return f"{mean:+,.{digits}f} (no interval from one sample)"
    return f"{mean:+,.{digits}f} [{lo:+,.{digits}f}, {hi:+,.{digits}f}]"


# ------------------------------------------------------------------------------------------------------ the steps
def step_data(ctx: Ctx, d: Path) -> dict:
    import numpy as np

    from lobkit.data.stream import stream, to_arrays

    cfg, data = ctx.cfg, ctx.data
    if not data.real:
        from lobkit.data.sample import write_sample_db

        d.mkdir(parents=True, exist_ok=True)
        write_sample_db(data.db, cfg.snapshots, cfg.seed, overwrite=True)
        ctx.echo(f"  no real data ({data.why}): wrote {data.db}, {cfg.snapshots:,} SYNTHETIC snapshots in the "
                 "schema of the real lob-btc.db")
    else:
        ctx.echo(f"  real data: {data.db} (from {data.why})")
    migrated = None
    if cfg.dsn:
        from lobkit.data.migrate import migrate
        from lobkit.data.timescale import DbConfig, init_db

        db_cfg = DbConfig(cfg.dsn)
        init_db(db_cfg)
        summary = migrate(data.db, db_cfg, progress=cfg.progress)
        migrated = {"inserted": summary.inserted, "already_present": summary.already_present}
        ctx.echo(f"  TimescaleDB: {summary.inserted:,} snapshots copied, {summary.already_present:,} already there")
    mids, spreads, ts, depth = [], [], [], []
    for frame in stream(ctx.source, chunk_size=2_000):
        a = to_arrays(frame, tick=TICK_SIZE)
        mids.append(a.mid)
        spreads.append(a.ask_ticks[:, 0] - a.bid_ticks[:, 0])
        ts.append(a.ts)
        depth.append((a.n_bids + a.n_asks) / 2)
    mid, spread, t = np.concatenate(mids), np.concatenate(spreads), np.concatenate(ts)
    levels = float(np.concatenate(depth).mean())
    t_s = (t - t[0]) / 1e6  # BookArrays.ts: int64 microseconds since the epoch (UTC)
    events = None
    if data.events is not None:
        from lobkit.training.events import load_events

        st = load_events(data.events_kind, str(data.events))
        events = {"file": str(data.events), "kind": data.events_kind, "n": len(st),
                  "hours": st.duration_ns / 3.6e12}
    fig = _plot_data(t_s / 3600, mid, spread, d / "data.png")
    headline = {"real": data.real, "db": str(data.db), "source": ctx.source, "snapshots": int(len(mid)),
                "hours": float(t_s[-1] / 3600) if len(t_s) else 0.0, "mid_min": float(np.nanmin(mid)),
                "mid_max": float(np.nanmax(mid)), "first_mid": float(mid[0]),
                "spread_median_ticks": float(np.nanmedian(spread)), "levels": levels, "events": events,
                "migrated": migrated}
    rows = [("snapshots", f"{len(mid):,} ({'REAL' if data.real else 'SYNTHETIC'}: {data.db})"),
            ("read from", ctx.source + (" (TimescaleDB)" if cfg.dsn else " (SQLite, the embedded default)")),
            ("time covered", f"{headline['hours']:.1f} h"),
            ("mid", f"{headline['mid_min']:,.2f} to {headline['mid_max']:,.2f}"),
            ("median spread", f"{headline['spread_median_ticks']:.0f} ticks of {TICK_SIZE}"),
            ("levels a side (mean)", f"{levels:.1f}"),
            ("events", f"{events['n']:,} {events['kind']} events over {events['hours']:.1f} h ({events['file']})"
             if events else "none found: the neural Hawkes model learns from the generator's books")]
    text = ("The real Bitstamp BTC/USD order book (2015-05-01), as 20-level snapshots." if data.real else
            "No real data was found, so the demo made a synthetic snapshot file in the real one's schema; every "
            "figure below is about synthetic data.")
    return _record("data", 1, "Data", text=text, summary=rows, headline=headline,
                   images=[{"caption": "The mid price and the spread over the data", "path": fig.name}],
                   files=[fig.name])


def _plot_data(hours, mid, spread, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, layout="constrained")
    a.plot(hours, mid, lw=0.8)
    a.set_ylabel("mid (USD)")
    b.plot(hours, spread, lw=0.6, color="tab:orange")
    b.set_ylabel("spread (ticks)")
    b.set_xlabel("hours since the first snapshot")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def step_wgan(ctx: Ctx, d: Path) -> dict:
    from lobkit.training.config import WGANConfig
    from lobkit.training.evaluate import evaluate_wgan
    from lobkit.training.wgan_training import train_wgan

    cfg = ctx.cfg
    options = {"table": "lob_snapshots"} if cfg.dsn else {}
    # a short training keeps a short moving average of the weights (the default 0.99 lags a few hundred steps)
    ema = 0.9 if cfg.wgan_steps < 1000 else 0.99
    res = train_wgan(ctx.source, WGANConfig.small(steps=cfg.wgan_steps, ema=ema), out=d, seed=cfg.seed,
                     device="cpu", progress=cfg.progress, **options)
    ev = evaluate_wgan(res.generator_path, ctx.source, seed=cfg.seed, out=d / "eval", **options)
    s = ev.summary
    ctx.echo(f"  {res.steps} steps in {res.seconds:.0f} s; classifier two-sample test {s['c2st']:.3f} "
             "(0.5: indistinguishable)")
    first_mid = ctx.records["data"]["headline"]["first_mid"]
    # the learned market starts from the generator's books when it draws two-sided ones reliably; a generator
    # trained too briefly may not, and then the data's first snapshot is the initial book (said in the report)
    import numpy as np

    from lobkit.seeds import seed_sequence
    from lobkit.training.wgan_training import load_generator

    _books, two = load_generator(res.generator_path).generate(256, seed_sequence(cfg.seed), mid=first_mid)
    two_sided = float(np.mean(two))
    if two_sided >= 0.1:
        book = f"wgan:{res.generator_path}"
        book_note = f"the learned market starts from the generator's books ({two_sided:.0%} of draws two-sided)"
    else:
        book = f"snapshot:{ctx.data.db}"
        book_note = (f"the generator drew two-sided books in only {two_sided:.0%} of 256 draws (too little "
                     "training): the learned market starts from the data's first snapshot instead")
        ctx.echo(f"  {book_note}")
    head = {"steps": res.steps, "train_seconds": res.seconds, "c2st": s["c2st"], "pass": s.get("pass", {}),
            "first_mid": first_mid, "fingerprint": res.fingerprint, "initial_book": book,
            "two_sided_share": two_sided, "book_note": book_note}
    for k in ("corr_distance", "nn_ratio", "c2st_real", "c2st_independent", "c2st_gaussian"):
        if k in s:
            head[k] = s[k]
    rows = [("training", f"{res.steps} steps (small configuration, weights averaged with {ema}) on "
                         f"{res.n_train:,} snapshots, {res.seconds:.0f} s"),
            ("held-out snapshots", f"{res.n_held_out:,}"),
            ("classifier two-sample test (0.5 = indistinguishable)", f"{s['c2st']:.3f}"),
            ("initial books of the learned market", book_note)]
    images = [{"caption": "Generated books against held-out real ones (eval-wgan)", "path": "eval/eval.png"}]
    if (d / "losses.png").is_file():
        images.append({"caption": "Training losses", "path": "losses.png"})
    shots = sorted((d / "training_snapshots").glob("*.png"))
    if shots:
        images.append({"caption": "Real (top) and generated (bottom) book images at the end of training",
                       "path": str(shots[-1].relative_to(d))})
    return _record("wgan", 2, "Learned book shapes (WGAN-GP)",
                   text="A Wasserstein GAN with gradient penalty learns the shape of the book (volume by level "
                        "around the mid) from the snapshots; it is judged on held-out snapshots against naive "
                        "references.",
                   summary=rows, headline=head,
                   tables=[{"caption": "Evaluation (eval-wgan)", "markdown": ev.table_markdown()}],
                   images=images, files=["generator.pth", "eval/eval.json"])


def step_nhp(ctx: Ctx, d: Path) -> dict:
    from lobkit.training.config import NHPConfig
    from lobkit.training.events import load_events
    from lobkit.training.nhp_training import evaluate_nhp, train_nhp

    cfg, data = ctx.cfg, ctx.data
    if data.events is not None:
        stream = load_events(data.events_kind, str(data.events))
        lot = LOT_SIZE if data.events_kind == "bitstamp" else 1.0
        what = f"{len(stream):,} real events ({data.events_kind}: {data.events.name})"
    else:
        lot = LOT_SIZE
        try:
            stream = load_events("synthetic", str(ctx.path("wgan", "generator.pth")), seed=cfg.seed)
            what = f"{len(stream):,} events inferred from the generator's books (no real events found)"
        except LobkitError as exc:  # a generator trained too briefly: the snapshots' own changes instead
            stream = load_events("snapshots", str(data.db))
            what = (f"{len(stream):,} events inferred between consecutive snapshots (no real events found, and the "
                    f"generator's books gave none: {exc})")
            ctx.echo(f"  {what}")
    ncfg = NHPConfig(n_types=stream.n_types, epochs=cfg.nhp_epochs)  # the default network: 15 s on Bitstamp
    res = train_nhp(stream, ncfg, out=d, seed=cfg.seed, device="cpu", progress=cfg.progress,
                    market={"tick_size": TICK_SIZE, "lot_size": lot})
    ev = evaluate_nhp(res.model_path, stream, out=d)
    ctx.echo(f"  {what}; held-out log-likelihood per event: model {ev['test_ll_per_event']:.3f}, Poisson "
             f"{ev['poisson_test_ll_per_event']:.3f}, Hawkes {ev['hawkes_test_ll_per_event']:.3f}")
    fig = _plot_nhp(res.history, ev, d / "fit.png")
    head = {k: ev[k] for k in ("test_ll_per_event", "poisson_test_ll_per_event", "hawkes_test_ll_per_event",
                               "type_accuracy", "majority_type_accuracy", "time_rmse", "ks_pvalue")}
    head |= {"events": len(stream), "source": stream.source, "epochs": res.epochs, "train_seconds": res.seconds,
             "real_events": data.events is not None}
    rows = [("events", what), ("training", f"{res.epochs} epochs, {res.seconds:.0f} s ({res.events_per_s:,.0f} "
                                           "events/s)"),
            ("held-out log-likelihood per event: neural Hawkes", f"{ev['test_ll_per_event']:.4f}"),
            ("... Poisson (constant rates)", f"{ev['poisson_test_ll_per_event']:.4f}"),
            ("... parametric Hawkes (tick)", f"{ev['hawkes_test_ll_per_event']:.4f}"),
            ("next event's type: accuracy (majority class)",
             f"{ev['type_accuracy']:.3f} ({ev['majority_type_accuracy']:.3f})"),
            ("time-rescaling KS p-value", f"{ev['ks_pvalue']:.3g}")]
    return _record("nhp", 3, "Learned order flow (neural Hawkes process)",
                   text="A continuous-time GRU (the neural Hawkes process of Mei and Eisner, 2017) learns the "
                        "intensities of the six event types (limit, market and cancel orders a side) and their "
                        "marks; it is judged on the held-out end of the stream against a Poisson process and a "
                        "parametric Hawkes process fitted with tick.",
                   summary=rows, headline=head,
                   images=[{"caption": "Training curve and held-out fit against the baselines", "path": fig.name}],
                   files=["nhp_background_trader.pth", "eval.json", fig.name])


def _plot_nhp(history: list, ev: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    ep = [h["epoch"] for h in history]
    a.plot(ep, [h["train_ll_per_event"] for h in history], marker="o", label="training")
    if history and "val_ll_per_event" in history[0]:
        a.plot(ep, [h["val_ll_per_event"] for h in history], marker="s", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("log-likelihood per event")
    a.legend()
    names = ["neural Hawkes", "Hawkes (tick)", "Poisson"]
    vals = [ev["test_ll_per_event"], ev["hawkes_test_ll_per_event"], ev["poisson_test_ll_per_event"]]
    b.bar(names, vals, color=["tab:blue", "tab:gray", "tab:gray"])
    b.set_ylabel("held-out log-likelihood per event")
    lo = min(vals)
    b.set_ylim(lo - 0.1 * abs(lo) - 0.1, max(vals) + 0.05 * abs(max(vals)) + 0.05)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def step_compare(ctx: Ctx, d: Path) -> dict:
    import lobkit

    cfg = ctx.cfg
    res = lobkit.compare(agent="momentum", short=5, long=20, size=cfg.size, duration=cfg.duration, seed=cfg.seed,
                         repeats=cfg.repeats, out=d, progress=cfg.progress, **ctx.market)
    s = res.summary
    ctx.echo(f"  strategy PnL {_fmt_ci(s['pnl_mean'], s['pnl_ci_low'], s['pnl_ci_high'])} USD; impact cost "
             f"{_fmt_ci(s['impact_cost_mean'], s['impact_cost_ci_low'], s['impact_cost_ci_high'])} USD")
    head = {k: s[k] for k in s if k.endswith(("_mean", "_ci_low", "_ci_high"))} | {
        "repeats": s["repeats"], "coupling_variance_ratio": s["coupling_variance_ratio"]}
    rows = [("strategy", f"momentum (short 5, long 20), {cfg.size} lots = {cfg.size * LOT_SIZE:g} BTC, "
                         f"{cfg.duration} ({cfg.warmup} warm-up), {cfg.repeats} seed pairs"),
            ("PnL (USD), mean [95% CI]", _fmt_ci(s["pnl_mean"], s["pnl_ci_low"], s["pnl_ci_high"])),
            ("paper PnL: the same orders without footprint", _fmt_ci(s["paper_pnl_mean"], s["paper_pnl_ci_low"],
                                                                     s["paper_pnl_ci_high"])),
            ("impact cost = paper - real", _fmt_ci(s["impact_cost_mean"], s["impact_cost_ci_low"],
                                                   s["impact_cost_ci_high"])),
            ("mid at the end, strategy's market minus baseline (ticks)",
             _fmt_ci(s["mid_diff_final_ticks_mean"], s["mid_diff_final_ticks_ci_low"],
                     s["mid_diff_final_ticks_ci_high"])),
            ("coupling variance ratio (small: the pairs measure impact, not noise)",
             f"{s['coupling_variance_ratio']:.3f}")]
    return _record("compare", 4, "Counterfactual: the strategy against the do-nothing market",
                   text="Each seed pair runs the learned market twice on common random numbers: once with the "
                        "momentum strategy trading, once with a null agent that sends the same orders on paper "
                        "(filled at the prices shown, without touching the book). The difference is what the "
                        "strategy did to the market and what that cost it.",
                   summary=rows, headline=head,
                   images=[{"caption": "PnL and mid difference by seed pair", "path": "compare.png"}],
                   files=["compare.json", "compare.png"])


def step_impact(ctx: Ctx, d: Path) -> dict:
    import lobkit

    cfg = ctx.cfg
    res = lobkit.impact(lots=cfg.impact_lots, pairs=cfg.impact_pairs, horizon=cfg.impact_horizon, seed=cfg.seed,
                        out=d, duration=cfg.duration, progress=cfg.progress, **ctx.market)
    s = res.summary
    rows = [(f"{q} lots ({q * LOT_SIZE:g} BTC): mid after {cfg.impact_horizon} (ticks), mean [95% CI]",
             _fmt_ci(s[f"mean_ticks_{q}"], s[f"ci_low_{q}"], s[f"ci_high_{q}"])) for q in cfg.impact_lots]
    rows.append(("increasing with the size / concave", f"{s['increasing']} / {s['concave']}"))
    ctx.echo("  " + "; ".join(f"{q} lots: {s[f'mean_ticks_{q}']:+.2f} ticks" for q in cfg.impact_lots))
    return _record("impact", 5, "Impulse response", text=(
        f"One market buy of each size at the end of the warm-up, against the same market without it, over "
        f"{cfg.impact_pairs} seed pairs: the mean move of the mid and its 95% band."),
        summary=rows, headline={k: v for k, v in s.items() if isinstance(v, (int, float, bool))},
        images=[{"caption": "Mid-price response to one market order, by size", "path": "impact.png"}],
        files=["impact.json", "impact.png"])


def step_sweep(ctx: Ctx, d: Path) -> dict:
    import lobkit

    cfg = ctx.cfg
    sw = lobkit.sweep(cfg.sweep_grid, repeats=cfg.sweep_repeats, seed=cfg.seed, jobs=cfg.jobs, out=d,
                      progress=cfg.progress, overwrite=True, agent="momentum", size=cfg.size,
                      duration=cfg.sweep_duration, **ctx.market)
    params = [a.split("=")[0] for a in cfg.sweep_grid.split()]
    best = sw.best(5)
    top = best.row(0, named=True)
    ctx.echo(f"  best: {', '.join(f'{p}={top[p]}' for p in params)}: mean PnL {top['mean']:+.2f} USD")
    heat = sorted(d.glob("heatmap*.png"))
    return _record("sweep", 6, "Sweep of the moving-average windows", text=(
        f"The grid {cfg.sweep_grid}, {cfg.sweep_repeats} seeds each, {cfg.sweep_duration} runs on the learned "
        f"market, {cfg.jobs} workers; the same seed gives the same table on any number of workers."),
        summary=[("best configuration", ", ".join(f"{p}={top[p]}" for p in params)),
                 ("its mean PnL (USD) [95% CI]", _fmt_ci(top["mean"], top["ci95_low"], top["ci95_high"]))],
        headline={"best": {p: top[p] for p in params}, "best_mean_pnl": top["mean"],
                  "best_ci": [top["ci95_low"], top["ci95_high"]], "configurations": sw.table().height},
        tables=[{"caption": "Best configurations", "markdown": _markdown_table(best, params)}],
        images=[{"caption": "Mean PnL by configuration", "path": heat[0].name}] if heat else [],
        files=[h.name for h in heat])


def _markdown_table(best, params: list[str]) -> str:
    cols = [*params, "n", "mean", "ci95_low", "ci95_high", "t_stat"]
    cols = [c for c in cols if c in best.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in best.select(cols).iter_rows():
        lines.append("| " + " | ".join(f"{v:+.2f}" if isinstance(v, float) else "-" if v is None else str(v)
                                       for v in row) + " |")
    return "\n".join(lines)


def step_realism(ctx: Ctx, d: Path) -> dict:
    import lobkit

    cfg = ctx.cfg
    m = ctx.market
    rep = lobkit.eval_market(against=str(ctx.data.db), runs=cfg.realism_runs, seed=cfg.seed,
                             replicates=cfg.replicates, out=d, progress=cfg.progress, flow=m["flow"],
                             initial_book=f"snapshot:{ctx.data.db}", warmup=cfg.warmup)
    targets = rep.data["targets"]
    met = sum(bool(t["met"]) for t in targets)
    ctx.echo(f"  {met} of {len(targets)} realism targets met")
    md = (d / "realism.md").read_text()
    return _record("realism", 7, "Realism of the learned market", text=(
        "The learned market, started from the data's first snapshot, simulated for as long as the data covers, "
        "set beside the data's stylised facts (spread, depth, heavy tails, volatility clustering, event mix), with "
        "block-bootstrap intervals on the real figures."),
        summary=[("targets met", f"{met} of {len(targets)}")],
        headline={"targets": [{k: t[k] for k in ("name", "value", "threshold", "met") if k in t} for t in targets],
                  "met": met, "of": len(targets)},
        tables=[{"caption": "eval-market", "markdown": md}],
        images=[{"caption": "Simulated against real", "path": "realism.png"}],
        files=["realism.json", "realism.png"])


#: The steps in order: name, title, function, and what its fingerprint covers besides the upstream steps.
STEPS: list[tuple[str, str, Callable, tuple[str, ...], tuple[str, ...]]] = [
    ("data", "Data", step_data, ("snapshots", "dsn", "seed"), ()),
    ("wgan", "Learned book shapes (WGAN-GP)", step_wgan, ("wgan_steps", "seed"), ("data",)),
    ("nhp", "Learned order flow (neural Hawkes)", step_nhp, ("nhp_epochs", "seed"), ("data", "wgan")),
    ("compare", "Counterfactual", step_compare, ("duration", "warmup", "size", "repeats", "seed"), ("wgan", "nhp")),
    ("impact", "Impulse response", step_impact, ("duration", "warmup", "impact_lots", "impact_pairs",
                                                   "impact_horizon", "seed"), ("wgan", "nhp")),
    ("sweep", "Sweep", step_sweep, ("sweep_grid", "sweep_duration", "sweep_repeats", "size", "warmup", "seed"),
     ("wgan", "nhp")),
    ("realism", "Realism", step_realism, ("realism_runs", "replicates", "warmup", "seed"), ("data", "nhp")),
]


@dataclass
class DemoResult:
    """What the demo did: the report's path, every step's record, which steps were reused, and the seconds."""

    report: Path
    records: dict
    reused: list
    seconds: float


def code_stamp() -> str:
    """A hash of lobkit's own source (every ``.py`` file of the package): a step made by other code is redone."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _fingerprint(ctx: Ctx, name: str, settings: tuple[str, ...], upstream: tuple[str, ...]) -> str:
    from lobkit import __version__

    cfg = asdict(ctx.cfg)
    doc = {"step": name, "version": __version__, "code": ctx.code, "settings": {k: cfg[k] for k in settings},
           "upstream": {u: ctx.records[u]["fingerprint"] for u in upstream}}
    if name == "data":
        doc["files"] = [_file_stamp(ctx.data.db) if ctx.data.real else None, _file_stamp(ctx.data.events),
                        ctx.data.real]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _reusable(d: Path, fp: str) -> dict | None:
    try:
        rec = json.loads((d / "step.json").read_text())
    except (OSError, ValueError):
        return None
    if rec.get("fingerprint") != fp or not all((d / f).exists() for f in rec.get("files", [])):
        return None
    if any(not (d / im["path"]).is_file() for im in rec.get("images", [])):
        return None
    return rec


def _write_json(path: Path, doc: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".step-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2, default=_plain)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _plain(v):
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def pipeline(cfg: DemoConfig, echo: Callable[[str], None] = print) -> DemoResult:
    """Run the steps (reusing those whose inputs are unchanged unless ``cfg.force``) and write the report.
    Returns the :class:`DemoResult`; raises :class:`DemoError` naming the failed step."""
    import matplotlib

    matplotlib.use("Agg")
    t_start = time.perf_counter()
    out = cfg.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"demo: cannot write to {out} ({exc.strerror or exc})") from None
    ctx = Ctx(cfg, echo=echo, code=code_stamp())
    ctx.data = find_data(cfg.db, out)
    reused = []
    n = len(STEPS) + 1
    for i, (name, title, fn, settings, upstream) in enumerate(STEPS, 1):
        d = out / name
        fp = _fingerprint(ctx, name, settings, upstream)
        rec = None if cfg.force else _reusable(d, fp)
        if rec is not None:
            echo(f"[{i}/{n}] {title}: reused ({d}, inputs unchanged; --force redoes it)")
            rec["reused"] = True
            reused.append(name)
            ctx.records[name] = rec
            continue
        echo(f"[{i}/{n}] {title}")
        t0 = time.perf_counter()
        try:
            d.mkdir(parents=True, exist_ok=True)
            (d / "step.json").unlink(missing_ok=True)  # a step redone is not valid until it has finished
            rec = fn(ctx, d)
        except LobkitError as exc:
            raise DemoError(f"demo step {i} ({name}): {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any failure of a step is reported as that step's, in one line
            import traceback

            traceback.print_exc()
            raise DemoError(f"demo step {i} ({name}) failed: {type(exc).__name__}: {exc}") from None
        rec |= {"fingerprint": fp, "seconds": round(time.perf_counter() - t0, 2),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_json(d / "step.json", rec)
        ctx.records[name] = rec
        echo(f"  done in {rec['seconds']:.1f} s")
    echo(f"[{n}/{n}] Report")
    try:
        path = write_demo_report(ctx)
    except LobkitError as exc:
        raise DemoError(f"demo step {n} (report): {exc}") from None
    except Exception as exc:  # noqa: BLE001 - one line naming the step, as for the others
        import traceback

        traceback.print_exc()
        raise DemoError(f"demo step {n} (report) failed: {type(exc).__name__}: {exc}") from None
    seconds = time.perf_counter() - t_start
    echo(f"\nreport: {path.resolve()}")
    return DemoResult(report=path, records=ctx.records, reused=reused, seconds=seconds)


def headline_rows(records: dict) -> list[tuple[str, str]]:
    """The report's headline figures from the steps' records."""
    rows = []
    d = records["data"]["headline"]
    rows.append(("data", f"{d['snapshots']:,} {'real' if d['real'] else 'SYNTHETIC'} snapshots, "
                         f"{d['hours']:.1f} h"))
    w = records["wgan"]["headline"]
    rows.append(("WGAN: classifier two-sample test (0.5 = indistinguishable)", f"{w['c2st']:.3f}"))
    h = records["nhp"]["headline"]
    rows.append(("NHP: held-out log-likelihood per event (Poisson, Hawkes)",
                 f"{h['test_ll_per_event']:.3f} ({h['poisson_test_ll_per_event']:.3f}, "
                 f"{h['hawkes_test_ll_per_event']:.3f})"))
    r = records["realism"]["headline"]
    rows.append(("realism targets met", f"{r['met']} of {r['of']}"))
    c = records["compare"]["headline"]
    rows.append(("momentum PnL, USD, mean [95% CI]", _fmt_ci(c["pnl_mean"], c["pnl_ci_low"], c["pnl_ci_high"])))
    rows.append(("its impact cost, USD [95% CI]", _fmt_ci(c["impact_cost_mean"], c["impact_cost_ci_low"],
                                                          c["impact_cost_ci_high"])))
    rows.append(("its mid impact at the end, ticks [95% CI]",
                 _fmt_ci(c["mid_diff_final_ticks_mean"], c["mid_diff_final_ticks_ci_low"],
                         c["mid_diff_final_ticks_ci_high"])))
    s = records["sweep"]["headline"]
    rows.append(("best sweep configuration (mean PnL, USD)",
                 f"{', '.join(f'{k}={v}' for k, v in s['best'].items())} ({s['best_mean_pnl']:+.2f})"))
    return rows


def write_demo_report(ctx: Ctx) -> Path:
    """``<out>/report.html`` from the steps' records."""
    from lobkit.report import StepRecord, write_report

    steps = []
    for name, *_ in STEPS:
        rec = ctx.records[name]
        steps.append(StepRecord(step=name, index=rec["index"], title=rec["title"], dir=ctx.cfg.out / name,
                                text=rec["text"], summary=rec["summary"], tables=rec["tables"], images=rec["images"],
                                headline=rec["headline"], seconds=rec["seconds"], reused=rec.get("reused", False)))
    d = ctx.records["data"]["headline"]
    subtitle = (f"{'Real' if d['real'] else 'SYNTHETIC'} data: {d['source']}; seed {ctx.cfg.seed}; "
                f"made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return write_report(ctx.cfg.out / "report.html", steps, title="lobkit: the learned market and a strategy on it",
                        subtitle=subtitle, headline=headline_rows(ctx.records))
