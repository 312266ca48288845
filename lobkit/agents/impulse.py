"""The impulse agent: one market order at its first decision, then nothing (the impulse-response experiment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lobkit.agents.base import BUY, SELL, Agent, MarketView, Order
from lobkit.agents.registry import register_agent
from lobkit.errors import ConfigError
from lobkit.validate import check_field, show


@dataclass(frozen=True)
class ImpulseParams:
    """lots: the order's size (1 to 1,000,000 lots); side: ``"buy"`` or ``"sell"``."""

    lots: int = field(default=1, metadata={"help": "Size of the one market order (lots)."})
    side: str = field(default="buy", metadata={"help": "Side of the order.", "choices": ("buy", "sell")})

    def __post_init__(self):
        check_field(self, "lots", "int", lo=1, hi=1_000_000, unit="lots")
        if self.side not in ("buy", "sell"):
            raise ConfigError(f"side: buy or sell, got {show(self.side)}")


@register_agent
class ImpulseAgent(Agent):
    """Sends one market order of ``lots`` lots at its first decision (the end of the warm-up), then nothing:
    the perturbation of :func:`lobkit.sim.impulse_response` (``lobkit impact``)."""

    name = "impulse"
    Params = ImpulseParams
    cli_options = False  # its parameters are lobkit impact's --lots and --side

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.done = False

    def act(self, view: MarketView) -> list[Order]:
        if self.done:
            return []
        self.done = True
        return [Order.market(BUY if self.params.side == "buy" else SELL, self.params.lots)]
