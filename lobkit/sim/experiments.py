"""Experiments on the simulator: one run (:func:`simulate`), a counterfactual (:func:`compare`) and an
impulse response (:func:`impulse_response`).

``simulate(cfg, seed)`` is pure: the same configuration and seed give the same result to the bit, in any process
and whatever the chunking of the loop (progress bar or not, jitted or Python agent).

Counterfactuals run a baseline and an experiment on the same seed: common random numbers. The order-flow
models are sampled so that the two runs stay *coupled* (see :mod:`lobkit.flows.hawkes`): after the strategy
perturbs the book, the baseline and the experiment still see the same sequence of background events, at nearly
the same times, with the same marks, so their difference is the strategy's impact and not a reshuffled future.
:func:`impulse_response` measures how well that holds for any flow model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from lobkit.agents import Agent
from lobkit.errors import ConfigError
from lobkit.seeds import child, label, seed_sequence
from lobkit.sim.config import NS_PER_S, RunConfig, check_repeats, parse_duration
from lobkit.sim.metrics import coupling_variance_ratio, pair_impact
from lobkit.sim.results import CompareResult, RunResult
from lobkit.stats import mean_ci
from lobkit.validate import show


def simulate(cfg: RunConfig, seed=None, agent: Agent | None = None, *, jit: bool = True, progress: bool = False,
             paper: bool = False) -> RunResult:
    """Run one simulation. Pure: the same ``cfg`` and ``seed`` give the same result to the bit.

    ``seed``: None (fresh entropy, recorded in ``result.seed``), an int or a SeedSequence. ``agent``: a custom
    :class:`~lobkit.agents.Agent` instead of the one ``cfg.agent`` describes (it runs in Python unless it has a
    jitted form). ``jit=False`` runs the built-in agent's Python form (same results, slower). ``paper``: the
    agent trades on paper (its orders are filled against the book as shown and never change it: the market is
    the do-nothing market). ``progress``: a tqdm bar.
    """
    from lobkit.agents.nb import AG_PAPER
    from lobkit.sim.simulation import Simulation

    sim = Simulation(cfg, seed, agents=None if agent is None else [agent], jit=jit)
    if paper:
        sim.state.agents[0, AG_PAPER] = 1
    return sim.run(progress=progress)


def _fresh(agent: Agent) -> Agent:
    import copy

    return copy.deepcopy(agent)


def paper_schedule(run: RunResult, agent: int = 0) -> np.ndarray:
    """The orders agent ``agent`` of ``run`` sent that reached the book (market and limit orders with status OK),
    as a replay schedule (int64[N, SCHEDULE_COLS]: time, op, side, price, size)."""
    from lobkit.agents.nb import SCHEDULE_COLS
    from lobkit.engine.messages import OK, OP_LIMIT, OP_MARKET

    o = run.agent_orders.filter((pl.col("owner") == agent) & pl.col("op").is_in([OP_MARKET, OP_LIMIT])
                                & (pl.col("status") == OK))
    out = np.zeros((o.height, SCHEDULE_COLS), np.int64)
    for j, name in enumerate(("ts", "op", "side", "price", "size")):
        out[:, j] = o[name].to_numpy()
    return out


def paper_baseline(run: RunResult, seed, *, fee_per_lot: float | None = None, fee_bps: float | None = None
                   ) -> RunResult:
    """The do-nothing baseline of ``run`` (a finished run of ``run.config`` on ``seed``): the same market with the
    run's own orders replayed on paper (see :func:`compare`). ``fee_per_lot``/``fee_bps``: the agent's fees
    (default: the configuration's). The pair's figures are ``pair_impact(baseline, run, ...)``
    (:func:`lobkit.sim.metrics.pair_impact`)."""
    from lobkit.agents.replay import ReplayAgent

    cfg = run.config
    replay = ReplayAgent(paper_schedule(run),
                         fee_per_lot=cfg.agent.fee_per_lot if fee_per_lot is None else fee_per_lot,
                         fee_bps=cfg.agent.fee_bps if fee_bps is None else fee_bps)
    return simulate(cfg, seed, agent=replay, paper=True)


def compare(cfg: RunConfig, seed=None, repeats: int = 1, *, agent: Agent | None = None, keep_runs: bool = True,
            progress: bool = False) -> CompareResult:
    """Counterfactual: for each of ``repeats`` seeds, the experiment (the strategy) and its baseline on that seed
    (common random numbers). Seed pair 0 uses ``seed`` itself (its experiment equals ``simulate(cfg, seed)``),
    pair i > 0 its child i.

    The baseline is the do-nothing market with the experiment's own orders replayed *on paper*: the same orders
    at the same times, filled against the book as it shows without changing it (market orders and the
    marketable part of limit orders; a resting remainder is not simulated on paper). Its market equals a
    :class:`~lobkit.agents.NullAgent` run to the bit; its PnL (``paper_pnl``) is what the strategy's trades would
    have earned without their footprint, and ``impact_cost = paper_pnl - pnl`` what the footprint cost.

    ``pairs``: one row per pair (:func:`lobkit.sim.metrics.pair_impact`); ``summary``: for each quantity its mean
    and 95% confidence interval (``<name>_mean``, ``<name>_ci_low``, ``<name>_ci_high``), ``repeats``, and with
    three pairs or more ``coupling_variance_ratio``: the variance of ``pnl - paper_pnl`` across the pairs over its
    variance when the two come from independent seeds (small: the comparison measures the strategy's impact, not
    noise).
    """
    repeats = check_repeats(repeats)
    ss = seed_sequence(seed)
    rows, bases, exps = [], [], []
    it = range(repeats)
    if progress and repeats > 1:
        from tqdm import tqdm

        it = tqdm(it, desc="seed pairs", unit="pair")
    fee_per_lot, fee_bps = (cfg.agent.fee_per_lot, cfg.agent.fee_bps) if agent is None else (agent.fee_per_lot,
                                                                                               agent.fee_bps)
    for r in it:
        s = ss if r == 0 else child(ss, r)
        e = simulate(cfg, s, agent=None if agent is None else _fresh(agent), progress=progress and repeats == 1)
        b = paper_baseline(e, s, fee_per_lot=fee_per_lot, fee_bps=fee_bps)
        rows.append({"pair": r, "seed": label(s)} | pair_impact(b, e, cfg.market.warmup_ns, cfg.market.tick_size))
        if keep_runs:
            bases.append(b)
            exps.append(e)
    pairs = pl.DataFrame(rows)
    summary: dict = {"repeats": repeats, "seed": label(ss)}
    for col in pairs.columns:
        if col in ("pair", "seed"):
            continue
        mu, lo, hi = mean_ci(pairs[col].to_numpy())
        summary[f"{col}_mean"] = mu
        summary[f"{col}_ci_low"] = lo
        summary[f"{col}_ci_high"] = hi
    pnl, paper = pairs["pnl"].to_numpy(), pairs["paper_pnl"].to_numpy()
    summary["coupling_variance_ratio"] = coupling_variance_ratio(pnl - paper, pnl, paper)
    return CompareResult(config=cfg, seed=label(ss), pairs=pairs, summary=summary, baseline=bases, experiment=exps)


# ------------------------------------------------------------------------------------------------ impulse response
@dataclass
class ImpactResult:
    """An impulse-response experiment (:func:`impulse_response`).

    ``curves``: one row per (``lots``, ``lag_s``): ``mean_ticks`` (mean mid difference, experiment minus baseline,
    in ticks), ``ci_low``/``ci_high`` (95% Student-t band of the mean), ``sd_ticks`` (standard deviation across the
    pairs), ``pairs``. ``summary``: per size, the mean (``mean_ticks_Q``), its 95% band (``ci_low_Q``,
    ``ci_high_Q``) and the standard deviation across pairs (``sd_ticks_Q``) at the horizon; ``increasing`` (the
    means never decrease with the size) and ``concave`` (the slopes between consecutive sizes never increase).
    ``final``: the mid difference of every pair at the horizon (ticks), one column per size.
    """

    config: RunConfig
    seed: str
    lots: tuple[int, ...]
    side: str
    horizon_s: float
    curves: pl.DataFrame
    final: pl.DataFrame
    summary: dict = field(default_factory=dict)


def impulse_response(cfg: RunConfig, seed=None, *, lots=(1, 5, 25, 100), pairs: int = 32, horizon: Any = "10min",
                     side: str = "buy", progress: bool = False) -> ImpactResult:
    """The mid-price response to one market order of ``q`` lots, for each ``q`` in ``lots``.

    Each pair runs the market without the order (the baseline) and with it (one market order of ``q`` lots at the
    end of the warm-up, ``side`` buy or sell), on the same seed; pair i uses child i of ``seed``. The mid paths
    are compared on the sampling grid from the order to ``horizon`` after it (the run lasts warm-up + horizon).
    Common random numbers and the flow's coupling make the difference the order's impact: its spread across the
    pairs measures how well a flow model couples (target: a standard deviation of at most 2 ticks 10 minutes
    after a 1-lot order).

    Raises :class:`ConfigError` for bad sizes, a bad side, fewer than 2 pairs or a bad horizon.
    """
    from lobkit.agents.impulse import ImpulseAgent
    from lobkit.validate import check_value

    lots = tuple(lots) if isinstance(lots, list | tuple) else (lots,)
    if not lots:
        raise ConfigError("lots: give at least one order size")
    from lobkit.sim.config import MAX_AGENT_LOTS

    for q in lots:
        check_value("lots", q, "int", lo=1, hi=MAX_AGENT_LOTS, unit="lots")
    if side not in ("buy", "sell"):
        raise ConfigError(f"side: buy or sell, got {show(side)}")
    check_value("pairs", pairs, "int", lo=2, hi=100_000)
    horizon_ns = parse_duration(horizon, "horizon")
    if horizon_ns < cfg.market.sample_ns:
        raise ConfigError("horizon: must be at least one sample of the grid")
    m = replace(cfg.market, duration_ns=cfg.market.warmup_ns + horizon_ns)
    # one decision (at the end of the warm-up): the interval is the whole horizon, less one ns
    run_cfg = replace(cfg, market=m, agent=replace(cfg.agent, name="null", params=None, interval_ns=horizon_ns - 1),
                      record=False)
    ss = seed_sequence(seed)
    it = range(pairs)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="impulse pairs", unit="pair")
    diffs = {q: [] for q in lots}
    t_s = None
    for r in it:
        s = child(ss, r)
        base = simulate(run_cfg, s)
        b_mid = base.timeline.filter(pl.col("t_ns") >= m.warmup_ns)
        if t_s is None:
            t_s = (b_mid["t_ns"].to_numpy() - m.warmup_ns) / NS_PER_S
        for q in lots:
            agent = ImpulseAgent(lots=q, side=side, interval_ns=horizon_ns - 1)
            exp = simulate(run_cfg, s, agent=agent)
            e_mid = exp.timeline.filter(pl.col("t_ns") >= m.warmup_ns)
            diffs[q].append((e_mid["mid"].to_numpy() - b_mid["mid"].to_numpy()) / m.tick_size)
    rows = []
    final = {}
    summary: dict = {"pairs": pairs, "side": side, "horizon_s": horizon_ns / NS_PER_S, "seed": label(ss)}
    for q in lots:
        d = np.vstack(diffs[q])  # (pairs, lags)
        mean = d.mean(axis=0)
        sd = d.std(axis=0, ddof=1)
        from lobkit.stats import t975

        h = t975(pairs - 1) * sd / np.sqrt(pairs)
        for j, lag in enumerate(t_s):
            rows.append({"lots": q, "lag_s": float(lag), "mean_ticks": float(mean[j]), "ci_low": float(mean[j] - h[j]),
                         "ci_high": float(mean[j] + h[j]), "sd_ticks": float(sd[j]), "pairs": pairs})
        final[f"lots_{q}"] = d[:, -1]
        summary[f"mean_ticks_{q}"] = float(mean[-1])
        summary[f"sd_ticks_{q}"] = float(sd[-1])
        summary[f"ci_low_{q}"] = float(mean[-1] - h[-1])
        summary[f"ci_high_{q}"] = float(mean[-1] + h[-1])
    means = [summary[f"mean_ticks_{q}"] for q in sorted(lots)]
    qs = sorted(lots)
    summary["increasing"] = bool(all(b >= a for a, b in zip(means, means[1:], strict=False)))
    slopes = [(means[k + 1] - means[k]) / (qs[k + 1] - qs[k]) for k in range(len(qs) - 1)]
    summary["concave"] = bool(all(b <= a for a, b in zip(slopes, slopes[1:], strict=False)))
    return ImpactResult(config=run_cfg, seed=label(ss), lots=tuple(lots), side=side, horizon_s=horizon_ns / NS_PER_S,
                        curves=pl.DataFrame(rows), final=pl.DataFrame(final), summary=summary)
