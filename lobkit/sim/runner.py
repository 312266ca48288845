"""One run (:func:`simulate`) and a counterfactual experiment (:func:`compare`).

``simulate(cfg, seed)`` is pure: the same :class:`~lobkit.sim.config.RunConfig` and seed give the same
:class:`RunResult` to the bit, in any process and whatever the chunking of the loop (progress bar or not,
jitted or Python agent). The seed is split with :class:`numpy.random.SeedSequence`: child 0 drives the
background flow, child 1 the generated initial book; agents draw no random numbers.

``compare(cfg, seed, repeats)`` runs, for each seed of the experiment, the baseline (a
:class:`~lobkit.agents.NullAgent`) and the experimental run (the configured agent) on the *same* seed: common
random numbers, so the difference of the two markets is the strategy's impact and not noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lobkit.agents import Agent, BackgroundTrader, MarketView, OpenOrder, make_agent
from lobkit.agents.base import RECENT_DTYPE
from lobkit.agents.nb import (
    AG_COLS,
    AG_INTERVAL,
    AG_KIND,
    AG_LONG,
    AG_N_CROSSOVERS,
    AG_NEXT_DEC,
    AG_NEXT_OID,
    AG_PYTHON,
    AG_RESTING,
    AGENT_OID_BASE,
    EVENT_NAMES,
)
from lobkit.engine import nb as eng
from lobkit.engine.messages import NO_ASK, NO_BID, OK, OP_LIMIT, OP_MARKET, OP_NAMES
from lobkit.engine.state import LV_VOL, M_BASE, M_BEST_ASK, M_BEST_BID, M_NASK, M_NBID, O_SIZE, alloc_state
from lobkit.errors import ConfigError
from lobkit.sim import nb as snb
from lobkit.sim.config import NS_PER_S, RunConfig
from lobkit.sim.rng import rng_state

__all__ = ["simulate", "compare", "RunResult", "CompareResult", "Simulation", "as_seed_sequence", "child_seed",
           "EVENT_NAMES"]


# ------------------------------------------------------------------------------------------------ seeds
def as_seed_sequence(seed) -> np.random.SeedSequence:
    """A SeedSequence from an int (>= 0) or a SeedSequence (used as is, never advanced)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ConfigError(f"seed: expected an integer >= 0 or a numpy SeedSequence, got {seed!r}")


