"""Files and figures of runs, comparisons and impulse responses: Parquet tables, JSON summaries, PNGs.

Every writer stages its files in a temporary directory inside ``out`` and moves them into place only when all
were written; the files of an earlier result of the same kind that this one does not produce (``orders.parquet``
of a recorded run, then a run with ``--no-record``) are removed, so a directory never mixes two results. A
failure (disk full, a bad path) leaves the earlier files as they were and no temporary files behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from lobkit.errors import ConfigError
from lobkit.sim.results import CompareResult, RunResult

_BUY_C = "#1a9850"
_SELL_C = "#d73027"
_EXP_C = "#2166ac"
_BASE_C = "#969696"

#: What each writer produces (and removes when it does not produce it this time).
RUN_FILES = ("orders.parquet", "trades.parquet", "agent_orders.parquet", "pnl.parquet", "timeline.parquet",
             "accounts.parquet", "summary.json", "pnl.png")
COMPARE_FILES = ("compare.json", "pairs.parquet", "compare.png")
IMPACT_FILES = ("impact.json", "impact.parquet", "impact_final.parquet", "impact.png")


def check_out_dir(out: str | Path) -> Path:
    """Create the output directory ``out`` if needed and check that files can be written there.

    Raises :class:`ConfigError` naming the path and the reason (a parent is a file, no permission, a read-only or
    virtual file system such as /proc) before any simulation runs.
    """
    p = Path(out)
    try:
        if p.exists() and not p.is_dir():
            raise ConfigError(f"--out {out}: exists and is not a directory")
        for parent in p.parents:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a directory")
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".lobkit-probe-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except ConfigError:
        raise
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return p


def _stage(out: str | Path, files: tuple[str, ...], write: Callable[[Path], dict[str, Path]]) -> dict[str, Path]:
    """Run ``write(tmpdir)`` and move what it wrote into ``out``; remove the other ``files`` from ``out``."""
    out = check_out_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=".lobkit-tmp-", dir=out))
    try:
        written = write(tmp)
        for name in files:
            if name not in {p.name for p in written.values()}:
                (out / name).unlink(missing_ok=True)
        final = {}
        # the summary last: a directory whose summary is there holds a whole result
        for key, p in sorted(written.items(), key=lambda kv: kv[1].suffix == ".json"):
            dest = out / p.name
            os.replace(p, dest)
            final[key] = dest
        return final
    except OSError as exc:
        raise ConfigError(f"--out {out}: writing failed ({exc.strerror or exc}); the earlier files are unchanged") \
            from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.floating):
            out[k] = float(v)
        elif isinstance(v, np.bool_):
            out[k] = bool(v)
        else:
            out[k] = v
    return out


def _config_json(cfg) -> dict:
    return {k: (repr(v) if not isinstance(v, str | int | float | bool | type(None)) else v)
            for k, v in _jsonable(cfg.as_dict()).items()}


def write_run(res: RunResult, out: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write a run to ``out/``: ``orders.parquet`` and ``trades.parquet`` (when recorded), ``agent_orders.parquet``
    (the agent's own orders), ``pnl.parquet`` (the agent's PnL, inventory and cash and the mid on the sampling
    grid), ``timeline.parquet`` (the whole grid), ``accounts.parquet``, ``summary.json`` (summary, config, seed,
    refused orders) and ``pnl.png``. Returns the paths. Raises ConfigError for an unusable ``out``."""

    def write(d: Path) -> dict[str, Path]:
        paths = {}
        if res.orders is not None:
            paths["orders"] = d / "orders.parquet"
            res.orders.write_parquet(paths["orders"])
        if res.trades is not None:
            paths["trades"] = d / "trades.parquet"
            res.trades.write_parquet(paths["trades"])
        if res.agent_orders is not None:
            paths["agent_orders"] = d / "agent_orders.parquet"
            res.agent_orders.write_parquet(paths["agent_orders"])
        paths["pnl"] = d / "pnl.parquet"
        res.timeline.select(["t_ns", "t_s", "mid", "pnl", "realised", "inventory", "cash", "fees"]).write_parquet(
            paths["pnl"])
        paths["timeline"] = d / "timeline.parquet"
        res.timeline.write_parquet(paths["timeline"])
        paths["accounts"] = d / "accounts.parquet"
        res.accounts.write_parquet(paths["accounts"])
        if plot:
            paths["plot"] = d / "pnl.png"
            plot_run(res, paths["plot"])
        paths["summary"] = d / "summary.json"
        doc = {"summary": _jsonable(res.summary), "seed": res.seed, "config": _config_json(res.config),
               "refused_orders": res.rejections, "wall_seconds": res.wall_seconds}
        paths["summary"].write_text(json.dumps(doc, indent=2) + "\n")
        return paths

    return _stage(out, RUN_FILES, write)


