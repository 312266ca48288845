"""The main job on the embedded default (``make demo`` / ``lobkit demo``): the whole pipeline on one machine.

1. data: a synthetic snapshot file in the schema of the real ``lob-btc.db`` (SQLite, the embedded default),
   streamed back in Polars chunks and turned into book arrays;
2. engine: a seeded synthetic order stream through the Numba book, with its throughput;
3. one run: a momentum strategy on a market whose initial book is the file's first snapshot;
4. a counterfactual: the same strategy against the do-nothing baseline on common random numbers;
5. a small parameter sweep in parallel, with its heatmap.

Every step calls the same library functions as the CLI (``lobkit.run``, ``lobkit.compare``, ``lobkit.sweep``,
``lobkit.data``); nothing here is implemented twice. :func:`engine_demo` is step 2 alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lobkit.errors import ConfigError
from lobkit.validate import show


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
    """What the pipeline demo does. Validated on construction."""

    out: Path = Path("runs/demo")
    db: Path = Path("lob-btc.db")
    snapshots: int = 2_000
    seed: int = 7
    duration: str = "30min"
    warmup: str = "5min"
    repeats: int = 4
    sweep_grid: str = "short=3,5,10 long=20,40"
    sweep_duration: str = "10min"
    sweep_repeats: int = 2
    jobs: int = 2
    messages: int = 1_000_000

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "db", Path(self.db))
        for name in ("snapshots", "repeats", "sweep_repeats", "jobs", "messages"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {show(v)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed: must be a non-negative integer, got {show(self.seed)}")
        from lobkit.sim.config import parse_duration

        warm = parse_duration(self.warmup)
        for name in ("duration", "sweep_duration"):
            if parse_duration(getattr(self, name)) <= warm:
                raise ConfigError(f"{name}: must be longer than the warm-up ({self.warmup}), got {getattr(self, name)}")


def pipeline(cfg: DemoConfig, echo: Callable[[str], None] = print) -> dict:
    """Run the five steps, printing as it goes; returns the key figures of each step."""
    import lobkit
    from lobkit.data.sample import write_sample_db
    from lobkit.data.stream import stream, to_arrays

    cfg.out.mkdir(parents=True, exist_ok=True)
    out: dict = {}

    echo("== 1. data: SQLite snapshots (the embedded default), streamed back in Polars chunks")
    if not cfg.db.exists():
        write_sample_db(cfg.db, cfg.snapshots, cfg.seed)
        echo(f"wrote {cfg.db} ({cfg.snapshots:,} synthetic 20-level snapshots, schema of the real lob-btc.db)")
    else:
        echo(f"using {cfg.db}")
    n, mids = 0, []
    for frame in stream(cfg.db, chunk_size=1_000):
        n += frame.height
        mids.append(to_arrays(frame).mid)
    import numpy as np

    mid = np.concatenate(mids) if mids else np.empty(0)
    out["snapshots"] = n
    echo(f"{n:,} snapshots; mid from {np.nanmin(mid):.2f} to {np.nanmax(mid):.2f}" if n else "no snapshots")

    echo("\n== 2. engine: a synthetic order stream through the Numba book")
    e = engine_demo(cfg.messages, "mix", cfg.seed)
    out["engine_messages_per_s"] = e["messages_per_s"]
    echo(f"{e['messages']:,} messages, {e['fills']:,} fills: {e['messages_per_s'] / 1e6:.1f} million messages/s "
         f"(single-threaded)")

    common = dict(agent="momentum", short=5, long=20, size=1, snapshot=str(cfg.db), warmup=cfg.warmup)
    echo(f"\n== 3. one run: momentum (short 5, long 20) for {cfg.duration}, initial book from {cfg.db}")
    run = lobkit.run(seed=cfg.seed, out=cfg.out / "run", duration=cfg.duration, **common)
    s = run.summary
    out["run"] = s
    echo(f"final PnL {s['final_pnl']:+.2f}, trades {s['n_trades']}, final position {s['final_position']}, "
         f"max drawdown {s['max_drawdown']:.2f}, events {s['n_events']:,}, mean spread {s['mean_spread']:.4f}")
    echo(f"-> {cfg.out / 'run'} (orders/trades Parquet, summary.json, pnl.png)")

    echo(f"\n== 4. counterfactual: the strategy vs its paper baseline (the same orders without impact), "
         f"{cfg.repeats} seed pairs")
    cmp = lobkit.compare(seed=cfg.seed, repeats=cfg.repeats, out=cfg.out / "compare", duration=cfg.duration,
                         **common)
    c = cmp.summary
    out["compare"] = c
    echo(f"strategy PnL {c['pnl_mean']:+.2f} [95% CI {c['pnl_ci_low']:+.2f}, {c['pnl_ci_high']:+.2f}], paper PnL "
         f"{c['paper_pnl_mean']:+.2f}, impact cost {c['impact_cost_mean']:+.3f}; mid-price impact "
         f"{c['mid_diff_mean_mean']:+.4f} on average")
    echo(f"-> {cfg.out / 'compare'} (compare.json, compare.png)")

    echo(f"\n== 5. sweep: {cfg.sweep_grid} x {cfg.sweep_repeats} repeats, {cfg.jobs} workers")
    sw = lobkit.sweep(cfg.sweep_grid, repeats=cfg.sweep_repeats, seed=cfg.seed, jobs=cfg.jobs,
                      out=cfg.out / "sweep", duration=cfg.sweep_duration, progress=False, overwrite=True, **common)
    from lobkit.sweeps.results import format_table

    best = sw.best(3)
    out["sweep_best"] = best
    echo(format_table(best, ["short", "long"]))
    echo(f"-> {cfg.out / 'sweep'} (results Parquet, heatmap.png)")
    return out