def child_seed(ss: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """Child ``i`` of ``ss``, like ``ss.spawn`` would give, but without mutating ``ss`` (pure)."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(i),), pool_size=ss.pool_size)


def seed_label(ss: np.random.SeedSequence) -> str:
    key = "".join(f"/{k}" for k in ss.spawn_key)
    return f"{ss.entropy}{key}"


# ------------------------------------------------------------------------------------------------ results
@dataclass
class RunResult:
    """What one run gives.

    ``summary``: flat dict of numbers (see :func:`summarise`). ``timeline``: the sampling grid (always kept):
    time, best bid/ask, mid, spread, touch sizes, resting orders, cumulative events and volume, and the
    strategic agent's cash, inventory, fees, realised and mark-to-market PnL (currency). ``orders`` and
    ``trades``: every order message and fill (only when ``cfg.record``). ``accounts``: final accounts of every
    owner (agents first, then background accounts). ``wall_seconds`` is the only field that is not
    reproducible.
    """

    config: RunConfig
    seed: str
    summary: dict
    timeline: pl.DataFrame
    accounts: pl.DataFrame
    orders: pl.DataFrame | None = None
    trades: pl.DataFrame | None = None
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


# ------------------------------------------------------------------------------------------------ the simulation
class Simulation:
    """One run in progress: the engine's book, the loop's arrays, the agents. Most users call :func:`simulate`.

    ``agents``: the strategic agents (owner ids 0, 1, ...); default: the agent of ``cfg.agent``. Agents whose
    ``jitted`` attribute is true run inside the loop; any other agent's ``act`` is called from Python at its
    decision times.
    """

    def __init__(self, cfg: RunConfig, seed, agents: list[Agent] | None = None, jit: bool = True):
        if not isinstance(cfg, RunConfig):
            raise ConfigError(f"cfg: expected a RunConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.ss = as_seed_sequence(seed)
        m = cfg.market
        self.agents = list(agents) if agents is not None else [make_agent(cfg.agent, jit=jit)]
        if not self.agents:
            raise ConfigError("agents: at least one agent (use NullAgent for none)")
        for a in self.agents:
            if not isinstance(a, Agent):
                raise ConfigError(f"agents: expected Agent instances, got {type(a).__name__}")
        na = len(self.agents)
        self.background = BackgroundTrader(m, first_owner=na)
        self.value_per_tick_lot = m.tick_size * m.lot_size
        self.end = m.duration_ns
        self.warmup = m.warmup_ns

        # initial book: a real snapshot when asked for, else generated
        if m.snapshot is not None:
            side, price, size, mid_ticks = _snapshot_book(m)
            owner = na + (np.arange(len(side), dtype=np.int64) % m.n_background)
        else:
            mid_ticks = int(round(m.initial_mid / m.tick_size))
            rng = np.random.Generator(np.random.PCG64(child_seed(self.ss, 1)))
            side, price, size, owner = self.background.initial_book(rng, mid_ticks)
        self.initial_mid_ticks = mid_ticks
        self.book = alloc_state(m.capacity, m.window, m.capacity + 64, base_price=mid_ticks - m.window // 2)

        kind, fp, alpha, fs = self.background.flow_arrays()
        n_owners = na + m.n_background
        hist_len = 1
        ag = np.zeros((na, AG_COLS), np.int64)
        agf = np.zeros((na, snb.GF_COLS), np.float64)
        for i, a in enumerate(self.agents):
            row = a.jit_row()
            if row is None:
                row = np.zeros(AG_COLS, np.int64)
                row[AG_INTERVAL] = a.interval_ns
                row[AG_RESTING] = -1
            if not a.jitted:
                row[AG_KIND] = AG_PYTHON
            ag[i] = row
            ag[i, AG_NEXT_DEC] = m.warmup_ns
            ag[i, AG_NEXT_OID] = AGENT_OID_BASE * (i + 1)
            hist_len = max(hist_len, int(row[AG_LONG]))
            agf[i, snb.GF_FEE_LOT] = a.fee_per_lot / self.value_per_tick_lot
            agf[i, snb.GF_FEE_RATE] = a.fee_bps * 1e-4
            a.id = i
        record = cfg.record
        n_grid = -(-m.duration_ns // m.sample_ns) + 1
        sv = np.zeros(snb.SV_LEN, np.int64)
        sv[snb.SV_NEXT_OID] = 1
        sv[snb.SV_SAMPLE_NS] = m.sample_ns
        sv[snb.SV_LAST_MID2] = 2 * mid_ticks
        sv[snb.SV_N_AGENTS] = na
        sv[snb.SV_N_BG] = m.n_background
        sv[snb.SV_RECORD] = 1 if record else 0
        sv[snb.SV_END] = m.duration_ns
        sv[snb.SV_FLOW_KIND] = kind
        sv[snb.SV_PENDING] = -1
        self.sm = snb.SimState(
            sv=sv,
            rng=rng_state(child_seed(self.ss, 0)),
            fp=fp,
            alpha=alpha,
            fs=fs,
            live=np.zeros((2, m.capacity), np.int64),
            acc=np.zeros((n_owners, snb.A_COLS), np.int64),
            accf=np.zeros((n_owners, snb.AF_COLS), np.float64),
            ag=ag,
            agf=agf,
            hist=np.zeros((na, hist_len), np.int64),
            ro=np.zeros((max(1 << 16, 4 * len(side)) if record else 1, snb.RO_COLS), np.int64),
            rt=np.zeros((m.capacity + (1 << 16) if record else 1, 8), np.int64),
            gi=np.zeros((n_grid, snb.G_COLS), np.int64),
            ga=np.zeros((n_grid, na, snb.GA_COLS), np.float64),
            recent=np.zeros((snb.RECENT, 4), np.int64),
        )
        self.n_rejected_initial = int(snb.seed_book(self.book, self.sm, side, price, size, owner))
        snb.schedule_first_event(self.book, self.sm, 0)
        self._orders_chunks: list[np.ndarray] = []
        self._trades_chunks: list[np.ndarray] = []
        self._open: list[dict[int, tuple[int, int]]] = [{} for _ in self.agents]
        self.finished = False

    # -- running -------------------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return int(self.sm.sv[snb.SV_NOW])

    def advance(self, t_stop: int) -> None:
        """Run the loop up to ``t_stop`` (ns), serving Python agents and draining logs on the way."""
        t_stop = min(int(t_stop), self.end)
        while True:
            reason = snb.run_until(self.book, self.sm, t_stop)
            if reason == snb.R_DONE:
                return
            if reason == snb.R_FLUSH:
                self._flush()
            elif reason == snb.R_DECISION:
                self._python_decision(int(self.sm.sv[snb.SV_PENDING]))

    def run(self, progress: bool = False) -> RunResult:
        """Run to the end and return the :class:`RunResult`. ``progress``: a tqdm bar in simulated seconds."""
        if self.finished:
            raise ConfigError("this Simulation has already run; build a new one")
        t0 = time.perf_counter()
        if progress:
            from tqdm import tqdm

            step = max(NS_PER_S, self.end // 200)
            with tqdm(total=self.end / NS_PER_S, unit="sim s", unit_scale=True, dynamic_ncols=True,
                      desc="simulating", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} sim s [{elapsed}<{remaining}]"
                      ) as bar:
                t = 0
                while t < self.end:
                    t = min(t + step, self.end)
                    self.advance(t)
                    bar.update(t / NS_PER_S - bar.n)
        else:
            self.advance(self.end)
        snb.take_sample(self.book, self.sm, self.end)
        self._flush()
        self.finished = True
        for i in range(len(self.agents)):
            self._refresh(i)
        wall = time.perf_counter() - t0
        return self._result(wall)

    # -- Python agents -------------------------------------------------------------------------------------
    def _refresh(self, i: int) -> None:
        a = self.agents[i]
        acc, accf = self.sm.acc, self.sm.accf
        a.cash = int(acc[i, snb.A_CASH])
        a.inventory = int(acc[i, snb.A_INV])
        a.n_trades = int(acc[i, snb.A_NFILLS])
        a.fees = float(accf[i, snb.AF_FEES]) * self.value_per_tick_lot
        a.realised_pnl = float(accf[i, snb.AF_REALISED]) * self.value_per_tick_lot - a.fees
        mid2 = int(snb.mid2_of(self.book, self.sm))
        a.pnl = (a.cash + a.inventory * mid2 / 2.0) * self.value_per_tick_lot - a.fees

    def view(self, i: int) -> MarketView:
        """What agent ``i`` sees now."""
        st, sm = self.book, self.sm
        meta = st.meta
        base = meta[M_BASE]
        has_bid, has_ask = meta[M_NBID] > 0, meta[M_NASK] > 0
        bid = int(meta[M_BEST_BID]) if has_bid else None
        ask = int(meta[M_BEST_ASK]) if has_ask else None
        bsz = int(st.lv[LV_VOL, 0, bid - base]) if has_bid else 0
        asz = int(st.lv[LV_VOL, 1, ask - base]) if has_ask else 0
        opened = self._open[i]
        open_orders = []
        for oid in list(opened):
            slot = eng.order_slot(st, oid)
            if slot == -1:
                del opened[oid]
            else:
                s, p = opened[oid]
                open_orders.append(OpenOrder(oid, s, p, int(st.orders[slot, O_SIZE])))
        n = int(sm.sv[snb.SV_N_TRADES])
        k = min(n, snb.RECENT)
        idx = (np.arange(n - k, n) % snb.RECENT) if k else np.zeros(0, np.int64)
        recent = np.zeros(k, RECENT_DTYPE)
        if k:
            r = sm.recent[idx]
            for j, name in enumerate(RECENT_DTYPE.names):
                recent[name] = r[:, j]
        self._refresh(i)
        a = self.agents[i]
        return MarketView(t_ns=self.now, best_bid=bid, best_ask=ask, bid_size=bsz, ask_size=asz,
                          mid2=int(snb.mid2_of(st, sm)), tick_size=self.cfg.market.tick_size, position=a.inventory,
                          cash=a.cash, fees=a.fees, pnl=a.pnl, open_orders=tuple(open_orders), recent_trades=recent)

    def _python_decision(self, i: int) -> None:
        t = int(self.sm.ag[i, AG_NEXT_DEC])
        agent = self.agents[i]
        orders = agent.act(self.view(i)) or []
        for o in orders:
            o.check()
            if o.kind == "cancel":
                status, q = snb.agent_cancel(self.book, self.sm, i, int(o.oid), t)
                self._open[i].pop(int(o.oid), None)
            elif o.kind == "market":
                status, q, oid = snb.agent_submit(self.book, self.sm, i, OP_MARKET, int(o.side), 0, int(o.size), 0, t)
                o.oid = int(oid)
            else:
                flags = 1 if o.ioc else 0
                status, q, oid = snb.agent_submit(self.book, self.sm, i, OP_LIMIT, int(o.side), int(o.price),
                                                  int(o.size), flags, t)
                o.oid = int(oid)
                if status == OK and q < o.size and not o.ioc:
                    self._open[i][int(oid)] = (int(o.side), int(o.price))
            o.status, o.filled = int(status), int(q)
            if self.sm.sv[snb.SV_RECORD] and (self.sm.sv[snb.SV_N_REC_O] + 4 > self.sm.ro.shape[0]):
                self._flush()
        self.sm.ag[i, AG_NEXT_DEC] = t + agent.interval_ns

    def _flush(self) -> None:
        sv = self.sm.sv
        no, nt = int(sv[snb.SV_N_REC_O]), int(sv[snb.SV_N_REC_T])
        if no:
            self._orders_chunks.append(self.sm.ro[:no].copy())
        if nt:
            self._trades_chunks.append(self.sm.rt[:nt].copy())
        sv[snb.SV_N_REC_O] = 0
        sv[snb.SV_N_REC_T] = 0

    # -- results -------------------------------------------------------------------------------------------
    def _result(self, wall: float) -> RunResult:
        cfg, m = self.cfg, self.cfg.market
        tl = self.timeline(0)
        summary = summarise(tl, self, 0)
        orders = trades = None
        if cfg.record:
            orders = _orders_frame(self._orders_chunks, m.tick_size)
            trades = _trades_frame(self._trades_chunks, m.tick_size, len(self.agents))
        return RunResult(config=cfg, seed=seed_label(self.ss), summary=summary, timeline=tl,
                         accounts=self.accounts_frame(), orders=orders, trades=trades, wall_seconds=wall)

    def timeline(self, i: int = 0) -> pl.DataFrame:
        """The sampling grid with agent ``i``'s accounts (currency)."""
        sm, m = self.sm, self.cfg.market
        n = int(sm.sv[snb.SV_N_SAMPLES])
        g = sm.gi[:n]
        a = sm.ga[:n, i]
        tick = m.tick_size
        v = self.value_per_tick_lot
        has_bid = g[:, snb.G_BID] != NO_BID
        has_ask = g[:, snb.G_ASK] != NO_ASK
        mid2 = g[:, snb.G_MID2]
        fees = a[:, snb.GA_FEES] * v
        pnl = (a[:, snb.GA_CASH] + a[:, snb.GA_INV] * (mid2 / 2.0)) * v - fees
        spread = np.where(has_bid & has_ask, g[:, snb.G_ASK] - g[:, snb.G_BID], -1)
        return pl.DataFrame({
            "t_ns": g[:, snb.G_T],
            "t_s": g[:, snb.G_T] / NS_PER_S,
            "bid": pl.Series(np.where(has_bid, g[:, snb.G_BID], 0) * tick).scatter(np.flatnonzero(~has_bid), None),
            "ask": pl.Series(np.where(has_ask, g[:, snb.G_ASK], 0) * tick).scatter(np.flatnonzero(~has_ask), None),
            "mid": mid2 * (tick / 2.0),
            "spread_ticks": pl.Series(spread).scatter(np.flatnonzero(spread < 0), None),
            "bid_size": g[:, snb.G_BVOL],
            "ask_size": g[:, snb.G_AVOL],
            "bid_orders": g[:, snb.G_NBID],
            "ask_orders": g[:, snb.G_NASK],
            "events": g[:, snb.G_NEVENTS],
            "volume": g[:, snb.G_VOLUME],
            "cash": a[:, snb.GA_CASH] * v,
            "inventory": a[:, snb.GA_INV].astype(np.int64),
            "fees": fees,
            "realised": a[:, snb.GA_REALISED] * v - fees,
            "pnl": pnl,
        })

    def accounts_frame(self) -> pl.DataFrame:
        """Final accounts of every owner (agents, then background), in currency, marked at the final mid."""
        sm = self.sm
        v = self.value_per_tick_lot
        mid2 = int(snb.mid2_of(self.book, sm))
        acc, accf = sm.acc, sm.accf
        na = len(self.agents)
        roles = [f"agent:{a.name}" for a in self.agents] + ["background"] * (acc.shape[0] - na)
        fees = accf[:, snb.AF_FEES] * v
        return pl.DataFrame({
            "owner": np.arange(acc.shape[0], dtype=np.int64),
            "role": roles,
            "cash": acc[:, snb.A_CASH] * v,
            "inventory": acc[:, snb.A_INV],
            "fills": acc[:, snb.A_NFILLS],
            "volume": acc[:, snb.A_VOL],
            "fees": fees,
            "realised": accf[:, snb.AF_REALISED] * v - fees,
            "pnl": (acc[:, snb.A_CASH] + acc[:, snb.A_INV] * (mid2 / 2.0)) * v - fees,
        })


def _snapshot_book(m) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The first valid snapshot of ``m.snapshot`` (a lob-btc.db-style SQLite file) as one order per level."""
    try:
        from lobkit.data.stream import stream_sqlite
    except ImportError as exc:  # pragma: no cover - the data layer is optional
        raise ConfigError(f"snapshot: loading {m.snapshot!r} needs lobkit.data ({exc})") from exc
    import os

    if not os.path.exists(m.snapshot):
        raise ConfigError(f"snapshot: file {m.snapshot!r} not found")
    frame = None
    for chunk in stream_sqlite(m.snapshot, chunk_size=64):
        frame = chunk.head(1)
        break
    if frame is None or frame.height == 0:
        raise ConfigError(f"snapshot: no valid snapshot in {m.snapshot!r}")
    row = frame.row(0, named=True)
    sides, prices, sizes = [], [], []
    for s, pcol, qcol in ((1, "bid_px", "bid_qty"), (-1, "ask_px", "ask_qty")):
        for px, qty in zip(row[pcol] or [], row[qcol] or [], strict=False):
            sides.append(s)
            prices.append(int(round(px / m.tick_size)))
            sizes.append(max(1, int(round(qty / m.lot_size))))
    if not any(s == 1 for s in sides) or not any(s == -1 for s in sides):
        raise ConfigError(f"snapshot: the first snapshot of {m.snapshot!r} has an empty side")
    side = np.array(sides, np.int64)
    price = np.array(prices, np.int64)
    best_bid, best_ask = price[side == 1].max(), price[side == -1].min()
    if price.max() - price.min() > m.window // 2:
        raise ConfigError(f"window: the snapshot spans {price.max() - price.min()} ticks; use a window of at least "
                          f"{2 * (price.max() - price.min())}")
    return side, price, np.array(sizes, np.int64), int((best_bid + best_ask) // 2)


def _orders_frame(chunks: list[np.ndarray], tick: float) -> pl.DataFrame:
    a = np.concatenate(chunks) if chunks else np.zeros((0, snb.RO_COLS), np.int64)
    names = ["ts", "op", "side", "flags", "price", "size", "oid", "owner", "status", "qty"]
    df = pl.DataFrame({n: a[:, j] for j, n in enumerate(names)})
    return df.with_columns(
        pl.col("op").replace_strict(OP_NAMES, default="?", return_dtype=pl.Utf8).alias("op_name"),
        pl.col("op").cast(pl.Int8), pl.col("side").cast(pl.Int8), pl.col("flags").cast(pl.Int8),
        (pl.col("price") * tick).alias("px"),
    )


def _trades_frame(chunks: list[np.ndarray], tick: float, n_agents: int) -> pl.DataFrame:
    a = np.concatenate(chunks) if chunks else np.zeros((0, 8), np.int64)
    names = ["ts", "price", "size", "maker_oid", "taker_oid", "maker_owner", "taker_owner", "aggressor"]
    df = pl.DataFrame({n: a[:, j] for j, n in enumerate(names)})
    return df.with_columns((pl.col("price") * tick).alias("px"))


# ------------------------------------------------------------------------------------------------ summary
def summarise(tl: pl.DataFrame, sim: Simulation, i: int = 0) -> dict:
    """The flat summary of a run, computed on the part after the warm-up.

    Strategy: ``final_pnl`` (mark-to-market at the final mid, fees deducted, currency), ``realised_pnl``,
    ``n_trades`` (fills), ``n_orders``, ``final_position``, ``max_drawdown`` (largest fall of the PnL from its
    running peak), ``sharpe`` (mean / std of the PnL increments on the sampling grid, not annualised),
    ``fees``, ``agent_volume``. Market: ``mean_spread`` (currency) and ``mean_spread_ticks`` on the grid,
    ``realised_vol`` (square root of the summed squared log-returns of the mid on the grid, per square-root
    hour), ``volume`` (lots traded by everyone), ``n_events`` (background events), ``events_per_sim_s``,
    ``mean_depth_orders`` (resting orders a side), ``empty_side_samples`` (grid points with a side empty),
    ``mid_start``, ``mid_end``.
    """
    m = sim.cfg.market
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
    acc = sim.sm.acc
    sv = sim.sm.sv
    ag = sim.agents[i]
    return {
        "final_pnl": float(pnl[-1]) if len(pnl) else 0.0,
        "realised_pnl": float(post["realised"][-1]) if len(pnl) else 0.0,
        "n_trades": int(acc[i, snb.A_NFILLS]),
        "n_orders": int(sim.sm.ag[i, AG_NEXT_OID] - AGENT_OID_BASE * (i + 1)),
        "final_position": int(acc[i, snb.A_INV]),
        "max_drawdown": float((peak - pnl).max()) if len(pnl) else 0.0,
        "sharpe": float(d.mean() / sd) if sd > 0 else 0.0,
        "fees": float(post["fees"][-1]) if len(pnl) else 0.0,
        "agent_volume": int(acc[i, snb.A_VOL]),
        "mean_spread": float(spread.mean() * m.tick_size) if len(spread) else float("nan"),
        "mean_spread_ticks": float(spread.mean()) if len(spread) else float("nan"),
        "realised_vol": float(math.sqrt(float((lr**2).sum()) / hours)) if hours > 0 else 0.0,
        "volume": int(vol[-1] - vol[0]) if len(vol) else 0,
        "n_events": int(ev[-1] - ev[0]) if len(ev) else 0,
        "n_events_total": int(sv[snb.SV_N_EVENTS]),
        "events_per_sim_s": float((ev[-1] - ev[0]) / (hours * 3600)) if len(ev) and hours > 0 else 0.0,
        "mean_depth_orders": float((post["bid_orders"].mean() + post["ask_orders"].mean()) / 2) if len(pnl) else 0.0,
        "empty_side_samples": int(((post["bid_orders"] == 0) | (post["ask_orders"] == 0)).sum()),
        "rejected_orders": int(sv[snb.SV_N_REJECTED]),
        "unfilled_market_lots": int(sv[snb.SV_UNFILLED]),
        "mid_start": float(mid[0]) if len(mid) else float("nan"),
        "mid_end": float(mid[-1]) if len(mid) else float("nan"),
        "duration_s": m.duration_ns / NS_PER_S,
        "warmup_s": m.warmup_ns / NS_PER_S,
        "sample_s": m.sample_ns / NS_PER_S,
        "agent": ag.name,
    } | ({"n_crossovers": int(sim.sm.ag[i, AG_N_CROSSOVERS]) if ag.jitted else int(getattr(ag, "n_crossovers", 0))}
         if ag.name == "momentum" else {})


# ------------------------------------------------------------------------------------------------ API
def simulate(cfg: RunConfig, seed, agent: Agent | None = None, *, jit: bool = True,
             progress: bool = False) -> RunResult:
    """Run one simulation. Pure: the same ``cfg`` and ``seed`` give the same result to the bit.

    ``seed``: an int or a :class:`numpy.random.SeedSequence`. ``agent``: a custom :class:`~lobkit.agents.Agent`
    instead of the one ``cfg.agent`` describes (it runs in Python unless it has a jitted form). ``jit=False``
    runs the built-in agent's Python form (same results, slower). ``progress``: a tqdm bar.
    """
    sim = Simulation(cfg, seed, agents=None if agent is None else [agent], jit=jit)
    return sim.run(progress=progress)


_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return float("nan")
    if df <= 30:
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(x) -> tuple[float, float, float]:
    """Mean and its 95% confidence interval (Student t); the interval is NaN for fewer than two values."""
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mu = float(x.mean())
    if len(x) < 2:
        return mu, float("nan"), float("nan")
    h = t975(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mu, mu - h, mu + h


def impact(base: RunResult, exp: RunResult, warmup_ns: int) -> dict:
    """The strategy's PnL and its market impact in one seed pair (experiment minus baseline, after warm-up)."""
    b = base.timeline.filter(pl.col("t_ns") >= warmup_ns)
    e = exp.timeline.filter(pl.col("t_ns") >= warmup_ns)
    dm = e["mid"].to_numpy() - b["mid"].to_numpy()
    bs, es = base.summary, exp.summary
    return {
        "pnl": es["final_pnl"],
        "n_trades": es["n_trades"],
        "final_position": es["final_position"],
        "max_drawdown": es["max_drawdown"],
        "fees": es["fees"],
        "mid_diff_mean": float(dm.mean()) if len(dm) else 0.0,
        "mid_diff_abs_mean": float(np.abs(dm).mean()) if len(dm) else 0.0,
        "mid_diff_final": float(dm[-1]) if len(dm) else 0.0,
        "mid_diff_max_abs": float(np.abs(dm).max()) if len(dm) else 0.0,
        "spread_diff": es["mean_spread"] - bs["mean_spread"],
        "volume_diff": es["volume"] - bs["volume"],
        "realised_vol_diff": es["realised_vol"] - bs["realised_vol"],
        "baseline_volume": bs["volume"],
        "baseline_mean_spread": bs["mean_spread"],
        "baseline_pnl": bs["final_pnl"],
    }


def compare(cfg: RunConfig, seed, repeats: int = 1, *, agent: Agent | None = None, keep_runs: bool = True,
            progress: bool = False) -> CompareResult:
    """Counterfactual: for each of ``repeats`` seeds, the baseline (NullAgent) and the experiment (the agent),
    both on that seed (common random numbers). Seed pair 0 uses ``seed`` itself (so it matches
    ``simulate(cfg, seed)``), pair i > 0 its child i (``SeedSequence`` spawn key ``(i,)``).

    ``pairs``: one row per pair (:func:`impact`); ``summary``: for each quantity its mean and 95% confidence
    interval (``<name>_mean``, ``<name>_ci_low``, ``<name>_ci_high``), and ``repeats``.
    """
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ConfigError(f"repeats: must be an integer >= 1, got {repeats!r}")
    ss = as_seed_sequence(seed)
    base_cfg = cfg.with_agent(name="null")
    rows, bases, exps = [], [], []
    it = range(repeats)
    if progress and repeats > 1:
        from tqdm import tqdm

        it = tqdm(it, desc="seed pairs", unit="pair")
    for r in it:
        s = ss if r == 0 else child_seed(ss, r)
        b = simulate(base_cfg, s)
        e = simulate(cfg, s, agent=agent if agent is None else _fresh(agent), progress=progress and repeats == 1)
        rows.append({"pair": r, "seed": seed_label(s)} | impact(b, e, cfg.market.warmup_ns))
        if keep_runs:
            bases.append(b)
            exps.append(e)
    pairs = pl.DataFrame(rows)
    summary: dict = {"repeats": repeats, "seed": seed_label(ss)}
    for col in pairs.columns:
        if col in ("pair", "seed"):
            continue
        mu, lo, hi = mean_ci(pairs[col].to_numpy())
        summary[f"{col}_mean"] = mu
        summary[f"{col}_ci_low"] = lo
        summary[f"{col}_ci_high"] = hi
    return CompareResult(config=cfg, seed=seed_label(ss), pairs=pairs, summary=summary, baseline=bases,
                         experiment=exps)


def _fresh(agent: Agent) -> Agent:
    import copy

    return copy.deepcopy(agent)
