"""What a run and a counterfactual give: :class:`RunResult`, :class:`CompareResult`, and the Polars frames built
from the loop's arrays (timeline, orders, trades, accounts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lobkit.engine.messages import NO_ASK, NO_BID, OP_NAMES
from lobkit.seeds import label
from lobkit.sim import nb as snb
from lobkit.sim.config import NS_PER_S, RunConfig


@dataclass
class RunResult:
    """What one run gives.

    ``summary``: flat dict of numbers (see :func:`lobkit.sim.metrics.summarise`). ``timeline``: the sampling grid
    (always kept): time, best bid/ask, mid, spread, touch sizes, resting orders, cumulative events and volume, and
    the strategic agent's cash, inventory, fees, realised and mark-to-market PnL (currency). ``orders`` and
    ``trades``: every order message and fill (only when ``cfg.record``). ``agent_orders``: the strategic agents'
    own orders (always kept; the columns of ``orders``). ``accounts``: final accounts of every
    owner (agents first, then background accounts). ``rejections``: the agent's first orders the engine refused,
    with their reasons. ``seed``: the seed's label (its entropy, then the spawn keys): ``--seed`` takes the
    entropy. ``wall_seconds`` is the only field that is not reproducible.
    """

    config: RunConfig
    seed: str
    summary: dict
    timeline: pl.DataFrame
    accounts: pl.DataFrame
    orders: pl.DataFrame | None = None
    trades: pl.DataFrame | None = None
    agent_orders: pl.DataFrame | None = None
    rejections: list = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def pnl(self) -> pl.DataFrame:
        """The strategic agent over time: ``t_s``, ``pnl``, ``inventory``, ``cash``, ``fees``, ``realised``."""
        return self.timeline.select("t_s", "pnl", "inventory", "cash", "fees", "realised")

    @property
    def mid(self) -> pl.DataFrame:
        """The mid-price path on the sampling grid: ``t_s``, ``mid``."""
        return self.timeline.select("t_s", "mid")


@dataclass
class CompareResult:
    """A counterfactual experiment: one row per seed pair in ``pairs`` (the strategy's PnL and its market impact)
    and ``summary`` (means with 95% confidence intervals). ``baseline``/``experiment`` hold the runs."""

    config: RunConfig
    seed: str
    pairs: pl.DataFrame
    summary: dict
    baseline: list[RunResult] = field(default_factory=list)
    experiment: list[RunResult] = field(default_factory=list)


def timeline_frame(sim, i: int = 0) -> pl.DataFrame:
    """The sampling grid with agent ``i``'s accounts (currency)."""
    st, m = sim.state, sim.cfg.market
    n = int(st.scalars[snb.S_N_SAMPLES])
    g = st.grid[:n]
    a = st.agent_grid[:n, i]
    tick = m.tick_size
    v = sim.value_per_tick_lot
    has_bid = g[:, snb.G_BID] != NO_BID
    has_ask = g[:, snb.G_ASK] != NO_ASK
    mid2 = g[:, snb.G_MID2]
    fees = a[:, snb.AG_GRID_FEES] * v
    pnl = (a[:, snb.AG_GRID_CASH] + a[:, snb.AG_GRID_INVENTORY] * (mid2 / 2.0)) * v - fees
    spread = np.where(has_bid & has_ask, g[:, snb.G_ASK] - g[:, snb.G_BID], -1)
    return pl.DataFrame({
        "t_ns": g[:, snb.G_T],
        "t_s": g[:, snb.G_T] / NS_PER_S,
        "bid": pl.Series(np.where(has_bid, g[:, snb.G_BID], 0) * tick).scatter(np.flatnonzero(~has_bid), None),
        "ask": pl.Series(np.where(has_ask, g[:, snb.G_ASK], 0) * tick).scatter(np.flatnonzero(~has_ask), None),
        "mid": mid2 * (tick / 2.0),
        "spread_ticks": pl.Series(spread).scatter(np.flatnonzero(spread < 0), None),
        "bid_size": g[:, snb.G_BID_SIZE],
        "ask_size": g[:, snb.G_ASK_SIZE],
        "bid_orders": g[:, snb.G_BID_ORDERS],
        "ask_orders": g[:, snb.G_ASK_ORDERS],
        "events": g[:, snb.G_EVENTS],
        "volume": g[:, snb.G_VOLUME],
        "cash": a[:, snb.AG_GRID_CASH] * v,
        "inventory": a[:, snb.AG_GRID_INVENTORY].astype(np.int64),
        "fees": fees,
        "realised": a[:, snb.AG_GRID_REALISED] * v - fees,
        "pnl": pnl,
    })


def accounts_frame(sim) -> pl.DataFrame:
    """Final accounts of every owner (agents, then background), in currency, marked at the final mid."""
    st = sim.state
    v = sim.value_per_tick_lot
    mid2 = int(snb.mid2_of(sim.book, st))
    acc, costs = st.accounts, st.account_costs
    na = len(sim.agents)
    roles = [f"agent:{a.name}" for a in sim.agents] + ["background"] * (acc.shape[0] - na)
    fees = costs[:, snb.C_FEES] * v
    return pl.DataFrame({
        "owner": np.arange(acc.shape[0], dtype=np.int64),
        "role": roles,
        "cash": acc[:, snb.A_CASH] * v,
        "inventory": acc[:, snb.A_INVENTORY],
        "fills": acc[:, snb.A_FILLS],
        "volume": acc[:, snb.A_VOLUME],
        "fees": fees,
        "realised": costs[:, snb.C_REALISED] * v - fees,
        "pnl": (acc[:, snb.A_CASH] + acc[:, snb.A_INVENTORY] * (mid2 / 2.0)) * v - fees,
    })


def orders_frame(log: np.ndarray, tick: float) -> pl.DataFrame:
    """The order log as a frame: ``MESSAGE_DTYPE``'s fields, ``status``, ``qty``, ``op_name`` and ``px``."""
    df = pl.DataFrame({n: log[:, j] for j, n in enumerate(snb.ORDER_LOG_NAMES)})
    return df.with_columns(
        pl.col("op").replace_strict(OP_NAMES, default="?", return_dtype=pl.Utf8).alias("op_name"),
        pl.col("op").cast(pl.Int8), pl.col("side").cast(pl.Int8), pl.col("flags").cast(pl.Int8),
        (pl.col("price") * tick).alias("px"),
    )


def trades_frame(log: np.ndarray, tick: float) -> pl.DataFrame:
    """The fills as a frame: ``FILL_DTYPE``'s fields and ``px``."""
    names = ["ts", "price", "size", "maker_oid", "taker_oid", "maker_owner", "taker_owner", "aggressor"]
    df = pl.DataFrame({n: log[:, j] for j, n in enumerate(names)})
    return df.with_columns((pl.col("price") * tick).alias("px"))


def run_result(sim) -> RunResult:
    """The :class:`RunResult` of a finished :class:`~lobkit.sim.simulation.Simulation` (agent 0's view)."""
    from lobkit.sim.metrics import summarise

    cfg, m = sim.cfg, sim.cfg.market
    tl = timeline_frame(sim, 0)
    orders = trades = None
    if cfg.record:
        orders = orders_frame(sim.order_log, m.tick_size)
        trades = trades_frame(sim.trade_log, m.tick_size)
    return RunResult(config=cfg, seed=label(sim.ss), summary=summarise(tl, sim, 0), timeline=tl,
                     accounts=accounts_frame(sim), orders=orders, trades=trades,
                     agent_orders=orders_frame(sim.agent_log, m.tick_size),
                     rejections=list(sim.rejections.get(0, [])), wall_seconds=sim.wall_seconds)
