"""Training and evaluating the neural Hawkes process (``lobkit train-nhp``, ``lobkit eval-nhp``).

Training: the first ``split`` of the stream's *time* is cut into windows of ``window`` consecutive events (each
window's first interval starts at the previous event, and the last window ends at the split time, so the windows'
log-likelihoods add up to the training part's); each window starts from the learned state ``h0``; Adam on the
negative log-likelihood per event (times and types, plus ``mark_weight`` times the marks', unless the marks never
vary: a stream without marks), shuffled windows,
``epochs`` passes (or ``max_seconds``).

Evaluation (:func:`evaluate_nhp`): the held-out part (the time after the split) scored with the state carried over
the *whole* history before it; per event: the log-likelihood of times and types, the next time's expectation
(RMSE against the real time to the next event), the most probable next type (accuracy), and the compensator
increments, which a correct model makes i.i.d. Exp(1) (time-rescaling theorem: Kolmogorov-Smirnov p-value). The
same for a Poisson baseline and a parametric Hawkes baseline fitted by ``tick`` (:mod:`lobkit.training.hawkes`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lobkit.errors import ConfigError, InputFormatError
from lobkit.seeds import child, label, seed_sequence
from lobkit.training import checkpoint as ckpt
from lobkit.training.events import EventStream, make_stream
from lobkit.training.nhp import NeuralHawkes, NHPConfig, batch_of

MODEL_FORMAT = "lobkit-nhp"
#: Fewer training events than this cannot fit a model (nor a baseline).
MIN_EVENTS = 50


def _windows(stream: EventStream, hi: int, end_ns: int, size: int):
    """Windows of the events ``0:hi`` (the last ending at ``end_ns``): lists of (dt, type, distance, size, tail)."""
    t = stream.time_ns
    out = []
    for lo in range(0, hi, size):
        top = min(lo + size, hi)
        start = t[lo - 1] if lo > 0 else 0
        times = t[lo:top]
        dt = np.diff(np.r_[start, times]) / 1e9
        tail = (end_ns - times[-1]) / 1e9 if top == hi else 0.0
        out.append((dt, stream.type[lo:top].astype(np.int64), stream.distance[lo:top], stream.size[lo:top], tail))
    return out


@dataclass
class NHPResult:
    out: Path
    config: NHPConfig
    seed: str
    seconds: float
    epochs: int
    history: list
    n_train_events: int
    events_per_s: float

    @property
    def model_path(self) -> Path:
        return self.out / "nhp_background_trader.pth"


#: Quantiles kept of the within-category distances (:func:`distance_quantiles`).
N_DISTANCE_QUANTILES = 65


def distance_quantiles(stream: EventStream, max_distance: int, n: int | None = None) -> dict[str, list[float]]:
    """What the distance mark's two open-ended categories hold in the data (the model only says which category),
    over the first ``n`` events of ``stream``: ``inside``, the quantiles (0, 1/64, ..., 1) of how many ticks inside
    the spread limit orders of category 0 land (>= 1), and ``tail``, those of the distance beyond ``max_distance -
    2`` ticks of the limit orders and cancellations of the last category (>= 0). The simulator draws those events'
    distances from them (:mod:`lobkit.flows.neural`). A category without events gives ``[1.0]`` / ``[0.0]``."""
    k = stream.type[:n]
    d = stream.distance[:n]
    q = np.linspace(0.0, 1.0, N_DISTANCE_QUANTILES)
    inside = -d[(k <= 1) & (d < 0)].astype(np.float64)
    tail = (d[((k <= 1) | (k >= 4)) & (d >= max_distance - 2)] - (max_distance - 2)).astype(np.float64)
    return {"inside": [float(x) for x in np.quantile(inside, q)] if len(inside) else [1.0],
            "tail": [float(x) for x in np.quantile(tail, q)] if len(tail) else [0.0]}


def train_nhp(stream: EventStream, cfg: NHPConfig | None = None, *, out: str | Path = "runs/nhp", seed=None,
              device: str = "auto", progress: bool = True, market: dict | None = None) -> NHPResult:
    """Train the neural Hawkes process on the first ``cfg.split`` of ``stream``'s time and write
    ``out/nhp_background_trader.pth`` (weights, configuration, lobkit's version, the data's fingerprint and source,
    the training's figures, and ``market``: the data's ``tick_size`` (currency) and ``lot_size`` (size units per
    lot), the simulator's defaults for ``--flow nhp:...``; and the within-category distances of
    :func:`distance_quantiles`) and ``out/training.json``. Raises :class:`ConfigError` / :class:`InputFormatError`
    for bad input (too few events, more types than the model has)."""
    from lobkit import __version__
    from lobkit.training.wgan import pick_device

    cfg = cfg or NHPConfig(n_types=stream.n_types)
    if stream.n_types > cfg.n_types:
        raise ConfigError(f"n_types: the stream has {stream.n_types} event types, the model {cfg.n_types}")
    dev = pick_device(device)
    ckpt.ensure_dir(out)
    hi, cut = stream.split(cfg.split)
    if hi < MIN_EVENTS:
        raise InputFormatError(stream.source, None, f"too few events: {hi} before the split; at least {MIN_EVENTS} "
                                                    "are needed")
    ss = seed_sequence(seed)
    torch.manual_seed(int(child(ss, 0).generate_state(1)[0]))  # nn.Module init has no generator argument
    model = NeuralHawkes(cfg).to(dev).double()
    rng = np.random.default_rng(child(ss, 1))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    windows = _windows(stream, hi, cut, cfg.window)
    # marks that never vary (a stream without them: 0 and 1) have an unbounded likelihood: not learned
    learn_marks = cfg.mark_weight > 0 and bool(np.ptp(stream.size[:hi]) > 0 or np.ptp(stream.distance[:hi]) > 0)
    mark_weight = cfg.mark_weight if learn_marks else 0.0
    history = []
    t0 = time.perf_counter()
    bar = None
    n_batches = -(-len(windows) // cfg.batch_size)
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs * n_batches, desc="train-nhp", unit="batch", dynamic_ncols=True)
    epochs_done = 0
    try:
        for epoch in range(cfg.epochs):
            order = rng.permutation(len(windows))
            tot_ll = tot_mark = tot_n = 0.0
            for lo in range(0, len(order), cfg.batch_size):
                ws = [windows[i] for i in order[lo:lo + cfg.batch_size]]
                b = batch_of(*zip(*ws, strict=True), device=dev)
                ll, mark_ll, n, _ = model(b)
                loss = -(ll.sum() + mark_weight * mark_ll.sum()) / n.sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                opt.step()
                tot_ll += float(ll.detach().sum())
                tot_mark += float(mark_ll.detach().sum())
                tot_n += float(n.sum())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(ll_per_event=f"{tot_ll / tot_n:.4f}", refresh=False)
            epochs_done += 1
            history.append({"epoch": epoch + 1, "train_ll_per_event": tot_ll / tot_n,
                            "train_mark_ll_per_event": tot_mark / tot_n, "seconds": time.perf_counter() - t0})
            if cfg.max_seconds and time.perf_counter() - t0 >= cfg.max_seconds:
                break
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    out = Path(out)
    eps = epochs_done * hi / seconds if seconds > 0 else float("nan")
    ss_label = label(ss)
    ckpt.save(out / "nhp_background_trader.pth", {
        "format": MODEL_FORMAT, "format_version": ckpt.FORMAT_VERSION, "lobkit_version": __version__,
        "config": cfg.to_dict(), "seed": ss_label, "data_fingerprint": stream.fingerprint(),
        "data_source": stream.source, "model": model.state_dict(), "epochs": epochs_done,
        "event_types": list(range(stream.n_types)),
        "market": {k: float(v) for k, v in (market or {}).items() if k in ("tick_size", "lot_size")},
        "distance_quantiles": distance_quantiles(stream, cfg.max_distance, hi)})
    doc = {"seed": ss_label, "config": cfg.to_dict(), "source": stream.source, "data_fingerprint": stream.fingerprint(),
           "n_train_events": hi, "n_held_out_events": len(stream) - hi, "epochs": epochs_done,
           "seconds": round(seconds, 2), "train_events_per_s": round(eps, 1), "marks_learned": learn_marks,
           "history": history}
    out.mkdir(parents=True, exist_ok=True)
    (out / "training.json").write_text(json.dumps(doc, indent=2) + "\n")
    return NHPResult(out, cfg, ss_label, seconds, epochs_done, history, hi, eps)


def load_nhp(path: str | Path, device: str = "cpu") -> tuple[NeuralHawkes, dict]:
    """The model of ``nhp_background_trader.pth`` and its file's metadata. Raises :class:`InputFormatError`
    naming the file for a damaged file, another kind, or weights that do not fit its configuration."""
    from lobkit.training.wgan import pick_device

    dev = pick_device(device)
    doc = ckpt.load(path, MODEL_FORMAT, dev)
    try:
        cfg = NHPConfig.from_dict(doc["config"])
        model = NeuralHawkes(cfg).to(dev).double()
        model.load_state_dict(doc["model"])
    except (ConfigError, RuntimeError, KeyError, TypeError) as exc:
        raise InputFormatError(path, None, f"the weights do not fit the configuration ({str(exc).splitlines()[0]})") \
            from None
    model.eval()
    return model, doc


# ------------------------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def _states(model: NeuralHawkes, stream: EventStream) -> torch.Tensor:
    """``(n + 1, H)``: the state before every event (row i: after events 0..i-1) and after the last."""
    dev = model.h0.device
    dt = torch.tensor(np.diff(np.r_[0, stream.time_ns]) / 1e9, dtype=torch.float64, device=dev)
    x = model.features(dt, torch.tensor(stream.type.astype(np.int64), device=dev),
                       torch.tensor(stream.distance, device=dev),
                       torch.tensor(stream.size, dtype=torch.float64, device=dev))
    return model.states(x.unsqueeze(0))[0]


@torch.no_grad()
def _predictions(model: NeuralHawkes, states: torch.Tensor, grid: int = 512):
    """Per state: the expected time to the next event ``E[tau] = int S`` and the type probabilities ``int lambda_k
    S`` (``S = exp(-sum Lambda)``), by quadrature on a log-spaced grid out to where ``S`` is negligible, plus the
    baseline's exact tail beyond (the intensity there is ``mu``)."""
    mu, a, beta = model.params(states)
    # the grid: 1e-6 s to `top`, where the baseline alone leaves exp(-30) of survival
    top = (30.0 / mu.sum(-1).clamp_min(1e-9)).clamp(max=1e7)
    lo = torch.full_like(top, 1e-9)  # down to a nanosecond: LOBSTER's events come microseconds apart
    u = torch.linspace(0, 1, grid, dtype=torch.float64, device=states.device)
    taus = torch.exp(torch.log(lo)[:, None] + u * (torch.log(top) - torch.log(lo))[:, None])
    taus = torch.cat([torch.zeros_like(top)[:, None], taus], dim=1)  # (N, G+1)
    lam = mu[:, None, :] + (a[:, None] * torch.exp(-beta * taus[..., None, None])).sum(-1)  # (N, G+1, K)
    comp = mu[:, None, :] * taus[..., None] + (a[:, None] * (-torch.expm1(-beta * taus[..., None, None]))
                                               / beta).sum(-1)
    surv = torch.exp(-comp.sum(-1))  # (N, G+1)
    w = torch.diff(taus, dim=1)
    mean_t = (0.5 * (surv[:, 1:] + surv[:, :-1]) * w).sum(1)
    dens = lam * surv[..., None]
    p = (0.5 * (dens[:, 1:] + dens[:, :-1]) * w[..., None]).sum(1)
    return mean_t, p / p.sum(-1, keepdim=True).clamp_min(1e-300)


