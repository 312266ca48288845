"""The learned order flow (``--flow nhp:nhp_background_trader.pth``): the neural Hawkes process of
:mod:`lobkit.training.nhp` generates the background events inside the jitted simulation loop.

The model's weights are exported to arrays (:func:`lobkit.training.nhp.export_arrays`) and its GRU step, intensity
and mark head run here in Numba, in float64, in the same operations as PyTorch's (``tests/flows/test_neural.py``
checks the jitted state against PyTorch's over 10,000 steps to 1e-5). After each event the state ``h`` gives the
intensities until the next one (times in seconds inside the model, ns in the simulator)::

    lambda_k(tau) = mu_k(h) + sum_m a_km(h) exp(-beta_km tau),
    Lambda(tau)   = sum_k mu_k tau + sum_km a_km (1 - exp(-beta_km tau)) / beta_km

Sampling, exact and with a fixed count of random numbers (the n-th background event takes the uniforms ``7n ..
7n + 6`` of one xoshiro256** stream, so that a baseline and an experiment share them):

* time: inversion of the compensator (Daley and Vere-Jones 2003, sec. 7.4): ``Lambda(tau) = E`` with ``E = -log
  u_0``, solved by Newton's method from the lower bound ``E / (sum mu + sum a)`` (``Lambda`` is increasing and
  concave, so the iterates increase to the root);
* type: ``k`` with probability ``lambda_k(tau) / sum lambda(tau)`` (``u_1``);
* marks from the mark head at the state before the event: the distance category (``u_2``; inverse of the softmax's
  cumulative sum) and the log-normal size (``u_3`` through the normal quantile);
* ``u_4``: the owner (one of the background accounts); ``u_5``: which resting order a cancellation takes;
  ``u_6``: the distance within an open-ended category: how far inside the spread (category 0) or how far beyond
  ``D - 2`` ticks (the last category), from the quantiles of the training data's distances in that category
  (recorded in the model's file by ``train-nhp``, :func:`lobkit.training.nhp_training.distance_quantiles`; the model
  itself only says which category).

Events become orders on the book:

* a limit order at distance category ``c`` rests ``c - 1`` ticks behind the best price of its side; ``c = 0`` (inside
  the spread) places it as far inside the spread as the training data's category-0 orders went (their quantiles,
  ``u_6``), at most one tick off the other side (at the touch when there is no tick between). It never crosses;
* a market order takes its size;
* a cancellation takes a background order from the level at its distance (the order at position ``u_5`` of the
  level's queue, or the nearest background order behind it), or from the nearest level that has one.

The anchor: placements and cancellations are decided on a *shadow book*, the book of the background's own
orders (the initial book and every background event, never an agent's order), kept by the flow with the engine's
kernels; the real book gets the same orders. Without the anchor the book is translation-invariant (every order
placed relative to the best), so a perturbation that moved the touch once would shift all later prices of an
experiment against its baseline: not the perturbation's impact, a reshuffled future. With it, an agent's trade
changes the background's placements only through the model's history (``agent_feedback``), which is how the learned
traders react to it, and its direct effect on the real book fades as the book turns over.

Sizes: the model's sizes are in the data's units; the simulator's lots are ``size / lot_size`` (the market's
``lot_size``), rounded, at least 1 lot.

The agent's trades: with ``agent_feedback`` (off by default, see :class:`NHPParams`), an agent's market order (the
lots it took as an aggressor) enters the model's history as a market event of its side, so the learned traders
react to it as they did in the data; the exponential threshold of the pending event is carried over (its remaining
part, ``E - Lambda(elapsed)``, which is exact by the memorylessness of the exponential: the random time change),
so no random number is consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lobkit.engine.state import alloc_state
from lobkit.errors import InputFormatError
from lobkit.flows.base import FlowModel, register_flow
from lobkit.flows.nb import EV_LIMIT_BUY, N_EVENT_TYPES, NEVER
from lobkit.flows.neural_nb import (
    MAX_LOTS,
    N_FEATURES,
    P_FEEDBACK,
    P_LEN,
    P_LOT_SIZE,
    P_N_BACKGROUND,
    PD_LEN,
    T_LEN,
    T_NEED_DRAW,
    T_NEXT,
    NHPState,
    nhp_intensity_params,
)
from lobkit.seeds import child
from lobkit.sim.rng import rng_state
from lobkit.validate import check_field


@dataclass(frozen=True)
class NHPParams:
    """Parameters of the learned flow that are not in the model's file.

    agent_feedback: whether an agent's market orders enter the model's history (module docstring). Default false:
        with it, one 1-lot trade changes the model's history and the later events of an experiment diverge from
        its baseline's (the standard deviation of the mid difference 10 minutes after a 1-lot trade measured 6.5
        ticks on the test model, against 0.8 without), so a counterfactual would measure a reshuffled future rather
        than the trade's impact. Turn it on to study how the learned traders react to an agent.
    """

    agent_feedback: bool = False

    def __post_init__(self):
        check_field(self, "agent_feedback", "bool")





def load_model_arrays(path: str) -> tuple[dict, dict]:
    """``(arrays, file metadata)`` of an ``nhp_background_trader.pth`` (see
    :func:`lobkit.training.nhp.export_arrays`), read once per file (:func:`lobkit.training.checkpoint.cached`).

    Raises :class:`InputFormatError` naming the file for a missing or damaged file, another kind of file, or a model
    of another event set (the simulator's six order-book types are required)."""
    from lobkit.training.checkpoint import cached

    return cached(path, _read_model, "no such model file (train one with `lobkit train-nhp`)")


def _read_model(path) -> tuple[dict, dict]:
    from lobkit.training.nhp import export_arrays
    from lobkit.training.nhp_training import load_nhp

    model, doc = load_nhp(path)
    cfg = model.cfg
    if cfg.n_types != N_EVENT_TYPES:
        raise InputFormatError(path, None, f"the model has {cfg.n_types} event types; the simulator needs the "
                                           f"{N_EVENT_TYPES} order-book types (a model of another event set, "
                                           f"trained on {doc.get('source', 'another source')})")
    return export_arrays(model), {k: v for k, v in doc.items() if k != "model"}


@register_flow
class NeuralFlow(FlowModel):
    """The learned flow of a trained neural Hawkes model (module docstring); ``path``: its
    ``nhp_background_trader.pth``; ``params``: :class:`NHPParams`."""

    name = "nhp"
    Params = NHPParams
    needs_path = True

    @classmethod
    def default_params(cls, path: str | None = None) -> NHPParams:
        load_model_arrays(path)  # a bad file is refused when the configuration is made, not when it runs
        return NHPParams()

    @classmethod
    def market_defaults(cls, path: str | None = None) -> dict:
        """The tick and lot size of the model's training data, when its file records them."""
        _, doc = load_model_arrays(path)
        return dict(doc.get("market") or {})

    @property
    def lot_size(self) -> float:
        """The data's size units per lot: the market's ``lot_size`` (1.0 without a market)."""
        return float(self.market.lot_size) if self.market is not None else 1.0

    def state(self, seed: np.random.SeedSequence, *, n_background: int, capacity: int, tick_size: float,
              initial_mid_ticks: float):
        arrays, _ = load_model_arrays(self.path)
        w = {k: v.copy() for k, v in arrays.items()}
        H = w["h0"].shape[0]
        K, M = w["beta"].shape
        D = w["b_dist"].shape[0]
        window = int(self.market.window) if self.market is not None else 1 << 13
        quantiles = load_model_arrays(self.path)[1].get("distance_quantiles") or {}
        params = np.zeros(P_LEN)
        params[P_N_BACKGROUND] = n_background
        params[P_LOT_SIZE] = self.lot_size
        params[P_FEEDBACK] = 1.0 if self.params.agent_feedback else 0.0
        times = np.zeros(T_LEN, np.int64)
        times[T_NEED_DRAW] = 1
        times[T_NEXT] = NEVER
        state = NHPState(
            params=params, gi_type=w["gi_type"], w_feat=w["w_feat"], w_hh=w["w_hh"], b_hh=w["b_hh"],
            w_base=w["w_base"], b_base=w["b_base"], w_jump=w["w_jump"], b_jump=w["b_jump"], beta=w["beta"],
            w_mark=w["w_mark"], mark_type=w["mark_type"], w_dist=w["w_dist"], b_dist=w["b_dist"],
            w_size=w["w_size"], b_size=w["b_size"], h=w["h0"].copy(), mu=np.zeros(K), a=np.zeros((K, M)),
            scratch=np.zeros((4, max(3 * H, D, N_FEATURES, K))), times=times, pending=np.zeros(PD_LEN),
            stream=rng_state(child(seed, 0)), counts=np.zeros(N_EVENT_TYPES, np.int64),
            agent_events=np.zeros(1, np.int64), last_marks=np.zeros(3),
            inside_q=np.asarray(quantiles.get("inside", [1.0]), np.float64),
            tail_q=np.asarray(quantiles.get("tail", [0.0]), np.float64),
            shadow=alloc_state(capacity, window, capacity + 64, base_price=int(initial_mid_ticks) - window // 2))
        nhp_intensity_params(state)
        return state

    def initial_sizes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Sizes of a generated initial book: the model's limit-order sizes at its initial state, in lots."""
        arrays, _ = load_model_arrays(self.path)
        z = np.tanh(arrays["w_mark"] @ arrays["h0"] + arrays["mark_type"][EV_LIMIT_BUY])
        loc, s = arrays["w_size"] @ z + arrays["b_size"]
        scale = float(np.logaddexp(0.0, s)) + 1e-3
        units = np.exp(loc + scale * rng.standard_normal(n))
        return np.clip(np.rint(units / self.lot_size), 1, MAX_LOTS).astype(np.int64)

    def summary(self, state) -> dict:
        from lobkit.flows.nb import EVENT_NAMES

        out = {f"events_{name}": int(state.counts[k]) for k, name in enumerate(EVENT_NAMES)}
        out["agent_events_fed"] = int(state.agent_events[0])
        return out
