"""The momentum (moving-average crossover) agent, in its Python and jitted forms."""

from __future__ import annotations

import numpy as np

from lobkit.agents.base import BUY, SELL, Agent, MarketView, Order
from lobkit.agents.nb import (
    AG_COLS,
    AG_INTERVAL,
    AG_KIND,
    AG_LONG,
    AG_MAXPOS,
    AG_MOMENTUM,
    AG_OFFSET,
    AG_OTYPE,
    AG_RESTING,
    AG_SHORT,
    AG_SIZE,
    OTYPE_LIMIT,
    OTYPE_MARKET,
)
from lobkit.errors import ConfigError


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

    def __init__(self, short: int = 5, long: int = 20, size: int = 1, max_position: int | None = None,
                 interval_ns: int = 1_000_000_000, order_type: str = "market", limit_offset: int = 0,
                 fee_per_lot: float = 0.0, fee_bps: float = 0.0, jit: bool = True):
        super().__init__(interval_ns=interval_ns, size=size, max_position=max_position, fee_per_lot=fee_per_lot,
                         fee_bps=fee_bps)
        if not isinstance(short, int) or short < 1:
            raise ConfigError(f"short: must be an integer >= 1, got {short!r}")
        if not isinstance(long, int) or long <= short:
            raise ConfigError(f"short: must be smaller than long, got short={short} >= long={long}")
        if order_type not in ("market", "limit"):
            raise ConfigError(f"order_type: choose market or limit, got {order_type!r}")
        if not isinstance(limit_offset, int) or limit_offset < 0:
            raise ConfigError(f"limit_offset: must be an integer >= 0, got {limit_offset!r}")
        self.short = short
        self.long = long
        self.order_type = order_type
        self.limit_offset = limit_offset
        self.jitted = bool(jit)
        self._hist: list[int] = []
        self._last_sig = 0
        self.n_crossovers = 0

    # the rule, integer-exact like the jitted form
    def signal_target(self, mid2: int) -> int | None:
        """Record one mid sample (half-ticks); the target position on a new crossover, else None."""
        self._hist.append(int(mid2))
        if len(self._hist) > self.long:
            del self._hist[0]
        if len(self._hist) < self.long:
            return None
        diff = sum(self._hist[-self.short:]) * self.long - sum(self._hist) * self.short
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
        if self.order_type == "market":
            out.append(Order.market(side, abs(q)))
        elif side == BUY and view.best_ask is not None:
            out.append(Order.limit(BUY, view.best_ask + self.limit_offset, abs(q)))
        elif side == SELL and view.best_bid is not None:
            out.append(Order.limit(SELL, view.best_bid - self.limit_offset, abs(q)))
        return out

    def jit_row(self) -> np.ndarray:
        row = np.zeros(AG_COLS, np.int64)
        row[AG_KIND] = AG_MOMENTUM
        row[AG_SIZE] = self.size
        row[AG_MAXPOS] = self.max_position
        row[AG_INTERVAL] = self.interval_ns
        row[AG_SHORT] = self.short
        row[AG_LONG] = self.long
        row[AG_OTYPE] = OTYPE_MARKET if self.order_type == "market" else OTYPE_LIMIT
        row[AG_OFFSET] = self.limit_offset
        row[AG_RESTING] = -1
        return row