@torch.no_grad()
def evaluate_nhp(model_or_path, stream: EventStream, split: float | None = None, *, baselines: bool = True,
                 out: str | Path | None = None, truth=None) -> dict:
    """The held-out figures of a model on ``stream`` (module docstring): ``test_ll_per_event``,
    ``poisson_test_ll_per_event``, ``hawkes_test_ll_per_event``, ``type_accuracy`` (and the baselines'),
    ``time_rmse`` (seconds), ``ks_pvalue``, ``ks_statistic``, counts. ``split`` defaults to the model's. With
    ``truth`` (a :class:`~lobkit.training.hawkes.SumExpHawkes`, e.g. the oracle) also ``true_test_ll_per_event`` and
    ``gap_to_truth`` (relative)."""
    from scipy import stats

    from lobkit.training.hawkes import fit_sumexp, poisson_loglik, sumexp_loglik

    if isinstance(model_or_path, NeuralHawkes):
        model, meta = model_or_path, {}
    else:
        model, meta = load_nhp(model_or_path)
    cfg = model.cfg
    if stream.n_types > cfg.n_types:
        raise ConfigError(f"{stream.source}: {stream.n_types} event types, the model has {cfg.n_types}")
    split = cfg.split if split is None else split
    hi, cut = stream.split(split)
    n_test = len(stream) - hi
    if n_test < MIN_EVENTS or hi < MIN_EVENTS:
        raise InputFormatError(stream.source, None, f"too few events around the split ({hi} before, {n_test} after; "
                                                    f"at least {MIN_EVENTS} each)")
    H = _states(model, stream)
    mu, a, beta = model.params(H)
    t = stream.time_ns
    prev = np.r_[0, t[:-1]]
    # the state before event i is H[i]; the first held-out interval starts at the split time
    tau = torch.tensor((t - prev) / 1e9, dtype=torch.float64)
    lam = model.intensity(mu[:-1], a[:-1], beta, tau)
    comp_full = model.compensator(mu[:-1], a[:-1], beta, tau).sum(-1)
    from_prev_to_cut = torch.tensor((cut - prev[hi]) / 1e9, dtype=torch.float64)
    comp_before_cut = model.compensator(mu[hi:hi + 1], a[hi:hi + 1], beta, from_prev_to_cut.reshape(1)).sum(-1)
    types = torch.tensor(stream.type.astype(np.int64))
    log_lam = torch.log(lam.gather(1, types[:, None]).squeeze(1))
    comp_test = comp_full[hi:].clone()
    comp_test[0] = comp_test[0] - comp_before_cut[0]
    tail = model.compensator(mu[-1:], a[-1:], beta, torch.tensor([(stream.duration_ns - t[-1]) / 1e9],
                                                                  dtype=torch.float64)).sum()
    test_ll = float(log_lam[hi:].sum() - comp_test.sum() - tail)
    res = {"source": stream.source, "split": split, "n_train_events": hi, "n_test_events": n_test,
           "test_ll_per_event": test_ll / n_test}
    # time-rescaling: compensator between consecutive held-out events ~ Exp(1)
    incr = comp_full[hi + 1:].numpy()
    ks = stats.kstest(incr, "expon")
    res["ks_statistic"], res["ks_pvalue"] = float(ks.statistic), float(ks.pvalue)
    # next-event predictions from the state after each held-out event but the last
    mean_t, p = _predictions(model, H[hi + 1:-1])
    real_next = (t[hi + 1:] - t[hi:-1]) / 1e9
    res["time_rmse"] = float(np.sqrt(np.mean((mean_t.numpy() - real_next) ** 2)))
    res["type_accuracy"] = float((p.argmax(-1).numpy() == stream.type[hi + 1:]).mean())
    counts = np.bincount(stream.type[:hi], minlength=stream.n_types)
    res["majority_type_accuracy"] = float((stream.type[hi + 1:] == counts.argmax()).mean())
    res["mean_gap_rmse"] = float(np.sqrt(np.mean((real_next - (cut / 1e9) / max(hi, 1)) ** 2)))
    if baselines:
        train = stream.take(0, hi, end_ns=cut)
        pll, n = poisson_loglik(train, stream, hi, cut)
        res["poisson_test_ll_per_event"] = pll / n
        hk = fit_sumexp(train)
        hll, n, _ = sumexp_loglik(hk, stream, hi, start_ns=cut)
        res["hawkes_test_ll_per_event"] = hll / n
        res["hawkes_decays"] = [float(x) for x in hk.beta]
    if truth is not None:  # a known process (the oracle): its exact log-likelihood on the same events
        tll, tn, _ = sumexp_loglik(truth, stream, hi, start_ns=cut)
        res["true_test_ll_per_event"] = tll / tn
        res["gap_to_truth"] = abs(res["test_ll_per_event"] - tll / tn) / abs(tll / tn)
    if meta:
        res["model_source"] = meta.get("data_source")
    if out is not None:
        out = ckpt.ensure_dir(out)
        (out / "eval.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


# ------------------------------------------------------------------------------------------------ sampling
@torch.no_grad()
def sample_nhp(model: NeuralHawkes, duration_s: float, seed=None, max_events: int = 10_000_000) -> EventStream:
    """A stream drawn from the model over ``duration_s`` seconds, exactly: after each event the time to the next is
    the solution of ``sum_k Lambda_k(tau) = E`` with ``E ~ Exp(1)`` (the compensator is increasing and at least
    ``sum mu * tau``, so bisection on ``[0, E / sum mu]`` converges; 60 halvings), its type is drawn with
    probabilities ``lambda_k(tau) / sum lambda(tau)``, and its marks from the mark head. Four uniforms per event,
    from one ``numpy`` generator seeded by ``seed`` (:mod:`lobkit.seeds`). Raises :class:`ConfigError` for a bad
    duration."""
    from scipy.special import ndtri

    from lobkit.seeds import seed_sequence

    if not (isinstance(duration_s, int | float) and np.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(f"duration: a positive number of seconds, got {duration_s!r}")
    rng = np.random.default_rng(seed_sequence(seed))
    dev = model.h0.device
    K = model.cfg.n_types
    h = model.h0.unsqueeze(0)
    t, times, types, dists, sizes = 0.0, [], [], [], []
    while len(times) < max_events:
        u = rng.random(4)
        mu, a, beta = model.params(h)
        mu_, a_, b_ = mu[0].cpu().numpy(), a[0].cpu().numpy(), beta.cpu().numpy()
        mu_sum, w = float(mu_.sum()), a_ / b_
        e = -np.log1p(-u[0])
        lo, hi = 0.0, e / mu_sum
        for _ in range(60):  # the compensator, in NumPy: the same closed form as NeuralHawkes.compensator
            mid = 0.5 * (lo + hi)
            if mu_sum * mid + float((w * -np.expm1(-b_ * mid)).sum()) < e:
                lo = mid
            else:
                hi = mid
        tau_s = 0.5 * (lo + hi)
        if t + tau_s > duration_s:
            break
        t += tau_s
        lam = mu_ + (a_ * np.exp(-b_ * tau_s)).sum(-1)
        k = int(min(np.searchsorted(np.cumsum(lam / lam.sum()), u[1], side="right"), K - 1))
        logits, loc, scale = model.mark_logits(h, torch.tensor([k], device=dev))
        p = torch.softmax(logits[0], -1).cpu().numpy()
        cls = int(min(np.searchsorted(np.cumsum(p), u[2], side="right"), len(p) - 1))
        size = float(np.exp(float(loc[0]) + float(scale[0]) * ndtri(min(max(u[3], 1e-12), 1 - 1e-12))))
        times.append(t)
        types.append(k)
        dists.append(cls - 1)
        sizes.append(size)
        x = model.features(torch.tensor([[tau_s]], dtype=torch.float64, device=dev), torch.tensor([[k]], device=dev),
                           torch.tensor([[cls - 1]], device=dev), torch.tensor([[size]], dtype=torch.float64,
                                                                                device=dev))
        h = model.states(x, h)[:, -1]
    return make_stream(np.asarray(times), np.asarray(types, np.int64), np.asarray(dists, np.int64),
                       np.asarray(sizes), duration_s=duration_s, n_types=K, source="sampled from the model")
