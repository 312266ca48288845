"""The background order flow that makes the market: :class:`BackgroundTrader`.

The flow is a 6-dimensional Hawkes process whose event types are limit buy/sell, market buy/sell and cancel
buy/sell. Intensity of type k at time t::

    lambda_k(t) = mu_k(book) + sum over past events j of alpha[k, type_j] * exp(-beta (t - t_j))

State-dependent base rates ``mu_k(book)``:

* limit orders: ``limit_rate`` per side, boosted up to ``(1 + refill_boost)`` x when a side holds fewer than
  ``target_orders`` resting orders (a thin book replenishes);
* market orders: ``market_rate`` per side;
* cancellations: ``cancel_rate`` per resting order (Santa Fe zero-intelligence style), none when a side is
  down to ``min_orders``: depth mean-reverts to about ``limit_rate / cancel_rate`` orders a side and a side
  is never emptied by cancellations.

Kernels (branching ratios, each times ``beta``): a market order excites market orders of its side
(``excite_market_same``: herding, bursts, volatility clustering) and of the other side
(``excite_market_cross``), and limit orders on the side it consumed (``excite_limit_refill``: resilience);
limit orders excite limit orders of their side (``excite_limit_limit``). The market-order block is subcritical
(checked by :class:`~lobkit.sim.config.MarketConfig`).

Marks: a limit order is placed ``d >= 1`` ticks from the *opposite* best price (geometric, mean
``limit_depth_mean``), so it never crosses and lands inside the spread when the spread is wide; sizes are
geometric (means ``limit_size_mean``, ``market_size_mean``). A cancellation removes a uniformly chosen resting
background order of its side. Each event belongs to one of ``n_background`` accounts (owner ids after the
agents'), whose trades are accounted like the agents'.

Sampling is exact and uses exactly six uniforms per event (see :mod:`lobkit.sim.nb`), so two runs with the
same seed share their background randomness event by event: common random numbers for counterfactuals.

Plugging in a learned model: the loop only calls :func:`lobkit.agents.nb.flow_next_dt` (time to the next
event) and :func:`lobkit.agents.nb.flow_event` (its type and marks) with the flow's ``kind``, parameter
arrays and state array. A neural Hawkes model adds a ``kind`` there, its weights in the parameter arrays and
its hidden state in the state array, and a subclass of :class:`BackgroundTrader` that builds them
(:meth:`flow_arrays`); the loop does not change.
"""

from __future__ import annotations

import numpy as np

from lobkit.agents.nb import (
    EV_MARKET_BUY,
    EV_MARKET_SELL,
    FLOW_HAWKES,
    FP_BETA,
    FP_EBAR,
    FP_MU_LIMIT,
    FP_MU_MARKET,
    FP_NU_CANCEL,
    FS_EXC,
    FS_LEN,
    N_EVENT_TYPES,
    hawkes_params,
)


class BackgroundTrader:
    """The market's order flow and its ``n_background`` accounts (owner ids ``first_owner ...``).

    Built from a :class:`~lobkit.sim.config.MarketConfig`. After a run, :attr:`accounts` holds each
    background account's final cash (ticks x lots), inventory, fills and volume.
    """

    kind = FLOW_HAWKES

    def __init__(self, market, first_owner: int = 1):
        self.market = market
        self.first_owner = first_owner
        self.n_accounts = market.n_background
        self.accounts = None

    @property
    def owners(self) -> range:
        return range(self.first_owner, self.first_owner + self.n_accounts)

    def flow_arrays(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """``(kind, fp, alpha, fs)``: what the loop's flow functions receive."""
        fp, alpha = hawkes_params(self.market)
        fs = np.zeros(FS_LEN, np.float64)
        exc = self.stationary_excitation(fp, alpha)
        fs[FS_EXC:FS_EXC + N_EVENT_TYPES] = exc
        fp[FP_EBAR] = max(exc[EV_MARKET_BUY] + exc[EV_MARKET_SELL], 1e-300)
        return self.kind, fp, alpha, fs

    def stationary_excitation(self, fp: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Mean excitation of the stationary process at the nominal book (``target_orders`` a side).

        The flow starts there rather than at zero: with slow kernels (``hawkes_beta`` = 0.01/s) and a branching
        ratio near 1 a process started at zero needs tens of minutes to reach its mean activity.
        ``lambda = (I - B)^-1 mu`` with ``B = alpha / beta``; the excitation is ``lambda - mu``.
        """
        m = self.market
        mu = np.array([fp[FP_MU_LIMIT], fp[FP_MU_LIMIT], fp[FP_MU_MARKET], fp[FP_MU_MARKET],
                       fp[FP_NU_CANCEL] * m.target_orders, fp[FP_NU_CANCEL] * m.target_orders])
        B = alpha / fp[FP_BETA]
        lam = np.linalg.solve(np.eye(N_EVENT_TYPES) - B, mu)
        return np.maximum(lam - mu, 0.0)

    def initial_book(self, rng: np.random.Generator, mid_ticks: int) -> tuple[np.ndarray, ...]:
        """A generated starting book around ``mid_ticks``: ``(side, price, size, owner)`` arrays.

        ``init_levels`` levels a side from one tick off the mid (a two-tick spread), ``init_orders_per_level``
        orders each, sizes drawn like the flow's limit orders, owners spread over the background accounts.
        """
        m = self.market
        L, k = m.init_levels, m.init_orders_per_level
        n = 2 * L * k
        side = np.repeat(np.array([1, -1], np.int64), L * k)
        dist = np.tile(np.repeat(np.arange(1, L + 1, dtype=np.int64), k), 2)
        price = np.where(side == 1, mid_ticks - dist, mid_ticks + dist)
        p = 1.0 / m.limit_size_mean
        size = rng.geometric(p, n).astype(np.int64) if p < 1 else np.ones(n, np.int64)
        owner = self.first_owner + rng.integers(0, self.n_accounts, n).astype(np.int64)
        return side, price.astype(np.int64), size, owner
