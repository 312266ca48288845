"""A neural Hawkes process with a GRU core and an exponential-mixture intensity (``nhp_background_trader.pth``).

After event ``i`` (time ``t_i``) a GRU state ``h_i`` summarises the history: ``h_i = GRU(x_i, h_{i-1})``, where the
input ``x_i`` is the event's type embedding, its time since the previous event (``dt``, ``log dt`` and
``exp(-dt / s)`` for a few scales ``s``) and its marks (``log1p |distance|``, its sign, ``log size``). Until the next
event, the intensity of type ``k`` at ``tau = t - t_i`` seconds is

    lambda_k(tau) = mu_k(h_i) + sum_m a_km(h_i) exp(-beta_km tau),

with ``mu`` and ``a`` the softplus of linear maps of ``h_i`` (non-negative) and ``beta_km > 0`` learned decay rates
(``n_decays`` per type), so its compensator is closed-form:

    Lambda_k(tau) = mu_k tau + sum_m a_km (1 - exp(-beta_km tau)) / beta_km.

Why this form rather than RMTPP's ``exp(v.h + w tau + b)``: an exponential Hawkes process is inside the model class
(its intensity between events is exactly a baseline plus decaying exponentials, whose weights the GRU state can
carry), the intensity decays to a positive baseline rather than to 0 or infinity, the likelihood is exact (no Monte
Carlo integral), and the intensity decreases between events, so the next time is sampled exactly by inverting the
compensator with one uniform, and the type with a second (a fixed count of random numbers per event, which keeps
the simulator's common random numbers working).

Log-likelihood of a window ``[0, T)`` with events ``(t_1, k_1), ..., (t_n, k_n)``, state ``h_0`` at its start:
``sum_i log lambda_{k_i}(t_i - t_{i-1} | h_{i-1}) - sum_i sum_k Lambda_k(t_i - t_{i-1} | h_{i-1}) - sum_k
Lambda_k(T - t_n | h_n)``: the state *before* each event, the integral over all types, the last interval up to the
end of the window (Daley and Vere-Jones 2003, eq. 7.1.2).

Marks: the distance in ticks from the best price of the order's side is categorical over ``-1`` (inside the spread),
``0, 1, ..., max_distance - 2`` and ``max_distance - 1`` or more; the size is log-normal; both conditioned on
``h_{i-1}`` and the event's type. Their negative log-likelihood is added to the loss and reported apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lobkit.training.config import NHPConfig

#: Time scales (seconds) of the ``exp(-dt / s)`` inputs.
DT_SCALES = (0.1, 1.0, 10.0)


@dataclass
class Batch:
    """Padded windows: ``dt`` (B, L) seconds since the previous event (the first: since the window's start),
    ``type`` (B, L) int64, ``distance`` (B, L) int64, ``size`` (B, L) float, ``mask`` (B, L) bool (real events),
    ``tail`` (B,) seconds from the last event to the window's end."""

    dt: torch.Tensor
    type: torch.Tensor
    distance: torch.Tensor
    size: torch.Tensor
    mask: torch.Tensor
    tail: torch.Tensor


class NeuralHawkes(nn.Module):
    """The model of the module docstring."""

    def __init__(self, cfg: NHPConfig):
        super().__init__()
        self.cfg = cfg
        K, H, M = cfg.n_types, cfg.hidden, cfg.n_decays
        self.type_embed = nn.Embedding(K, cfg.embed)
        n_in = cfg.embed + 2 + len(DT_SCALES) + 3
        self.gru = nn.GRU(n_in, H, batch_first=True)  # the state's update does not depend on the intensity: one call
        self.h0 = nn.Parameter(torch.zeros(H))
        self.base = nn.Linear(H, K)
        self.jump = nn.Linear(H, K * M)
        # decay rates from 0.1 to 10 per second at the start, one set per type
        init = torch.log(torch.logspace(-1, 1, M)).repeat(K, 1)
        self.log_decay = nn.Parameter(init)
        self.mark_in = nn.Linear(H + cfg.embed, H)
        self.distance_head = nn.Linear(H, cfg.max_distance)
        self.size_head = nn.Linear(H, 2)

    # -------------------------------------------------------------------------------------------- pieces
    def features(self, dt: torch.Tensor, typ: torch.Tensor, distance: torch.Tensor, size: torch.Tensor):
        """The GRU input of events (any leading shape): type embedding, time since the previous event, marks."""
        dt = dt.clamp_min(0.0)
        cols = [dt.unsqueeze(-1), torch.log(dt + 1e-6).unsqueeze(-1)]
        cols += [torch.exp(-dt / s).unsqueeze(-1) for s in DT_SCALES]
        d = distance.to(dt.dtype)
        cols += [torch.log1p(d.abs()).unsqueeze(-1), torch.sign(d).unsqueeze(-1),
                 torch.log(size.to(dt.dtype).clamp_min(1e-12)).unsqueeze(-1)]
        return torch.cat([self.type_embed(typ)] + cols, dim=-1)

    def params(self, h: torch.Tensor):
        """``(mu (.., K), a (.., K, M), beta (K, M))`` of the intensity after a state ``h (.., H)``."""
        K, M = self.cfg.n_types, self.cfg.n_decays
        mu = F.softplus(self.base(h)) + 1e-9
        a = F.softplus(self.jump(h)).view(*h.shape[:-1], K, M)
        return mu, a, torch.exp(self.log_decay)

    @staticmethod
    def intensity(mu, a, beta, tau):
        """``lambda_k(tau)`` (.., K) for ``tau`` (..) seconds."""
        return mu + (a * torch.exp(-beta * tau[..., None, None])).sum(-1)

    @staticmethod
    def compensator(mu, a, beta, tau):
        """``Lambda_k(tau)`` (.., K): the integral of the intensity from the state's event to ``tau`` later."""
        return mu * tau[..., None] + (a * (-torch.expm1(-beta * tau[..., None, None])) / beta).sum(-1)

    def mark_logits(self, h: torch.Tensor, typ: torch.Tensor):
        z = torch.tanh(self.mark_in(torch.cat([h, self.type_embed(typ)], dim=-1)))
        s = self.size_head(z)
        return self.distance_head(z), s[..., 0], F.softplus(s[..., 1]) + 1e-3

    def distance_class(self, distance: torch.Tensor) -> torch.Tensor:
        """Distance (ticks) -> category: 0 for inside the spread (< 0), 1 + d for d in 0 .. max - 2, max - 1 beyond."""
        return torch.where(distance < 0, 0, (distance + 1).clamp(max=self.cfg.max_distance - 1)).long()

    # -------------------------------------------------------------------------------------------- likelihood
    def states(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, L + 1, H)``: the state before every event of ``x (B, L, n_in)`` and after the last (row 0: ``h``,
        default the learned ``h0``). The GRU runs over the whole sequence in one call (its loop is in C++)."""
        B = x.shape[0]
        h = self.h0.expand(B, -1) if h is None else h
        out, _ = self.gru(x, h.unsqueeze(0).contiguous())
        return torch.cat([h.unsqueeze(1), out], dim=1)

    def forward(self, b: Batch, h: torch.Tensor | None = None):
        """Per window: ``(log-likelihood of times and types (B,), marks' log-likelihood (B,), events (B,), last
        state (B, H))``. ``h``: the state at the windows' start (default: the learned ``h0``)."""
        B, L = b.dt.shape
        x = self.features(b.dt, b.type, b.distance, b.size)
        S = self.states(x, h)  # (B, L + 1, H)
        before = S[:, :-1]
        mu, a, beta = self.params(before)
        lam = self.intensity(mu, a, beta, b.dt).gather(-1, b.type[..., None]).squeeze(-1)
        comp = self.compensator(mu, a, beta, b.dt).sum(-1)
        m = b.mask
        ll = torch.where(m, torch.log(lam) - comp, 0.0).sum(1)
        mark_ll = torch.zeros(B, dtype=b.dt.dtype, device=b.dt.device)
        if self.cfg.mark_weight > 0:
            logits, loc, scale = self.mark_logits(before, b.type)
            d_ll = -F.cross_entropy(logits.reshape(B * L, -1), self.distance_class(b.distance).reshape(-1),
                                    reduction="none").view(B, L)
            logq = torch.log(b.size.clamp_min(1e-12))
            s_ll = -0.5 * ((logq - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi) - logq
            mark_ll = torch.where(m, d_ll + s_ll, 0.0).sum(1)
        n = m.sum(1)
        last = S[torch.arange(B, device=S.device), n]  # the state after each window's last event
        mu, a, beta = self.params(last)
        ll = ll - self.compensator(mu, a, beta, b.tail).sum(-1)
        return ll, mark_ll, n, last


@torch.no_grad()
def export_arrays(model: NeuralHawkes) -> dict[str, np.ndarray]:
    """The model's weights as contiguous float64 NumPy arrays, in the form the simulator's jitted step reads
    (:mod:`lobkit.flows.neural`). With ``K`` types, ``H`` hidden, ``E`` embedding, ``M`` decays, ``D`` distance
    categories and ``F = 8`` scalar inputs (``dt``, ``log(dt + 1e-6)``, ``exp(-dt / s)`` for :data:`DT_SCALES`,
    ``log1p |d|``, ``sign d``, ``log size``):

    * ``gi_type`` (K, 3H): the GRU's input projection of each type's embedding plus its input bias (``W_i e_k +
      b_i``; gates in PyTorch's order r, z, n), ``w_feat`` (3H, F): its projection of the scalar inputs;
    * ``w_hh`` (3H, H), ``b_hh`` (3H): the recurrent projection; ``h0`` (H): the learned initial state;
    * ``w_base`` (K, H), ``b_base`` (K); ``w_jump`` (K*M, H), ``b_jump`` (K*M); ``beta`` (K, M) per second;
    * ``w_mark`` (H, H) and ``mark_type`` (K, H): the mark layer's weights on the state, and on each type's
      embedding plus its bias; ``w_dist`` (D, H), ``b_dist`` (D); ``w_size`` (2, H), ``b_size`` (2).
    """
    cfg = model.cfg
    E, H = cfg.embed, cfg.hidden

    def arr(t):
        return np.ascontiguousarray(t.detach().cpu().double().numpy())

    emb = model.type_embed.weight.double()  # (K, E)
    w_ih = model.gru.weight_ih_l0.double()  # (3H, E + F)
    mark_w = model.mark_in.weight.double()  # (H, H + E)
    return {
        "gi_type": arr(emb @ w_ih[:, :E].T + model.gru.bias_ih_l0.double()),
        "w_feat": arr(w_ih[:, E:]),
        "w_hh": arr(model.gru.weight_hh_l0), "b_hh": arr(model.gru.bias_hh_l0), "h0": arr(model.h0),
        "w_base": arr(model.base.weight), "b_base": arr(model.base.bias),
        "w_jump": arr(model.jump.weight), "b_jump": arr(model.jump.bias),
        "beta": arr(torch.exp(model.log_decay)),
        "w_mark": arr(mark_w[:, :H]), "mark_type": arr(emb @ mark_w[:, H:].T + model.mark_in.bias.double()),
        "w_dist": arr(model.distance_head.weight), "b_dist": arr(model.distance_head.bias),
        "w_size": arr(model.size_head.weight), "b_size": arr(model.size_head.bias),
    }


def batch_of(dts: list[np.ndarray], types: list[np.ndarray], distances: list[np.ndarray], sizes: list[np.ndarray],
             tails: list[float], device="cpu") -> Batch:
    """Pad windows (lists of arrays) into a :class:`Batch`."""
    B, L = len(dts), max(len(d) for d in dts)
    dt = np.zeros((B, L))
    ty = np.zeros((B, L), np.int64)
    di = np.zeros((B, L), np.int64)
    sz = np.ones((B, L))
    mk = np.zeros((B, L), bool)
    for i, (a, b_, c, d) in enumerate(zip(dts, types, distances, sizes, strict=True)):
        n = len(a)
        dt[i, :n], ty[i, :n], di[i, :n], sz[i, :n], mk[i, :n] = a, b_, c, d, True
    f = torch.float64
    return Batch(torch.tensor(dt, dtype=f, device=device), torch.tensor(ty, device=device),
                 torch.tensor(di, device=device), torch.tensor(sz, dtype=f, device=device),
                 torch.tensor(mk, device=device), torch.tensor(np.asarray(tails), dtype=f, device=device))