def write_compare(res: CompareResult, out: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write a comparison to ``out/``: ``compare.json`` (summary, per-pair rows, config, seed), ``pairs.parquet``
    and ``compare.png``."""

    def write(d: Path) -> dict[str, Path]:
        paths = {"pairs": d / "pairs.parquet"}
        res.pairs.write_parquet(paths["pairs"])
        if plot and res.experiment:
            paths["plot"] = d / "compare.png"
            plot_compare(res, paths["plot"])
        paths["json"] = d / "compare.json"
        doc = {"summary": _jsonable(res.summary), "pairs": [_jsonable(r) for r in res.pairs.to_dicts()],
               "seed": res.seed, "config": _config_json(res.config)}
        paths["json"].write_text(json.dumps(doc, indent=2) + "\n")
        return paths

    return _stage(out, COMPARE_FILES, write)


def write_impact(res, out: str | Path, plot: bool = True) -> dict[str, Path]:
    """Write an impulse response to ``out/``: ``impact.json`` (summary, config, seed), ``impact.parquet`` (the
    curves: lots, lag_s, mean_ticks, ci_low, ci_high, sd_ticks, pairs), ``impact_final.parquet`` (every pair's
    difference at the horizon) and ``impact.png``."""

    def write(d: Path) -> dict[str, Path]:
        paths = {"curves": d / "impact.parquet", "final": d / "impact_final.parquet"}
        res.curves.write_parquet(paths["curves"])
        res.final.write_parquet(paths["final"])
        if plot:
            paths["plot"] = d / "impact.png"
            plot_impact(res, paths["plot"])
        paths["json"] = d / "impact.json"
        doc = {"summary": _jsonable(res.summary), "seed": res.seed, "lots": list(res.lots), "side": res.side,
               "horizon_s": res.horizon_s, "config": _config_json(res.config)}
        paths["json"].write_text(json.dumps(doc, indent=2) + "\n")
        return paths

    return _stage(out, IMPACT_FILES, write)


# ------------------------------------------------------------------------------------------------ figures
def _fig(nrows: int, heights, figsize=(11, 8)):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, 1, figsize=figsize, sharex=True, gridspec_kw={"height_ratios": heights},
                             squeeze=False)
    axes = axes[:, 0]
    for ax in axes:
        ax.grid(True, alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes, plt


def _save(fig, plt, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _shade_warmup(axes, warmup_min: float) -> None:
    if warmup_min > 0:
        for ax in axes:
            ax.axvspan(0, warmup_min, color="0.92", zorder=0)
        axes[-1].text(warmup_min / 2, 0.04, "warm-up", transform=axes[-1].get_xaxis_transform(), ha="center",
                      va="bottom", fontsize=8, color="0.4")


def _legend(ax, **kw) -> None:
    """A legend outside the data: above the axes, in one row."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False, ncol=4, borderaxespad=0.2,
              **kw)


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
    _legend(ax1)
    pnl = tl["pnl"].to_numpy()
    post = tl["t_ns"].to_numpy() >= m.warmup_ns
    peak = np.maximum.accumulate(np.where(post, pnl, -np.inf))
    ax2.axhline(0, color="0.6", lw=0.6, zorder=1)
    ax2.fill_between(t, np.where(post, pnl, np.nan), np.where(post, peak, np.nan), color=_SELL_C, alpha=0.15,
                     lw=0, label="drawdown", zorder=2)
    # realised drawn over the mark-to-market line (dashed, in another colour) so that both stay visible
    ax2.plot(t, pnl, color=_EXP_C, lw=1.4, label="mark-to-market PnL", zorder=3)
    ax2.plot(t, tl["realised"].to_numpy(), color="#e08214", lw=1.0, ls="--", label="realised PnL", zorder=4)
    ax2.set_ylabel("PnL")
    _legend(ax2)
    ax3.step(t, inv, where="post", color="0.3", lw=1)
    ax3.axhline(0, color="0.6", lw=0.6)
    ax3.set_ylabel("inventory")
    ax3.set_xlabel("simulated time (min)")
    _shade_warmup((ax1, ax2, ax3), m.warmup_ns / 6e10)
    fig.suptitle(f"{s['agent']} agent, seed {res.seed}: PnL {s['final_pnl']:+.4g}, {s['n_trades']} fills, "
                 f"max drawdown {s['max_drawdown']:.3g}, fees {s['fees']:.3g} | mean spread "
                 f"{s['mean_spread_ticks']:.2f} ticks, {s['n_events']:,} events", fontsize=10)
    _save(fig, plt, path)


