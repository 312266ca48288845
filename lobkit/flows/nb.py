"""The jitted interface of an order-flow model: the three functions the simulation loop calls.

The loop (:func:`lobkit.sim.nb.run_until`) knows nothing about any particular flow model. It holds the model's
state, a NamedTuple of arrays built by the model's Python class (:class:`lobkit.flows.FlowModel`), and calls:

* ``flow_reschedule(flow, book, now, agent_flow) -> int64``: bring the model to time ``now`` (ns) with the book
  as it is now (it may have changed since the last call: an agent traded) and return the time (ns, ``>= now``)
  of the next background event, or :data:`NEVER`. ``agent_flow``: the signed lots agents bought (+) or sold (-)
  as aggressors since the last call (a model may let them move its prices; 0 after background events). Called
  after every background event and after every change of the book by an agent. It must consume no random
  numbers, so that calling it more often (a book change that two runs do not share) does not shift the random
  numbers of later events: that is what keeps a baseline and an experiment coupled.
* ``flow_fire(flow, book, now, next_oid, last_mid2) -> (event_type, price, size, owner, target_oid)``: the event
  due at ``now`` (the time the last ``flow_reschedule`` returned). ``event_type`` is one of ``EV_*``; ``price``
  (ticks) and ``size`` (lots) describe a limit or market order (a limit order must not cross: the loop sends it
  as it is); ``owner`` is an index in ``[0, n_background)``; a cancellation names its ``target_oid`` (a resting
  background order id; ``-1``: nothing to cancel). A new limit order will get the id ``next_oid``.
  ``last_mid2`` is bid + ask (half-ticks) of the last two-sided book, for placing orders when a side is empty.
* ``flow_seed_order(flow, book, oid, side)``: a background order of the initial book (side BUY or SELL) rests
  with id ``oid`` (so that the model can cancel it later).

A model implements them by registering Numba overloads for its own state type (``@overload(flow_fire,
inline="always")`` returning an implementation when ``flow.instance_class`` is its NamedTuple class): the loop is
compiled once per model type and cached like every kernel. See :mod:`lobkit.flows.hawkes` and docs/simulator.md
("Adding an order-flow model").

Event types: ``EV_LIMIT_BUY``, ``EV_LIMIT_SELL``, ``EV_MARKET_BUY``, ``EV_MARKET_SELL``, ``EV_CANCEL_BUY``,
``EV_CANCEL_SELL``.
"""

from __future__ import annotations

EV_LIMIT_BUY = 0
EV_LIMIT_SELL = 1
EV_MARKET_BUY = 2
EV_MARKET_SELL = 3
EV_CANCEL_BUY = 4
EV_CANCEL_SELL = 5
N_EVENT_TYPES = 6
EVENT_NAMES = ("limit_buy", "limit_sell", "market_buy", "market_sell", "cancel_buy", "cancel_sell")

#: "no next event" (far beyond any run: 2**62 ns is 146 years)
NEVER = 1 << 62


def flow_reschedule(flow, book, now, agent_flow):  # pragma: no cover - only the jitted overloads run
    """Jitted only: see the module docstring."""
    raise NotImplementedError(f"no jitted flow_reschedule for {type(flow).__name__}: register its overloads")


def flow_fire(flow, book, now, next_oid, last_mid2):  # pragma: no cover
    """Jitted only: see the module docstring."""
    raise NotImplementedError(f"no jitted flow_fire for {type(flow).__name__}: register its overloads")


def flow_seed_order(flow, book, oid, side):  # pragma: no cover
    """Jitted only: see the module docstring."""
    raise NotImplementedError(f"no jitted flow_seed_order for {type(flow).__name__}: register its overloads")
