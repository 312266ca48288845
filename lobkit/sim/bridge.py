"""The bridge between the jitted loop and agents that decide in Python (the slow path).

At a Python agent's decision time the loop returns to :meth:`lobkit.sim.simulation.Simulation.advance`, which
calls :func:`python_decision`: build the agent's :class:`~lobkit.agents.MarketView`, call its ``act``, check
what it returned, and push each order through the same jitted submission functions the built-in agents use.

An agent's mistake is reported as that agent's mistake (:class:`~lobkit.errors.AgentError`, one line naming the
agent, the simulated time and the order): ``act`` raising, returning something other than a list of
:class:`~lobkit.agents.Order`, or an order that cannot be right (NaN price, size 0, bad side). Orders the engine
refuses (a price outside the book's window, a post-only order that would cross, ...) are market outcomes, not
mistakes: they get their status in ``Order.status``, are counted in the summary (``rejected_orders``) and the
first ones are kept with their reason in ``Simulation.rejections``.
"""

from __future__ import annotations

import traceback

import numpy as np

from lobkit.agents import MarketView, OpenOrder, Order
from lobkit.agents.base import RECENT_DTYPE
from lobkit.agents.nb import AG_NEXT_DEC
from lobkit.engine import nb as eng
from lobkit.engine.messages import FLAG_IOC, OK, OP_LIMIT, OP_MARKET, STATUS_NAMES
from lobkit.engine.state import LV_VOL, M_BASE, M_BEST_ASK, M_BEST_BID, M_NASK, M_NBID, O_SIZE
from lobkit.errors import AgentError, LobkitError
from lobkit.sim import nb as snb
from lobkit.validate import show

#: How many refused orders of each agent are kept with their reason (all are counted).
KEEP_REJECTIONS = 20


def refresh_accounts(sim, i: int) -> None:
    """Copy agent ``i``'s accounts from the loop's arrays to the agent object (currency where it says so)."""
    a = sim.agents[i]
    st = sim.state
    a.cash = int(st.accounts[i, snb.A_CASH])
    a.inventory = int(st.accounts[i, snb.A_INVENTORY])
    a.n_trades = int(st.accounts[i, snb.A_FILLS])
    a.fees = float(st.account_costs[i, snb.C_FEES]) * sim.value_per_tick_lot
    a.realised_pnl = float(st.account_costs[i, snb.C_REALISED]) * sim.value_per_tick_lot - a.fees
    mid2 = int(snb.mid2_of(sim.book, st))
    a.pnl = (a.cash + a.inventory * mid2 / 2.0) * sim.value_per_tick_lot - a.fees


def market_view(sim, i: int) -> MarketView:
    """What agent ``i`` sees now."""
    book, st = sim.book, sim.state
    meta = book.meta
    base = meta[M_BASE]
    has_bid, has_ask = meta[M_NBID] > 0, meta[M_NASK] > 0
    bid = int(meta[M_BEST_BID]) if has_bid else None
    ask = int(meta[M_BEST_ASK]) if has_ask else None
    bid_size = int(book.lv[LV_VOL, 0, bid - base]) if has_bid else 0
    ask_size = int(book.lv[LV_VOL, 1, ask - base]) if has_ask else 0
    opened = sim.open_orders[i]
    open_orders = []
    for oid in list(opened):
        slot = eng.order_slot(book, oid)
        if slot == -1:
            del opened[oid]
        else:
            side, price = opened[oid]
            open_orders.append(OpenOrder(oid, side, price, int(book.orders[slot, O_SIZE])))
    n = int(st.scalars[snb.S_N_TRADES])
    k = min(n, snb.RECENT)
    recent = np.zeros(k, RECENT_DTYPE)
    if k:
        rows = st.recent_trades[np.arange(n - k, n) % snb.RECENT]
        for j, name in enumerate(RECENT_DTYPE.names):
            recent[name] = rows[:, j]
    refresh_accounts(sim, i)
    a = sim.agents[i]
    return MarketView(t_ns=sim.now, best_bid=bid, best_ask=ask, bid_size=bid_size, ask_size=ask_size,
                      mid2=int(snb.mid2_of(book, st)), tick_size=sim.cfg.market.tick_size, position=a.inventory,
                      cash=a.cash, fees=a.fees, pnl=a.pnl, open_orders=tuple(open_orders), recent_trades=recent)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" ({f.filename}:{f.lineno})"


def python_decision(sim, i: int) -> None:
    """Run agent ``i``'s ``act`` at its decision time and submit what it returns."""
    st = sim.state
    t = int(st.agents[i, AG_NEXT_DEC])
    agent = sim.agents[i]
    when = f"agent {agent.describe()} at t = {t / 1e9:.3f} s"
    try:
        orders = agent.act(market_view(sim, i))
    except LobkitError as exc:
        raise AgentError(f"{when}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's code: one line with where it happened
        raise AgentError(f"{when}: act() raised {type(exc).__name__}: {exc}{_where(exc)}") from exc
    if orders is None:
        orders = []
    if not isinstance(orders, list | tuple):
        hint = " (wrap a single order in a list)" if isinstance(orders, Order) else ""
        raise AgentError(f"{when}: act() must return a list of Order objects, got {type(orders).__name__} "
                         f"{show(orders) if isinstance(orders, str | int | float) else ''}{hint}".rstrip())
    for k, o in enumerate(orders):
        if not isinstance(o, Order):
            raise AgentError(f"{when}: act() returned item {k} = {show(o)}, which is not an Order (build orders with "
                             "Order.market, Order.limit, Order.cancel)")
        try:
            o.check()
        except LobkitError as exc:
            raise AgentError(f"{when}: order {k} ({o.describe()}): {exc}") from None
        _submit(sim, i, o, t)
        if sim.logs_nearly_full():
            sim.flush_logs()
    st.agents[i, AG_NEXT_DEC] = t + agent.interval_ns


def _submit(sim, i: int, o: Order, t: int) -> None:
    book, st = sim.book, sim.state
    if o.kind == "cancel":
        status, q = snb.agent_cancel(book, st, i, int(o.oid), t)
        sim.open_orders[i].pop(int(o.oid), None)
    elif o.kind == "market":
        status, q, oid = snb.agent_submit(book, st, i, OP_MARKET, int(o.side), 0, int(o.size), 0, t)
        o.oid = int(oid)
    else:
        flags = FLAG_IOC if o.ioc else 0
        status, q, oid = snb.agent_submit(book, st, i, OP_LIMIT, int(o.side), int(o.price), int(o.size), flags, t)
        o.oid = int(oid)
        if status == OK and q < o.size and not o.ioc:
            sim.open_orders[i][int(oid)] = (int(o.side), int(o.price))
    o.status, o.filled = int(status), int(q)
    if status != OK and o.kind != "cancel":
        kept = sim.rejections.setdefault(i, [])
        if len(kept) < KEEP_REJECTIONS:
            kept.append({"t_s": t / 1e9, "order": o.describe(), "reason": STATUS_NAMES.get(int(status), str(status))})