def plot_compare(res: CompareResult, path: str | Path) -> None:
    """``compare.png``: the two mid paths of the first seed pair, their difference (the strategy's footprint on
    the price, in ticks), and the strategy's PnL and paper PnL in every pair (means in bold)."""
    b0, e0 = res.baseline[0], res.experiment[0]
    m = res.config.market
    t = e0.timeline["t_s"].to_numpy() / 60
    fig, (ax1, ax2, ax3), plt = _fig(3, [3, 1.4, 2])
    ax1.plot(t, b0.timeline["mid"].to_numpy(), color=_BASE_C, lw=1.6, label="baseline (orders on paper)")
    ax1.plot(t, e0.timeline["mid"].to_numpy(), color=_EXP_C, lw=0.9, label=f"with the {e0.summary['agent']} agent")
    ax1.set_ylabel("mid price")
    _legend(ax1)
    diff = (e0.timeline["mid"].to_numpy() - b0.timeline["mid"].to_numpy()) / m.tick_size
    ax2.fill_between(t, 0, diff, where=diff >= 0, color=_BUY_C, alpha=0.5, lw=0, step="post")
    ax2.fill_between(t, 0, diff, where=diff < 0, color=_SELL_C, alpha=0.5, lw=0, step="post")
    ax2.axhline(0, color="0.5", lw=0.6)
    ax2.set_ylabel("mid diff (ticks)")
    curves = [e.timeline["pnl"].to_numpy() for e in res.experiment]
    papers = [b.timeline["pnl"].to_numpy() for b in res.baseline]
    many = len(curves) > 1
    for c, p in zip(curves, papers, strict=True):
        ax3.plot(t, p, color=_BASE_C, lw=0.6, alpha=0.35 if many else 1.0)
        ax3.plot(t, c, color=_EXP_C, lw=0.6, alpha=0.35 if many else 1.0)
    ax3.plot(t, np.mean(papers, axis=0), color=_BASE_C, lw=2, label="paper PnL (no impact)" + (" mean" if many else ""))
    ax3.plot(t, np.mean(curves, axis=0), color=_EXP_C, lw=2, label="strategy PnL" + (" mean" if many else ""))
    _legend(ax3)
    ax3.axhline(0, color="0.5", lw=0.6)
    ax3.set_ylabel("PnL")
    ax3.set_xlabel("simulated time (min)")
    _shade_warmup((ax1, ax2, ax3), m.warmup_ns / 6e10)
    s = res.summary
    ci = ""
    if s["repeats"] > 1:
        ci = f" [95% CI {s['pnl_ci_low']:+.3g}, {s['pnl_ci_high']:+.3g}]"
    fig.suptitle(f"Counterfactual, {s['repeats']} seed pair(s): PnL {s['pnl_mean']:+.4g}{ci}, impact cost "
                 f"{s['impact_cost_mean']:+.3g} | mean mid diff {s['mid_diff_mean_mean'] / m.tick_size:+.2f} ticks, "
                 f"volume diff {s['volume_diff_mean']:+.0f} lots", fontsize=10)
    _save(fig, plt, path)


def plot_impact(res, path: str | Path) -> None:
    """``impact.png``: for each order size, the mean mid difference (ticks) against the time since the order with
    its 95% band (left), and the mean and its band at the horizon against the size (right)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [2.2, 1]})
    cmap = plt.get_cmap("viridis")
    for j, q in enumerate(res.lots):
        c = res.curves.filter(pl.col("lots") == q)
        col = cmap(j / max(1, len(res.lots) - 1))
        lag = c["lag_s"].to_numpy()
        # log-spaced lags: every sample of the first seconds, fewer later (the band would be a blur)
        keep = np.unique(np.concatenate([[0], np.searchsorted(lag, np.geomspace(1.0, max(lag[-1], 1.0), 80))]))
        keep = keep[keep < len(lag)]
        ax1.fill_between(lag[keep], c["ci_low"].to_numpy()[keep], c["ci_high"].to_numpy()[keep], color=col,
                         alpha=0.18, lw=0)
        ax1.plot(lag[keep], c["mean_ticks"].to_numpy()[keep], color=col, lw=1.4, label=f"{q} lot{'s' * (q != 1)}")
    ax1.axhline(0, color="0.5", lw=0.6)
    ax1.set_xscale("symlog", linthresh=1.0)
    ax1.set_xlim(left=0)
    ax1.set_xlabel("time since the order (s)")
    ax1.set_ylabel("mid difference (ticks)")
    _legend(ax1)
    s = res.summary
    qs = np.array(res.lots, dtype=float)
    mean = np.array([s[f"mean_ticks_{q}"] for q in res.lots])
    lo = np.array([s[f"ci_low_{q}"] for q in res.lots])
    hi = np.array([s[f"ci_high_{q}"] for q in res.lots])
    ax2.errorbar(qs, mean, yerr=[mean - lo, hi - mean], fmt="o-", color=_EXP_C, capsize=3)
    ax2.set_xscale("log")
    ax2.set_xlabel("order size (lots)")
    ax2.set_ylabel(f"mid difference after {res.horizon_s:g} s (ticks)")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"Impulse response: one {res.side} market order at the end of the warm-up, {s['pairs']} seed pairs "
                 f"per size (seed {res.seed})", fontsize=10)
    _save(fig, plt, path)
