"""The live run behind the Algo-Gym: :class:`LiveRun` advances one :class:`~lobkit.sim.simulation.Simulation` in
a worker thread, in chunks of simulated time, and posts :class:`Update` objects to a queue the window drains.

Nothing here simulates anything itself: the worker calls ``Simulation.advance`` (the jitted loop, which releases
the GIL while it runs, so the window's event loop keeps its pace) and ``Simulation.finish``, so a run in the GUI
gives the same :class:`~lobkit.sim.results.RunResult` as ``lobkit run`` with the same configuration and seed, to
the bit. The worker never touches Tk: the window reads only what the queue carries.

Chunks: each chunk is sized to take about :data:`CHUNK_WALL_S` of wall time at the speed measured so far, so
Stop, Pause and a closing window take effect within a chunk (well under 0.5 s); a replay speed (simulated seconds
per wall second) caps how far a chunk may go. Times are int64 ns of simulated time; prices ticks; sizes lots.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from lobkit.errors import ConfigError, LobkitError
from lobkit.sim.config import NS_PER_S, RunConfig

__all__ = ["CHUNK_WALL_S", "LiveRun", "Update"]

CHUNK_WALL_S = 0.02  # wall time a chunk of the loop should take (s)
UPDATE_EVERY_S = 0.05  # the worker posts at most one update per this much wall time (s) while running
TAIL_ROWS = 400  # the most recent order-log rows and trades an update carries (the blotter keeps a window)
MIN_CHUNK_NS = 1_000_000  # 1 ms of simulated time
DEPTH = 10  # levels a side in the depth ladder


@dataclass
class Update:
    """One message from the worker.

    ``kind``: ``"started"``, ``"progress"``, ``"paused"``, ``"finished"``, ``"stopped"`` or ``"error"``
    (``message`` says what went wrong, one line). ``t_ns``/``end_ns``: simulated time reached and the run's end.
    ``status``: best bid/ask (ticks or None), ``spread`` (ticks), ``mid`` (currency), ``last_trade_px`` and
    ``last_trade_size`` (lots), ``position`` (lots), ``pnl`` (currency, mark-to-market at the mid, fees deducted),
    ``events`` (background events so far), ``events_per_s`` (events per wall second, recent). ``bids``/``asks``:
    int64[n, 3] (price ticks, size lots, orders), best first. ``orders``: the most recent order-log rows (int64,
    columns ``lobkit.sim.nb.ORDER_LOG_NAMES``) and ``trades`` the most recent fills (int64, the trade log's
    columns), at most :data:`TAIL_ROWS` each; ``agent_orders`` and ``agent_trades``: every new order and fill of
    the strategic agents (a fill is theirs when they are its maker or its taker); ``skipped``: market rows (orders
    and trades) left out of the tails. ``timeline``: the
    new rows of the run's sampling grid (a Polars frame, :func:`lobkit.sim.results.timeline_frame`'s columns).
    ``result``: the :class:`~lobkit.sim.results.RunResult` when ``kind == "finished"``.
    """

    kind: str
    t_ns: int = 0
    end_ns: int = 0
    status: dict = field(default_factory=dict)
    bids: np.ndarray | None = None
    asks: np.ndarray | None = None
    orders: np.ndarray | None = None
    trades: np.ndarray | None = None
    agent_orders: np.ndarray | None = None
    agent_trades: np.ndarray | None = None
    skipped: int = 0
    timeline: object = None
    result: object = None
    message: str = ""
    wall_s: float = 0.0


class LiveRun:
    """One run driven from a worker thread.

    ``cfg``: the run's :class:`~lobkit.sim.config.RunConfig` (the GUI keeps ``record=True`` so the run can be
    exported as ``lobkit run`` writes it). ``seed``: as everywhere (None: fresh entropy; :attr:`seed` keeps the
    SeedSequence used). ``speed``: simulated seconds per wall second (1.0: real time), ``None``: as fast as
    possible. ``paused``: start paused (then :meth:`step` or :meth:`resume`).

    Control methods are safe to call from any thread: :meth:`pause`, :meth:`resume`, :meth:`step` (advance to
    just after the strategy's next decision, then pause), :meth:`stop`, :meth:`set_speed`. Updates arrive on
    :attr:`updates` (a :class:`queue.Queue` of :class:`Update`); the last one is ``finished``, ``stopped`` or
    ``error``. :attr:`stop_latency_s`: wall time from :meth:`stop` to the worker's end.

    Raises :class:`~lobkit.errors.ConfigError` for a configuration that is not a RunConfig or a bad speed.
    """

    def __init__(self, cfg: RunConfig, seed=None, *, speed: float | None = None, paused: bool = False,
                 depth: int = DEPTH):
        from lobkit.seeds import seed_sequence

        if not isinstance(cfg, RunConfig):
            raise ConfigError(f"cfg: expected a RunConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.seed = seed_sequence(seed)
        self.depth = int(depth)
        self.updates: queue.Queue[Update] = queue.Queue()
        self._speed = _check_speed(speed)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused = bool(paused)
        self._steps = 0
        self._pace_reset = True
        self.thread: threading.Thread | None = None
        self.result = None
        self.error: str | None = None
        self.stop_requested_at: float | None = None
        self.ended_at: float | None = None

    # -- control (any thread) ------------------------------------------------------------------------------
    def start(self) -> LiveRun:
        """Start the worker thread (a daemon: it never keeps the interpreter alive)."""
        if self.thread is not None:
            raise ConfigError("this LiveRun has already started")
        self.thread = threading.Thread(target=self._work, name="lobkit-live-run", daemon=True)
        self.thread.start()
        return self

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._pace_reset = True
        self._wake.set()

    def step(self) -> None:
        """Advance to just after the strategy's next decision (one decision interval), then stay paused."""
        with self._lock:
            self._paused = True
            self._steps += 1
        self._wake.set()

    def stop(self) -> None:
        """End the run where it is (its partial results are discarded); the worker ends within one chunk."""
        if self.stop_requested_at is None:
            self.stop_requested_at = time.perf_counter()
        self._stop.set()
        self._wake.set()

    def set_speed(self, speed: float | None) -> None:
        """Simulated seconds per wall second; ``None``: as fast as possible."""
        speed = _check_speed(speed)
        with self._lock:
            self._speed = speed
            self._pace_reset = True
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running(self) -> bool:
        """The worker thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    @property
    def stop_latency_s(self) -> float | None:
        """Wall time from :meth:`stop` to the worker's end (s), once both happened."""
        if self.stop_requested_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.stop_requested_at)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running

    # -- the worker ----------------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._run()
        except LobkitError as exc:
            self.error = str(exc)
            self._post(Update("error", message=self.error))
        except Exception as exc:  # a user's agent may raise anything: report it in one line, keep the window
            traceback.print_exc()
            self.error = f"{type(exc).__name__}: {exc}"
            self._post(Update("error", message=self.error))
        finally:
            self.ended_at = time.perf_counter()

    def _post(self, u: Update) -> None:
        self.updates.put(u)

    def _run(self) -> None:
        from lobkit.sim.simulation import Simulation

        sim = Simulation(self.cfg, self.seed)
        self.sim = sim
        end = sim.end
        self._grid_rows = 0
        self._last_trade = (None, 0)
        self._t_start = time.perf_counter()
        self._rate = (self._t_start, sim.n_events, 0.0)
        self._seen = [0, 0, 0]  # chunks of each log already posted
        sim.flush_logs()
        self._post(self._update(sim, "started", *self._new_rows(sim)))
        chunk_ns = 10 * NS_PER_S  # first guess, adapted to the measured speed
        # a strategy acting in Python costs wall time per decision, not per simulated second: its chunks are also
        # capped to the decisions that fit in CHUNK_WALL_S (so Stop and Pause never wait behind many slow act()s)
        python_agent = not sim.agents[0].jitted
        interval = max(1, sim.agents[0].interval_ns)
        decisions_per_chunk = 1
        pace_wall = pace_sim = 0.0
        last_post = 0.0
        wall_busy = 0.0
        while True:
            if self._stop.is_set():
                self._post(Update("stopped", t_ns=sim.now, end_ns=end, wall_s=wall_busy))
                return
            with self._lock:
                paused, steps, speed = self._paused, self._steps, self._speed
                if self._pace_reset:
                    pace_wall, pace_sim = time.perf_counter(), sim.now
                    self._pace_reset = False
                if steps:
                    self._steps -= 1
            if paused and not steps:
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            if steps:
                target = max(sim.next_decision_ns(0), sim.now) + 1
            else:
                target = sim.now + chunk_ns
                if speed is not None:
                    paced = int(pace_sim + speed * (time.perf_counter() - pace_wall) * NS_PER_S)
                    if paced <= sim.now:
                        self._wake.wait(0.01)
                        self._wake.clear()
                        continue
                    target = min(target, paced)
                if python_agent:
                    target = min(target, sim.next_decision_ns(0) + (decisions_per_chunk - 1) * interval + 1)
            target = min(max(target, sim.now + 1), end)
            before = sim.now
            decision_before = sim.next_decision_ns(0)
            t0 = time.perf_counter()
            sim.advance(target)
            sim.flush_logs()
            dt = time.perf_counter() - t0
            wall_busy += dt
            decisions = (sim.next_decision_ns(0) - decision_before) // interval
            if python_agent and decisions > 0:
                decisions_per_chunk = int(min(max(CHUNK_WALL_S / (dt / decisions), 1), 1_000_000))
            if not steps:  # size the next chunk to take about CHUNK_WALL_S at the speed just measured
                if dt > 1e-3:
                    chunk_ns = int((target - before) * CHUNK_WALL_S / dt)
                else:
                    chunk_ns *= 2
                chunk_ns = min(max(chunk_ns, MIN_CHUNK_NS), 3600 * NS_PER_S)
            now = time.perf_counter()
            finished = sim.now >= end
            if finished or steps or paused or now - last_post >= UPDATE_EVERY_S:
                self._post(self._update(sim, "paused" if (steps or paused) and not finished else "progress",
                                        *self._new_rows(sim), wall_busy))
                last_post = now
            if finished:
                sim.wall_seconds = wall_busy
                self.result = sim.finish()
                status = self._status(sim)
                status["events_per_s"] = sim.n_events / wall_busy if wall_busy > 0 else 0.0  # the run's average
                self._post(Update("finished", t_ns=end, end_ns=end, result=self.result, wall_s=wall_busy,
                                  status=status))
                return

    def _new_rows(self, sim) -> tuple:
        """The log rows moved out since the last call: (the last :data:`TAIL_ROWS` orders, every trade, every agent
        order), None where there are none. Only the chunks the tail needs are copied (a full-speed run logs
        millions of orders a second; the window shows a few hundred)."""
        out = []
        for j, chunks in enumerate(sim.log_chunks()):
            new = chunks[self._seen[j]:]
            self._seen[j] = len(chunks)
            if j == 0:  # orders: the tail only
                total = sum(len(c) for c in new)
                tail, n = [], 0
                for c in reversed(new):
                    tail.append(c[-(TAIL_ROWS - n):])
                    n += len(tail[-1])
                    if n >= TAIL_ROWS:
                        break
                new = tail[::-1]
                self._skipped = total - n
            out.append(np.concatenate(new) if new else None)
        return tuple(out)

    def _update(self, sim, kind, orders, trades, agent_rows, wall_s: float = 0.0) -> Update:
        from lobkit.sim.results import timeline_frame

        tl = timeline_frame(sim, 0)
        new_rows = tl.slice(self._grid_rows)
        self._grid_rows = tl.height
        if trades is not None and len(trades):
            self._last_trade = (int(trades[-1, 1]), int(trades[-1, 2]))
        bids, asks = sim.top_levels(self.depth)
        agent_trades = None
        if trades is not None:
            na = len(sim.agents)
            agent_trades = trades[(trades[:, 5] < na) | (trades[:, 6] < na)]  # maker_owner, taker_owner
        n_trades = 0 if trades is None else len(trades)
        skipped = getattr(self, "_skipped", 0) + max(0, n_trades - TAIL_ROWS)
        self._skipped = 0
        return Update(kind, t_ns=sim.now, end_ns=sim.end, status=self._status(sim), bids=bids, asks=asks,
                      orders=None if orders is None else orders[-TAIL_ROWS:],
                      trades=None if trades is None else trades[-TAIL_ROWS:], skipped=skipped,
                      agent_orders=agent_rows, agent_trades=agent_trades, timeline=new_rows, wall_s=wall_s)

    def _status(self, sim) -> dict:
        from lobkit.sim.bridge import market_view

        view = market_view(sim, 0)
        t_wall = time.perf_counter()
        t_prev, n_prev, rate = self._rate
        if t_wall - t_prev >= 0.2:
            rate = (sim.n_events - n_prev) / (t_wall - t_prev)
            self._rate = (t_wall, sim.n_events, rate)
        elif rate == 0.0 and t_wall > self._t_start:
            rate = sim.n_events / (t_wall - self._t_start)
        tick = self.cfg.market.tick_size
        px, size = self._last_trade
        return {
            "best_bid": view.best_bid, "best_ask": view.best_ask, "spread": view.spread,
            "bid_size": view.bid_size, "ask_size": view.ask_size,
            "mid": view.mid2 * tick / 2.0, "last_trade_px": None if px is None else px * tick,
            "last_trade_size": size, "position": view.position, "pnl": view.pnl, "events": sim.n_events,
            "events_per_s": rate, "tick_size": tick,
        }


def _check_speed(speed) -> float | None:
    if speed is None:
        return None
    try:
        s = float(speed)
    except (TypeError, ValueError):
        raise ConfigError(f"speed: expected simulated seconds per second or None, got {speed!r}") from None
    if not (s > 0 and s <= 1e9):
        raise ConfigError(f"speed: expected a positive number of simulated seconds per second, got {speed!r}")
    return s
