"""An agent's mistake is reported as that agent's mistake, with its order; refused orders leave a trace."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lobkit.agents import BUY, SELL, Agent, Order
from lobkit.errors import AgentError, ConfigError
from lobkit.sim import simulate

from .conftest import small_cfg


class Once(Agent):
    """Returns ``what()`` at its first decision, nothing afterwards."""

    name = "once"

    def __init__(self, what, **kw):
        super().__init__(**kw)
        self.what = what
        self.done = False

    def act(self, view):
        if self.done:
            return []
        self.done = True
        return self.what(view)


def _run(what):
    return simulate(small_cfg(duration="1min", warmup="10s"), 1, agent=Once(what))


@pytest.mark.parametrize(
    "what,needle",
    [
        (lambda v: "buy", "act() must return a list of Order objects, got str 'buy'"),
        (lambda v: Order.market(BUY, 1), "wrap a single order in a list"),
        (lambda v: [Order.market(BUY, 1), "sell"], "item 1 = 'sell', which is not an Order"),
        (lambda v: [Order.limit(BUY, float("nan"), 1)],
         "order price: must be an integer in [1, 1,152,921,504,606,846,976] ticks, got nan"),
        (lambda v: [Order.limit(BUY, v.best_bid, 0)], "order size: must be an integer in [1, 1,000,000] lots, got 0"),
        (lambda v: [Order.market(2, 1)], "order side: expected BUY (1) or SELL (-1), got 2"),
        (lambda v: [Order.market(SELL, 2**63 - 1)], "order size"),
        (lambda v: [Order("stop", BUY, 1)], "order 0 (stop BUY 1): order kind"),
        (lambda v: 1 / 0, "act() raised ZeroDivisionError: division by zero"),
        (lambda v: [Order.cancel(1.5)], "order id"),
    ],
)
def test_an_agents_mistake_names_the_agent_the_time_and_the_order(what, needle):
    with pytest.raises(AgentError) as ei:
        _run(what)
    msg = str(ei.value)
    assert needle in msg
    assert msg.startswith("agent 'once' (") and "at t = 10.000 s" in msg
    assert "\n" not in msg and "np.float64" not in msg


def test_orders_the_engine_refuses_are_counted_and_kept_with_their_reason():
    res = _run(lambda v: [Order.limit(BUY, 10**15, 1), Order.limit(SELL, 1, 1, ioc=True), Order.market(BUY, 1)])
    assert res.summary["rejected_orders"] == 1
    assert res.rejections[0]["order"] == "limit BUY 1 @ 1000000000000000 ticks"
    assert "price" in res.rejections[0]["reason"]
    assert res.agent_orders.height == 3 and res.agent_orders["status"].to_list()[0] != 0


def test_the_cli_prints_an_agents_mistake_on_one_line(tmp_path):
    from lobkit.cli import main

    mod = tmp_path / "bad_agents.py"
    mod.write_text("from lobkit.agents import Agent\n\nclass Bad(Agent):\n    def act(self, view):\n"
                   "        return 'buy'\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        r = CliRunner().invoke(main, ["run", "--agent", "bad_agents:Bad", "--duration", "1min", "--warmup", "10s",
                                      "--out", str(tmp_path / "o"), "--no-progress"])
    finally:
        sys.path.remove(str(tmp_path))
    assert r.exit_code == 2
    assert r.output.startswith("error: agent 'agent' (bad_agents.Bad) at t = 10.000 s: act() must return a list")
    assert len(r.output.strip().splitlines()) == 1


def test_order_constructors_check_at_once():
    with pytest.raises(ConfigError, match="order price"):
        Order.limit(BUY, float("nan"), 1)
    with pytest.raises(ConfigError, match="order size"):
        Order.market(SELL, 0)
    assert Order.limit(BUY, 100, 2).describe() == "limit BUY 2 @ 100 ticks"
