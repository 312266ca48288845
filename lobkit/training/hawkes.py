"""Parametric Hawkes processes for the neural model's baselines and its oracle check, with `tick` (``tick.hawkes``).

* :func:`fit_sumexp`: a multivariate Hawkes process with sum-of-exponential kernels fitted by ``tick``'s
  ``HawkesSumExpKern`` (least squares) on a training stream;
* :func:`sumexp_loglik`: the exact log-likelihood of such a process on a stream, conditioned on the whole history
  (``tick``'s own ``score`` is not: we compute it from the fitted ``baseline`` and ``adjacency``, with the usual
  recursion over the events, Ozaki 1979);
* :func:`poisson_loglik`: the homogeneous Poisson baseline;
* :func:`oracle_stream`: the 3-type exponential Hawkes process of issue 9 simulated with ``SimuHawkesExpKernels``.

Kernel convention (``tick``'s): ``phi_ij(t) = sum_u A[i, j, u] beta_u exp(-beta_u t)``, so ``A[i, j, u]`` is the
integral of the kernel (the expected number of type-i events a type-j event triggers through decay ``u``) and
the intensity jumps by ``A[i, j, u] beta_u``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lobkit.training.events import EventStream, make_stream

#: The oracle of issue 9: mu, alpha (alpha[k][j]: the jump of type k's intensity after a type-j event) and beta
#: (its decay rate), T = 20,000 s.
ORACLE_MU = (0.30, 0.20, 0.25)
ORACLE_ALPHA = ((0.45, 0.10, 0.30), (0.18, 0.70, 0.07), (0.07, 0.26, 0.58))
ORACLE_BETA = ((1.5, 0.8, 2.0), (1.0, 2.5, 0.6), (0.7, 1.2, 1.8))
ORACLE_T = 20_000.0


@dataclass(frozen=True)
class SumExpHawkes:
    """``mu`` (K,), ``A`` (K, K, U) kernel integrals, ``beta`` (U,) decay rates per second."""

    mu: np.ndarray
    A: np.ndarray
    beta: np.ndarray

    @classmethod
    def oracle(cls) -> SumExpHawkes:
        """The oracle as a sum-exp process: one decay per distinct beta, ``A = alpha / beta`` on its pair."""
        alpha, b = np.array(ORACLE_ALPHA), np.array(ORACLE_BETA)
        decays = np.unique(b)
        A = np.zeros((3, 3, len(decays)))
        for k in range(3):
            for j in range(3):
                A[k, j, int(np.searchsorted(decays, b[k, j]))] = alpha[k, j] / b[k, j]
        return cls(np.array(ORACLE_MU), A, decays)


def sumexp_loglik(model: SumExpHawkes, stream: EventStream, score_from: int = 0, start_ns: int | None = None):
    """``(log-likelihood of the events from index score_from and of the time from start_ns to the window's end,
    events scored, compensator increments between consecutive scored events (for the time-rescaling test))``.

    The whole history before ``score_from`` conditions the intensity. ``start_ns`` defaults to the time of event
    ``score_from - 1`` (or 0)."""
    t = stream.seconds
    k = stream.type.astype(np.int64)
    mu, A, beta = np.asarray(model.mu, float), np.asarray(model.A, float), np.asarray(model.beta, float)
    a_out = A.sum(axis=0)  # (K, U): what a type-j event adds to the total compensator, per decay
    start = (t[score_from - 1] if score_from > 0 else 0.0) if start_ns is None else start_ns / 1e9
    state = np.zeros_like(a_out)  # sum over past type-j events of exp(-beta_u (now - t_l))
    last, mu_sum = 0.0, float(mu.sum())
    ll, increments = 0.0, []

    def advance(to: float) -> float:
        nonlocal state
        dt = to - last
        decay = np.exp(-beta * dt)
        comp = mu_sum * dt + float((a_out * state * (1.0 - decay)).sum())
        state = state * decay
        return comp

    comp_since = 0.0
    for e in range(len(t)):
        if e == score_from:  # the scored window starts at `start`
            comp_since = 0.0
            if start > last:
                advance(start)
                last = start
        c = advance(t[e])
        last = t[e]
        if e >= score_from:
            lam = mu[k[e]] + float((A[k[e]] * beta * state).sum())
            ll += math.log(lam) - c
            increments.append(comp_since + c)
            comp_since = 0.0
        state[k[e]] += 1.0
    end = stream.duration_ns / 1e9
    if len(t) == score_from and start > last:
        advance(start)
        last = start
    ll -= advance(end)
    return ll, len(t) - score_from, np.asarray(increments[1:])


def poisson_loglik(train: EventStream, stream: EventStream, score_from: int, start_ns: int) -> tuple[float, int]:
    """Log-likelihood of the events from ``score_from`` and the time from ``start_ns`` to the end under per-type
    constant rates fitted on ``train`` (count over duration; a type never seen gets half an event)."""
    rates = np.maximum(train.counts(), 0.5) / (train.duration_ns / 1e9)
    scored = stream.type[score_from:].astype(np.int64)
    span = (stream.duration_ns - start_ns) / 1e9
    return float(np.log(rates[scored]).sum() - rates.sum() * span), len(scored)


def default_decays(stream: EventStream) -> np.ndarray:
    """Decay rates of the fitted baseline: 0.25, 0.5, 1 and 2 times the stream's mean event rate (for the oracle,
    about 0.5, 1, 2 and 4 per second, the decays that fit it best in ../shared/notes/libraries.md)."""
    rate = len(stream) / max(stream.duration_ns / 1e9, 1e-9)
    return rate * np.array([0.25, 0.5, 1.0, 2.0])


def fit_sumexp(train: EventStream, decays: np.ndarray | None = None) -> SumExpHawkes:
    """A sum-exp Hawkes process fitted to ``train`` by ``tick``'s ``HawkesSumExpKern`` (least squares with tick's
    default small L2 penalty, C = 1000) with the decays of :func:`default_decays`; negative estimates are set to 0
    (a baseline to 1e-9) so that the intensity stays positive."""
    from tick.hawkes import HawkesSumExpKern

    decays = default_decays(train) if decays is None else np.asarray(decays, float)
    t = train.seconds
    events = [np.ascontiguousarray(t[train.type == j], dtype=np.float64) for j in range(train.n_types)]
    learner = HawkesSumExpKern(decays=decays, n_baselines=1, penalty="l2", C=1e3, verbose=False)
    learner.fit(events)  # tick takes the last event as the end of the window (the split is a moment later)
    mu = np.maximum(np.asarray(learner.baseline, float).reshape(train.n_types), 1e-9)
    A = np.maximum(np.asarray(learner.adjacency, float), 0.0)
    return SumExpHawkes(mu, A, decays)


def oracle_stream(seed: int = 0, end_time: float = ORACLE_T) -> EventStream:
    """The 3-type oracle of issue 9 simulated by ``tick``'s ``SimuHawkesExpKernels`` (tick's adjacency is the
    kernel integral ``alpha / beta``) over ``end_time`` seconds."""
    from tick.hawkes import SimuHawkesExpKernels

    alpha, beta = np.array(ORACLE_ALPHA), np.array(ORACLE_BETA)
    sim = SimuHawkesExpKernels(adjacency=alpha / beta, decays=beta, baseline=np.array(ORACLE_MU),
                               end_time=end_time, seed=int(seed), verbose=False)
    sim.simulate()
    times = np.concatenate(sim.timestamps)
    types = np.concatenate([np.full(len(ts), j) for j, ts in enumerate(sim.timestamps)])
    order = np.argsort(times, kind="stable")
    return make_stream(times[order], types[order], duration_s=end_time, n_types=3,
                       source=f"oracle Hawkes (seed {seed})")
