"""Files and figures of runs and comparisons: Parquet tables, ``summary.json`` / ``compare.json``, PNGs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl

from lobkit.sim.runner import CompareResult, RunResult

_BUY_C = "#1a9850"
_SELL_C = "#d73027"
_EXP_C = "#2166ac"
_BASE_C = "#969696"


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.floating):
            out[k] = float(v)
        else:
            out[k] = v
    return out


def write_run(res: RunResult, out: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write a run to ``out/``: ``orders.parquet`` and ``trades.parquet`` (when recorded), ``pnl.parquet`` (the
    agent's PnL, inventory and cash and the mid on the sampling grid), ``timeline.parquet`` (the whole grid),
    ``accounts.parquet``, ``summary.json`` (summary + config + seed) and ``pnl.png``. Returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    if res.orders is not None:
        paths["orders"] = out / "orders.parquet"
        res.orders.write_parquet(paths["orders"])
    if res.trades is not None:
        paths["trades"] = out / "trades.parquet"
        res.trades.write_parquet(paths["trades"])
    paths["pnl"] = out / "pnl.parquet"
    cols = ["t_ns", "t_s", "mid", "pnl", "realised", "inventory", "cash", "fees"]
    res.timeline.select(cols).write_parquet(paths["pnl"])
    paths["timeline"] = out / "timeline.parquet"
    res.timeline.write_parquet(paths["timeline"])
    paths["accounts"] = out / "accounts.parquet"
    res.accounts.write_parquet(paths["accounts"])
    paths["summary"] = out / "summary.json"
    doc = {"summary": _jsonable(res.summary), "seed": res.seed, "config": _jsonable(res.config.as_dict()),
           "wall_seconds": res.wall_seconds}
    paths["summary"].write_text(json.dumps(doc, indent=2) + "\n")
    if plot:
        paths["plot"] = out / "pnl.png"
        plot_run(res, paths["plot"])
    return paths


def write_compare(res: CompareResult, out: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write a comparison to ``out/``: ``compare.json`` (summary, per-pair rows, config), ``pairs.parquet`` and
    ``compare.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "compare.json", "pairs": out / "pairs.parquet"}
    doc = {"summary": _jsonable(res.summary), "pairs": [_jsonable(r) for r in res.pairs.to_dicts()],
           "seed": res.seed, "config": _jsonable(res.config.as_dict())}
    paths["json"].write_text(json.dumps(doc, indent=2) + "\n")
    res.pairs.write_parquet(paths["pairs"])
    if plot and res.experiment:
        paths["plot"] = out / "compare.png"
        plot_compare(res, paths["plot"])
    return paths


def _fig(nrows: int, heights):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": heights})
    for ax in axes:
        ax.grid(True, alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes, plt


def _shade_warmup(axes, warmup_min: float) -> None:
    if warmup_min > 0:
        for ax in axes:
            ax.axvspan(0, warmup_min, color="0.92", zorder=0)
        axes[-1].text(warmup_min / 2, 0.04, "warm-up", transform=axes[-1].get_xaxis_transform(), ha="center",
                      va="bottom", fontsize=8, color="0.4")


def plot_run(res: RunResult, path: str | Path) -> None:
    """``pnl.png``: the mid with the agent's buys and sells, its PnL (mark-to-market and realised, drawdown
    shaded) and its inventory, against simulated minutes; the warm-up shaded."""
    tl = res.timeline
    s = res.summary
    m = res.config.market
    t = tl["t_s"].to_numpy() / 60
    fig, (ax1, ax2, ax3), plt = _fig(3, [3, 2, 1])
    ax1.plot(t, tl["mid"].to_numpy(), lw=0.8, color="0.2", label="mid")
    inv = tl["inventory"].to_numpy()
    dinv = np.diff(inv, prepend=0)
    mid = tl["mid"].to_numpy()
    if res.trades is not None and res.trades.height:
        tr = res.trades
        mine_buy = tr.filter(((pl.col("taker_owner") == 0) & (pl.col("aggressor") == 1))
                             | ((pl.col("maker_owner") == 0) & (pl.col("aggressor") == -1)))
        mine_sell = tr.filter(((pl.col("taker_owner") == 0) & (pl.col("aggressor") == -1))
                              | ((pl.col("maker_owner") == 0) & (pl.col("aggressor") == 1)))
        for d, c, mk, lab in ((mine_buy, _BUY_C, "^", "agent buys"), (mine_sell, _SELL_C, "v", "agent sells")):
            if d.height:
                ax1.scatter(d["ts"].to_numpy() / 6e10, d["px"].to_numpy(), s=22, c=c, marker=mk, zorder=3, label=lab)
    else:
        b, sl = dinv > 0, dinv < 0
        ax1.scatter(t[b], mid[b], s=22, c=_BUY_C, marker="^", zorder=3, label="agent buys")
        ax1.scatter(t[sl], mid[sl], s=22, c=_SELL_C, marker="v", zorder=3, label="agent sells")
    ax1.set_ylabel("price")
    ax1.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
    pnl = tl["pnl"].to_numpy()
    post = tl["t_ns"].to_numpy() >= m.warmup_ns
    peak = np.maximum.accumulate(np.where(post, pnl, -np.inf))
    ax2.fill_between(t, np.where(post, pnl, np.nan), np.where(post, peak, np.nan), color=_SELL_C, alpha=0.15,
                     lw=0, label="drawdown")
    ax2.plot(t, pnl, color=_EXP_C, lw=1.2, label="mark-to-market PnL")
    ax2.plot(t, tl["realised"].to_numpy(), color=_EXP_C, lw=0.8, ls="--", alpha=0.7, label="realised PnL")
    ax2.axhline(0, color="0.5", lw=0.6)
    ax2.set_ylabel("PnL")
    ax2.legend(loc="upper left", fontsize=8, frameon=False, ncol=3)
    ax3.step(t, inv, where="post", color="0.3", lw=1)
    ax3.axhline(0, color="0.5", lw=0.6)
    ax3.set_ylabel("inventory")
    ax3.set_xlabel("simulated time (min)")
    _shade_warmup((ax1, ax2, ax3), m.warmup_ns / 6e10)
    fig.suptitle(f"{s['agent']} agent, seed {res.seed}: PnL {s['final_pnl']:+.4g}, {s['n_trades']} fills, "
                 f"max drawdown {s['max_drawdown']:.3g}, fees {s['fees']:.3g} | mean spread "
                 f"{s['mean_spread_ticks']:.2f} ticks, {s['n_events']:,} events", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_compare(res: CompareResult, path: str | Path) -> None:
    """``compare.png``: the two mid paths of the first seed pair, their difference (the strategy's footprint on
    the price, in ticks), and the strategy's PnL in every pair (mean in bold)."""
    b0, e0 = res.baseline[0], res.experiment[0]
    m = res.config.market
    t = e0.timeline["t_s"].to_numpy() / 60
    fig, (ax1, ax2, ax3), plt = _fig(3, [3, 1.4, 2])
    ax1.plot(t, b0.timeline["mid"].to_numpy(), color=_BASE_C, lw=1.6, label="baseline (null agent)")
    ax1.plot(t, e0.timeline["mid"].to_numpy(), color=_EXP_C, lw=0.9, label=f"with the {e0.summary['agent']} agent")
    ax1.set_ylabel("mid price")
    ax1.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
    diff = (e0.timeline["mid"].to_numpy() - b0.timeline["mid"].to_numpy()) / m.tick_size
    ax2.fill_between(t, 0, diff, where=diff >= 0, color=_BUY_C, alpha=0.5, lw=0, step="post")
    ax2.fill_between(t, 0, diff, where=diff < 0, color=_SELL_C, alpha=0.5, lw=0, step="post")
    ax2.axhline(0, color="0.5", lw=0.6)
    ax2.set_ylabel("mid diff (ticks)")
    curves = [e.timeline["pnl"].to_numpy() for e in res.experiment]
    for c in curves:
        ax3.plot(t, c, color=_EXP_C, lw=0.6, alpha=0.35 if len(curves) > 1 else 1.0)
    if len(curves) > 1:
        ax3.plot(t, np.mean(curves, axis=0), color=_EXP_C, lw=2, label=f"mean of {len(curves)} seed pairs")
        ax3.legend(loc="upper left", fontsize=8, frameon=False)
    ax3.axhline(0, color="0.5", lw=0.6)
    ax3.set_ylabel("strategy PnL")
    ax3.set_xlabel("simulated time (min)")
    _shade_warmup((ax1, ax2, ax3), m.warmup_ns / 6e10)
    s = res.summary
    ci = ""
    if s["repeats"] > 1:
        ci = f" [95% CI {s['pnl_ci_low']:+.3g}, {s['pnl_ci_high']:+.3g}]"
    fig.suptitle(f"Counterfactual, {s['repeats']} seed pair(s): PnL {s['pnl_mean']:+.4g}{ci} | impact: mean mid "
                 f"diff {s['mid_diff_mean_mean'] / m.tick_size:+.2f} ticks, spread diff "
                 f"{s['spread_diff_mean'] / m.tick_size:+.3f} ticks, volume diff {s['volume_diff_mean']:+.0f} lots",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
