"""The numbers of a run (:func:`summarise`) and of a seed pair of a counterfactual (:func:`pair_impact`)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from lobkit.agents.nb import AG_N_REJECTED, AG_NEXT_OID, AGENT_OID_BASE
from lobkit.sim import nb as snb
from lobkit.sim.config import NS_PER_S


def summarise(tl: pl.DataFrame, sim, i: int = 0) -> dict:
    """The flat summary of a run, computed on the part after the warm-up.

    Strategy (agent ``i``): ``final_pnl`` (mark-to-market at the final mid, fees deducted, currency),
    ``realised_pnl``, ``n_trades`` (fills), ``n_orders``, ``rejected_orders`` (orders the engine refused),
    ``final_position``, ``max_drawdown`` (largest fall of the PnL from its running peak), ``sharpe`` (mean / std of
    the PnL increments on the sampling grid, not annualised), ``fees``, ``agent_volume``, and what the agent's
    :meth:`~lobkit.agents.Agent.run_summary` adds (the momentum agent: ``n_crossovers``). Market:
    ``mean_spread`` (currency) and ``mean_spread_ticks`` on the grid, ``realised_vol`` (square root of the summed
    squared log-returns of the mid on the grid, per square-root hour), ``volume`` (lots traded by everyone),
    ``n_events`` (background events), ``events_per_sim_s``, ``mean_depth_orders`` (resting orders a side),
    ``empty_side_samples`` (grid points with a side empty), ``background_rejected_orders``,
    ``unfilled_market_lots``, ``mid_start``, ``mid_end``, and the flow model's own counts.
    """
    m = sim.cfg.market
    st = sim.state
    post = tl.filter(pl.col("t_ns") >= m.warmup_ns)
    pnl = post["pnl"].to_numpy()
    d = np.diff(pnl)
    sd = float(d.std()) if len(d) > 1 else 0.0
    peak = np.maximum.accumulate(pnl) if len(pnl) else pnl
    mid = post["mid"].to_numpy()
    lr = np.diff(np.log(mid)) if len(mid) > 1 else np.zeros(0)
    hours = (m.duration_ns - m.warmup_ns) / (3600 * NS_PER_S)
    spread = post["spread_ticks"].drop_nulls().to_numpy()
    ev = post["events"].to_numpy()
    vol = post["volume"].to_numpy()
    acc = st.accounts
    scalars = st.scalars
    agent = sim.agents[i]
    row = st.agents[i]
    out = {
        "final_pnl": float(pnl[-1]) if len(pnl) else 0.0,
        "realised_pnl": float(post["realised"][-1]) if len(pnl) else 0.0,
        "n_trades": int(acc[i, snb.A_FILLS]),
        "n_orders": int(row[AG_NEXT_OID] - AGENT_OID_BASE * (i + 1)),
        "rejected_orders": int(row[AG_N_REJECTED]),
        "final_position": int(acc[i, snb.A_INVENTORY]),
        "max_drawdown": float((peak - pnl).max()) if len(pnl) else 0.0,
        "sharpe": float(d.mean() / sd) if sd > 0 else 0.0,
        "fees": float(post["fees"][-1]) if len(pnl) else 0.0,
        "agent_volume": int(acc[i, snb.A_VOLUME]),
        "mean_spread": float(spread.mean() * m.tick_size) if len(spread) else float("nan"),
        "mean_spread_ticks": float(spread.mean()) if len(spread) else float("nan"),
        "realised_vol": float(math.sqrt(float((lr**2).sum()) / hours)) if hours > 0 else 0.0,
        "volume": int(vol[-1] - vol[0]) if len(vol) else 0,
        "n_events": int(ev[-1] - ev[0]) if len(ev) else 0,
        "n_events_total": int(scalars[snb.S_N_EVENTS]),
        "events_per_sim_s": float((ev[-1] - ev[0]) / (hours * 3600)) if len(ev) and hours > 0 else 0.0,
        "mean_depth_orders": float((post["bid_orders"].mean() + post["ask_orders"].mean()) / 2) if len(pnl) else 0.0,
        "empty_side_samples": int(((post["bid_orders"] == 0) | (post["ask_orders"] == 0)).sum()),
        "background_rejected_orders": int(scalars[snb.S_N_REJECTED]),
        "unfilled_market_lots": int(scalars[snb.S_UNFILLED_LOTS]),
        "mid_start": float(mid[0]) if len(mid) else float("nan"),
        "mid_end": float(mid[-1]) if len(mid) else float("nan"),
        "duration_s": m.duration_ns / NS_PER_S,
        "warmup_s": m.warmup_ns / NS_PER_S,
        "sample_s": m.sample_ns / NS_PER_S,
        "agent": agent.name,
        "flow": sim.cfg.flow.name,
    }
    out.update(agent.run_summary(row))
    out.update(sim.flow_model.summary(sim.flow))
    return out


def pair_impact(base, exp, warmup_ns: int, tick_size: float) -> dict:
    """One seed pair of a counterfactual (experiment minus baseline, after the warm-up).

    ``pnl``: the strategy's PnL in the experiment; ``paper_pnl``: what the same strategy's decisions earn on the
    baseline's market, filled on paper at the prices shown without moving them (the baseline runs the strategy
    in paper mode, so its market is the do-nothing market); ``impact_cost = paper_pnl - pnl``: what the strategy's
    own footprint cost it. Market impact: mid differences (currency; ``*_ticks`` in ticks), spread, volume and
    volatility differences.
    """
    b = base.timeline.filter(pl.col("t_ns") >= warmup_ns)
    e = exp.timeline.filter(pl.col("t_ns") >= warmup_ns)
    dm = e["mid"].to_numpy() - b["mid"].to_numpy()
    bs, es = base.summary, exp.summary
    return {
        "pnl": es["final_pnl"],
        "paper_pnl": bs["final_pnl"],
        "impact_cost": bs["final_pnl"] - es["final_pnl"],
        "n_trades": es["n_trades"],
        "final_position": es["final_position"],
        "max_drawdown": es["max_drawdown"],
        "fees": es["fees"],
        "mid_diff_mean": float(dm.mean()) if len(dm) else 0.0,
        "mid_diff_abs_mean": float(np.abs(dm).mean()) if len(dm) else 0.0,
        "mid_diff_final": float(dm[-1]) if len(dm) else 0.0,
        "mid_diff_final_ticks": float(dm[-1] / tick_size) if len(dm) else 0.0,
        "mid_diff_max_abs": float(np.abs(dm).max()) if len(dm) else 0.0,
        "spread_diff": es["mean_spread"] - bs["mean_spread"],
        "volume_diff": es["volume"] - bs["volume"],
        "realised_vol_diff": es["realised_vol"] - bs["realised_vol"],
        "baseline_volume": bs["volume"],
        "baseline_mean_spread": bs["mean_spread"],
    }


def coupling_variance_ratio(paired: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """How much common random numbers shrink the variance of a paired difference.

    ``paired[i] = first[i] - second[i]`` on seed pair i (common random numbers); the reference pairs ``first[i]``
    with ``second[i + 1]`` (independent seeds, cyclically). Returns ``var(paired) / var(reference)``: 1 means the
    coupling does nothing, 0 that the difference is the same in every pair. NaN for fewer than three pairs.
    """
    n = len(paired)
    if n < 3:
        return float("nan")
    ref = np.asarray(first, np.float64) - np.roll(np.asarray(second, np.float64), -1)
    v_ref = float(np.var(ref, ddof=1))
    return float(np.var(np.asarray(paired, np.float64), ddof=1) / v_ref) if v_ref > 0 else float("nan")
