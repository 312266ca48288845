"""Seeded synthetic message streams for benchmarks, tests and the demo (not part of the engine's core).

:func:`synthetic_flow` builds a valid ``MESSAGE_DTYPE`` stream of one of the :data:`FLOWS` mixes: every cancel
and modify targets an order resting at that moment, because the generator applies each message to a scratch
book (the engine's own kernels) as it goes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from lobkit.engine import nb
from lobkit.engine.messages import (
    FLAG_IOC,
    MESSAGE_DTYPE,
    OP_CANCEL,
    OP_LIMIT,
    OP_MARKET,
    OP_MODIFY,
    PRICE_LIMIT,
)
from lobkit.engine.state import (
    F_MAKER_OID,
    M_BEST_ASK,
    M_BEST_BID,
    M_NASK,
    M_NBID,
    M_NFILLS,
    O_SIDE,
    O_SIZE,
    alloc_state,
)
from lobkit.errors import ConfigError

# Each mix gives the share of each kind of message (the rest modify the price of a resting order), the chance
# that a limit or modify crosses the spread (an IOC always does), the number of resting orders it keeps near
# (``target``), how far behind the mid passive prices lie (1..``half_span`` ticks) and the largest size in lots.
FLOWS = {
    # exchange-core's benchmark mix: ~82% modify-price, 9% limit, 3% IOC, 6% cancel; ~1,000 resting orders over
    # ~730 levels; about 6% of the messages trade
    "mix": {"limit": 0.09, "ioc": 0.03, "cancel": 0.06, "market": 0.0, "cross": 0.033, "target": 1000,
            "half_span": 820, "max_size": 10},  # fmt: skip
    # a high match rate: ~42% of the messages trade (0.7 fills per message) against ~200 orders on ~30 levels
    "match": {"limit": 0.6, "ioc": 0.1, "cancel": 0.1, "market": 0.1, "cross": 0.3, "target": 200, "half_span": 8,
              "max_size": 10},  # fmt: skip
}
_SCRATCH_WINDOW = 4096  # ticks of the generator's scratch book, centred on ``mid``

# the kinds of message the generator draws
_NEW_LIMIT = 0
_NEW_IOC = 1
_CANCEL = 2
_MARKET = 3
_MODIFY_PRICE = 4


def synthetic_flow(n: int, kind: str = "mix", seed: int = 0, *, n_owners: int = 16, mid: int = 100_000):
    """A seeded, valid synthetic message stream of ``n`` messages (``MESSAGE_DTYPE``) and its statistics.

    ``kind`` is a key of :data:`FLOWS`; ``seed`` a non-negative integer (``numpy.random.SeedSequence``);
    ``owners`` are drawn from ``0..n_owners-1``; prices (int64 ticks) start around ``mid``. Returns
    ``(messages, info)``; ``info`` holds the number of messages that traded, the share of each op and the
    resting orders at the end. Raises :class:`lobkit.errors.ConfigError` (a ``ValueError``) on bad arguments.
    """
    if not isinstance(kind, str) or kind not in FLOWS:
        raise ConfigError(f"unknown flow kind '{kind}'; choose from {', '.join(sorted(FLOWS))}")
    for name, v, lo, hi in (
        ("n", n, 0, 2**40),
        ("seed", seed, 0, 2**63 - 1),
        ("n_owners", n_owners, 1, 2**62),
        ("mid", mid, _SCRATCH_WINDOW, PRICE_LIMIT // 2),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {v}")
    f = FLOWS[kind]
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    scratch = alloc_state(4 * f["target"] + 64, _SCRATCH_WINDOW, 8 * f["target"] + 256, mid - _SCRATCH_WINDOW // 2)
    cols = {k: np.zeros(n, dtype=MESSAGE_DTYPE[k]) for k in MESSAGE_DTYPE.names}
    shares = np.array([f["limit"], f["ioc"], f["cancel"], f["market"], f["cross"]], dtype=np.float64)
    live = np.zeros(n + 1, dtype=np.int64)
    pos = np.full(n + 1, -1, dtype=np.int64)
    traded = _generate(
        scratch, rng, shares, f["target"], f["half_span"], f["max_size"], n_owners, mid,
        cols["op"], cols["side"], cols["flags"], cols["price"], cols["size"], cols["oid"], cols["owner"],
        cols["ts"], live, pos,
    )  # fmt: skip
    msgs = np.empty(n, dtype=MESSAGE_DTYPE)
    for k, v in cols.items():
        msgs[k] = v
    ops = msgs["op"]
    ioc = (msgs["flags"] & FLAG_IOC) != 0

    def share(mask) -> float:
        return float(np.mean(mask)) if n else 0.0

    info = {
        "messages": n,
        "traded": int(traded),
        "trade_share": traded / max(n, 1),
        "modify_share": share(ops == OP_MODIFY),
        "limit_share": share((ops == OP_LIMIT) & ~ioc),
        "ioc_share": share((ops == OP_LIMIT) & ioc),
        "cancel_share": share(ops == OP_CANCEL),
        "market_share": share(ops == OP_MARKET),
        "resting_at_end": int(scratch.meta[M_NBID] + scratch.meta[M_NASK]),
    }
    return msgs, info


@njit(cache=True)
def _forget(live, pos, nlive, oid):
    """Drop ``oid`` from the list of resting ids (swap with the last one). Returns the new count."""
    j = pos[oid]
    last = live[nlive - 1]
    live[j] = last
    pos[last] = j
    pos[oid] = -1
    return nlive - 1


@njit(cache=True)
def _generate(st, rng, shares, target, half_span, max_size, n_owners, mid0, op, side, flags, price, size, oid,
              owner, ts, live, pos):  # fmt: skip
    """Generate the stream into the message columns, applying each message to the scratch book ``st``.

    ``shares`` = [limit, ioc, cancel, market, cross]: the share of new limit orders, IOC orders, cancels and
    market orders (the rest are modify-price messages), and the chance that a limit or modify crosses the
    spread. Passive prices lie 1..``half_span`` ticks behind the mid, so about ``2 * half_span`` levels are in
    use; limits turn into cancels above ``target`` resting orders and cancels into limits below it.
    ``live``/``pos`` (int64[n + 1], pos filled with -1) track the resting ids. Returns how many messages traded.
    """
    n = op.shape[0]
    meta = st.meta
    nlive = 0
    traded = 0
    mid = mid0
    cap = st.orders.shape[0]
    below_ioc = shares[0] + shares[1]
    below_cancel = below_ioc + shares[2]
    below_market = below_cancel + shares[3]
    for i in range(n):
        if meta[M_NBID] > 0 and meta[M_NASK] > 0:
            mid = (meta[M_BEST_BID] + meta[M_BEST_ASK]) // 2
        elif meta[M_NBID] > 0:
            mid = meta[M_BEST_BID] + 1
        elif meta[M_NASK] > 0:
            mid = meta[M_BEST_ASK] - 1
        r = rng.random()
        kind = _MODIFY_PRICE
        if r < shares[0]:
            kind = _NEW_LIMIT
        elif r < below_ioc:
            kind = _NEW_IOC
        elif r < below_cancel:
            kind = _CANCEL
        elif r < below_market:
            kind = _MARKET
        if kind == _CANCEL and nlive < target:
            kind = _NEW_LIMIT
        elif kind == _NEW_LIMIT and (nlive > target or nlive >= cap - 1):
            kind = _CANCEL
        if (kind == _CANCEL or kind == _MODIFY_PRICE) and nlive == 0:  # noqa: SIM109 (jitted)
            kind = _NEW_LIMIT
        sd = 1 if rng.random() < 0.5 else -1
        sz = 1 + np.int64(rng.random() * max_size)
        cross = rng.random() < shares[4]
        off = 1 + np.int64(rng.random() * half_span)
        target_oid = -1
        if kind == _CANCEL or kind == _MODIFY_PRICE:  # noqa: SIM109 (jitted)
            target_oid = live[np.int64(rng.random() * nlive)]
            slot = nb.order_slot(st, target_oid)
            sd = np.int64(st.orders[slot, O_SIDE])
            sz = st.orders[slot, O_SIZE]  # a modify-price message keeps the size
        if kind == _NEW_IOC or kind == _MARKET or cross:  # noqa: SIM109 (jitted)
            if sd == 1:
                px = meta[M_BEST_ASK] + np.int64(rng.random() * 3) if meta[M_NASK] > 0 else mid - off
            else:
                px = meta[M_BEST_BID] - np.int64(rng.random() * 3) if meta[M_NBID] > 0 else mid + off
        else:
            px = mid - off if sd == 1 else mid + off
        if px < 1:
            px = 1  # prices are positive ticks (not reached from the default mid)
        if kind == _MODIFY_PRICE:
            op[i] = OP_MODIFY
        elif kind == _CANCEL:
            op[i] = OP_CANCEL
        elif kind == _MARKET:
            op[i] = OP_MARKET
        else:
            op[i] = OP_LIMIT
        side[i] = sd
        flags[i] = FLAG_IOC if kind == _NEW_IOC else 0
        price[i] = px
        size[i] = sz
        oid[i] = target_oid if target_oid != -1 else i + 1
        owner[i] = np.int64(rng.random() * n_owners)
        ts[i] = i
        nb.apply_one(st, op[i], side[i], flags[i], price[i], size[i], oid[i], owner[i], ts[i])
        nf = meta[M_NFILLS]
        if nf > 0:
            traded += 1
        for k in range(nf):
            maker = st.fills[k, F_MAKER_OID]
            if pos[maker] >= 0 and nb.order_slot(st, maker) == -1:
                nlive = _forget(live, pos, nlive, maker)
        meta[M_NFILLS] = 0
        o = oid[i]
        resting = nb.order_slot(st, o) != -1
        if resting and pos[o] < 0:
            live[nlive] = o
            pos[o] = nlive
            nlive += 1
        elif not resting and pos[o] >= 0:
            nlive = _forget(live, pos, nlive, o)
    return traded
