"""The placeholder strategy: edit it, or subclass it, to try your own idea."""

from __future__ import annotations

from lobkit.agents.base import Agent, MarketView, Order
from lobkit.errors import ConfigError


class StrategicAgent(Agent):
    """A documented starting point for a strategy of your own (runs in Python: the slow path).

    Parameters (all from :class:`lobkit.sim.config.AgentConfig` when built by the CLI):
        size: lots per position (the target is +-size); max_position: hard limit on |position|;
        interval_ns: how often :meth:`act` is called; imbalance: the rule's threshold.

    The rule shipped here is deliberately simple, a queue-imbalance signal: when the bid's touch size is at
    least ``imbalance`` of the touch volume (buyers queueing), go long ``size``; when it is at most
    ``1 - imbalance``, go short; otherwise keep the position. Replace :meth:`act` with yours; keep it returning a
    list of :class:`~lobkit.agents.Order` (the helper :meth:`Agent.orders_to` moves to a target position).
    """

    name = "strategic"

    def __init__(self, size: int = 1, max_position: int | None = None, interval_ns: int = 1_000_000_000,
                 imbalance: float = 0.7, fee_per_lot: float = 0.0, fee_bps: float = 0.0):
        super().__init__(interval_ns=interval_ns, size=size, max_position=max_position, fee_per_lot=fee_per_lot,
                         fee_bps=fee_bps)
        if not 0.5 < imbalance < 1:
            raise ConfigError(f"imbalance: must be in (0.5, 1), got {imbalance!r}")
        self.imbalance = imbalance

    def act(self, view: MarketView) -> list[Order]:
        touch = view.bid_size + view.ask_size
        if touch == 0:
            return []
        share = view.bid_size / touch
        if share >= self.imbalance:
            target = self.size
        elif share <= 1.0 - self.imbalance:
            target = -self.size
        else:
            return []
        if target == view.position:
            return []
        return self.orders_to(view, target)
