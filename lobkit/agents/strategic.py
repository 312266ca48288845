"""The placeholder strategy: edit it, or subclass it, to try your own idea."""

from __future__ import annotations

from dataclasses import dataclass, field

from lobkit.agents.base import Agent, MarketView, Order
from lobkit.agents.registry import register_agent
from lobkit.errors import ConfigError
from lobkit.validate import check_field


@dataclass(frozen=True)
class StrategicParams:
    """imbalance: the rule's threshold, in (0.5, 1): long when the bid holds at least this share of the touch
    volume, short when it holds at most ``1 - imbalance``."""

    imbalance: float = field(default=0.7, metadata={"help": "Touch-volume share of the bid that makes the strategic "
                                                          "agent go long (1 - it: short)."})

    def __post_init__(self):
        check_field(self, "imbalance", "number")
        if not 0.5 < self.imbalance < 1:
            raise ConfigError(f"imbalance: must be in (0.5, 1), got {self.imbalance:g}")


@register_agent
class StrategicAgent(Agent):
    """A documented starting point for a strategy of your own (runs in Python: the slow path).

    The rule shipped here is deliberately simple, a queue-imbalance signal: when the bid's touch size is at
    least ``imbalance`` of the touch volume (buyers queueing), go long ``size``; when it is at most
    ``1 - imbalance``, go short; otherwise keep the position. Replace :meth:`act` with yours; keep it returning a
    list of :class:`~lobkit.agents.Order` (the helper :meth:`Agent.orders_to` moves to a target position).
    """

    name = "strategic"
    Params = StrategicParams

    def act(self, view: MarketView) -> list[Order]:
        touch = view.bid_size + view.ask_size
        if touch == 0:
            return []
        share = view.bid_size / touch
        if share >= self.params.imbalance:
            target = self.size
        elif share <= 1.0 - self.params.imbalance:
            target = -self.size
        else:
            return []
        if target == view.position:
            return []
        return self.orders_to(view, target)
