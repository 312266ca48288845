"""The momentum (moving-average crossover) agent, in its Python and jitted forms."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lobkit.agents.base import BUY, SELL, Agent, MarketView, Order
from lobkit.agents.nb import (
    AG_COLS,
    AG_INTERVAL,
    AG_KIND,
    AG_LONG,
    AG_MAXPOS,
    AG_MOMENTUM,
    AG_N_CROSSOVERS,
    AG_OFFSET,
    AG_ORDER_TYPE,
    AG_RESTING,
    AG_SHORT,
    AG_SIZE,
    ORDER_TYPE_LIMIT,
    ORDER_TYPE_MARKET,
)
from lobkit.agents.registry import register_agent
from lobkit.errors import ConfigError
from lobkit.validate import check_field, show

ORDER_TYPES = ("market", "limit")


@dataclass(frozen=True)
class MomentumParams:
    """short / long: moving-average windows in samples (one sample per decision interval), 1 <= short < long
    <= 100,000. order_type: ``"market"`` or ``"limit"`` (a marketable limit order ``limit_offset`` ticks through
    the touch, 0 to 1,000,000; its unfilled rest rests until the next crossover)."""

    short: int = field(default=5, metadata={"help": "Short moving-average window (samples)."})
    long: int = field(default=20, metadata={"help": "Long moving-average window (samples)."})
    order_type: str = field(default="market", metadata={"help": "market or limit (marketable limit orders).",
                                                        "choices": ORDER_TYPES})
    limit_offset: int = field(default=0, metadata={"help": "Ticks through the touch of marketable limit orders."})

    def __post_init__(self):
        check_field(self, "short", "int", lo=1, hi=99_999)
        check_field(self, "long", "int", lo=2, hi=100_000)
        if self.short >= self.long:
            raise ConfigError(f"short: must be smaller than long, got short={self.short} >= long={self.long}")
        if self.order_type not in ORDER_TYPES:
            raise ConfigError(f"order_type: choose one of {', '.join(ORDER_TYPES)}, got {show(self.order_type)}")
        check_field(self, "limit_offset", "int", lo=0, hi=1_000_000, unit="ticks")


@register_agent
class MomentumAgent(Agent):
    """Trend follower on two moving averages of the mid.

    Every ``interval_ns`` it samples the mid; once ``long`` samples exist it compares the mean of the last
    ``short`` with the mean of the last ``long``. Short above long is a buy signal, below a sell signal. It
    trades only when a *new* crossover happens (the sign differs from the last non-zero sign; the first regime
    it sees is recorded without trading), and then reverses: it moves to a position of ``+size`` (buy signal)
    or ``-size`` (sell signal), clipped to ``max_position``.

    ``order_type="market"`` (default) sends market orders; ``"limit"`` sends a marketable limit order priced
    ``limit_offset`` ticks through the touch (a buy at best ask + offset) whose unfilled rest stays in the book
    until the next crossover, when it is cancelled.

    ``jit=True`` (default) runs the jitted form inside the loop; ``jit=False`` runs :meth:`act` in Python.
    Both give identical results (tested).
    """

    name = "momentum"
    Params = MomentumParams
    has_jitted_form = True

    def __init__(self, params: MomentumParams | None = None, *, jit: bool = True, **kw):
        super().__init__(params, **kw)
        self.jitted = bool(jit)
        self._hist: list[int] = []
        self._last_sig = 0
        self.n_crossovers = 0

    # the rule, integer-exact like the jitted form
    def signal_target(self, mid2: int) -> int | None:
        """Record one mid sample (half-ticks); the target position on a new crossover, else None."""
        short, long_ = self.params.short, self.params.long
        self._hist.append(int(mid2))
        if len(self._hist) > long_:
            del self._hist[0]
        if len(self._hist) < long_:
            return None
        diff = sum(self._hist[-short:]) * long_ - sum(self._hist) * short
        if diff == 0:
            return None
        sig = 1 if diff > 0 else -1
        last, self._last_sig = self._last_sig, sig
        if last in (0, sig):
            return None
        self.n_crossovers += 1
        return max(-self.max_position, min(self.max_position, sig * self.size))

    def act(self, view: MarketView) -> list[Order]:
        target = self.signal_target(view.mid2)
        if target is None:
            return []
        out = [Order.cancel(o.oid) for o in view.open_orders]
        q = target - view.position
        if q == 0:
            return out
        side = BUY if q > 0 else SELL
        offset = self.params.limit_offset
        if self.params.order_type == "market":
            out.append(Order.market(side, abs(q)))
        elif side == BUY and view.best_ask is not None:
            out.append(Order.limit(BUY, view.best_ask + offset, abs(q)))
        elif side == SELL and view.best_bid is not None and view.best_bid - offset >= 1:
            out.append(Order.limit(SELL, view.best_bid - offset, abs(q)))
        return out

    def jit_row(self) -> np.ndarray:
        row = np.zeros(AG_COLS, np.int64)
        row[AG_KIND] = AG_MOMENTUM
        row[AG_SIZE] = self.size
        row[AG_MAXPOS] = self.max_position
        row[AG_INTERVAL] = self.interval_ns
        row[AG_SHORT] = self.params.short
        row[AG_LONG] = self.params.long
        row[AG_ORDER_TYPE] = ORDER_TYPE_MARKET if self.params.order_type == "market" else ORDER_TYPE_LIMIT
        row[AG_OFFSET] = self.params.limit_offset
        row[AG_RESTING] = -1
        return row

    def run_summary(self, row: np.ndarray) -> dict:
        return {"n_crossovers": int(row[AG_N_CROSSOVERS]) if self.jitted else self.n_crossovers}
