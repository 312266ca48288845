"""lobkit's neural Hawkes process side by side with EasyTPP's (the reference neural TPP library), on the same data.

Streams: the 3-type exponential Hawkes oracle of issue 9 (simulated with ``tick``, 20,000 s) and the LOBSTER AMZN
level-5 day (six event types, :func:`lobkit.training.events.lobster_events`). Each is split in time (80% training);
both models train on 200-event windows of the training part with Adam 3e-3 on the CPU with the same threads:
EasyTPP's NHP with hidden size 64, its continuous-time LSTM and its 20-sample Monte Carlo integral in the loss, batch
8, ``--easytpp-epochs`` passes (5: where it is best on the oracle before it overfits, ../shared/notes/libraries.md);
lobkit's with its defaults (hidden 64, batch 16, 20 passes; marks not learned, as EasyTPP has none).

Scoring, the same for both: the log-likelihood per event of the held-out part cut into 200-event windows, each
conditioned on its own events only (the first event of a window is its start, not scored), with the *exact* integral
for lobkit's model (closed form) and an accurate one for EasyTPP's (trapezoid on 801 points per interval, checked
against 3,201: EasyTPP's own 20-sample estimate flatters continuous-time models, ../shared/notes/libraries.md); the
next type's accuracy (most intense type right after each event for EasyTPP, the integrated probability for lobkit);
training events per second and wall time. The true model's log-likelihood on the same windows (oracle only).
Then (unless ``--side-by-side-only``) lobkit's model with its defaults, evaluated with the whole history before the
held-out part (``lobkit eval-nhp``), on the oracle (against the true model: the oracle check, within 1%) and on the
real streams (LOBSTER, the Bitstamp capture, events inferred from lob-btc.db's snapshots), next to the Poisson and
parametric Hawkes baselines.
Targets (issue 9): lobkit at least as good in likelihood and at least 3x faster to train.

Prints a summary, or one JSON object with ``--json`` (``--out FILE`` also writes it). Keys at least
``nhp_train_events_per_s``, ``easytpp_train_events_per_s``, ``nhp_test_ll``, ``easytpp_test_ll``, ``true_test_ll``
(the oracle's), and per stream the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _results import positive_int, write_result  # noqa: E402  (benchmarks/_results.py)

WINDOW = 200
TARGETS = {"ll_margin": 0.0, "speedup": 3.0}


def windows(stream, lo: int, hi: int, size: int = WINDOW):
    """Event index ranges of ``size``-event windows of ``lo:hi``."""
    return [(a, min(a + size, hi)) for a in range(lo, hi - 1, size) if min(a + size, hi) - a >= 2]


def easytpp_model(n_types: int, hidden: int = 64):
    try:
        from easy_tpp.config_factory.model_config import ModelConfig
    except ImportError:
        raise SystemExit("benchmarks/nhp.py needs EasyTPP: pip install -r requirements-bench.txt") from None
    from easy_tpp.model.nhp import NHP

    cfg = ModelConfig(hidden_size=hidden, num_event_types=n_types, num_event_types_pad=n_types + 1,
                      event_pad_index=n_types, model_id="NHP", loss_integral_num_sample_per_step=20, gpu=-1,
                      use_mc_samples=True)
    return NHP(cfg)


def easytpp_batch(stream, wins, n_types: int):
    import torch

    B, L = len(wins), max(b - a for a, b in wins)
    t = np.zeros((B, L))
    d = np.zeros((B, L))
    k = np.full((B, L), n_types, np.int64)
    m = np.zeros((B, L), bool)
    secs = stream.seconds
    for i, (a, b) in enumerate(wins):
        n = b - a
        t[i, :n] = secs[a:b] - secs[a]
        d[i, 1:n] = np.diff(secs[a:b])
        k[i, :n] = stream.type[a:b]
        m[i, :n] = True
    return {"time_seqs": torch.tensor(t, dtype=torch.float32), "time_delta_seqs": torch.tensor(d, dtype=torch.float32),
            "type_seqs": torch.tensor(k), "seq_non_pad_mask": torch.tensor(m)}


def train_easytpp(stream, hi: int, epochs: int, seed: int):
    import torch

    torch.manual_seed(seed)
    model = easytpp_model(stream.n_types)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    wins = windows(stream, 0, hi)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(wins))
        for j in range(0, len(order), 8):
            batch = easytpp_batch(stream, [wins[i] for i in order[j:j + 8]], stream.n_types)
            loss, _ = model.loglike_loss(**batch)
            n = batch["seq_non_pad_mask"][:, 1:].sum()
            opt.zero_grad()
            (loss / n).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    return model, seconds, epochs * hi / seconds


def score_easytpp(model, stream, wins, points: int) -> tuple[float, float]:
    """Log-likelihood per scored event with a trapezoid on ``points`` per interval, and the next-type accuracy."""
    import torch

    total, n, hits = 0.0, 0, 0
    per = max(1, 16 * 801 // points)  # windows per batch: the grid of hidden states stays under ~1 GB
    with torch.no_grad():
        for j in range(0, len(wins), per):
            batch = easytpp_batch(stream, wins[j:j + per], stream.n_types)
            left, right = model.forward((batch["time_seqs"], batch["time_delta_seqs"], batch["type_seqs"], None,
                                         None))
            lam_ev = model.layer_intensity(left)  # at t_1..t_{N-1}, from the left
            dts = batch["time_delta_seqs"][:, 1:]
            grid = torch.linspace(0, 1, points)[None, None, :] * dts[..., None]
            lam_grid = model.layer_intensity(model.get_states(right[:, :-1], grid)).sum(-1)
            integral = torch.trapezoid(lam_grid, grid, dim=-1)
            mask = batch["seq_non_pad_mask"][:, 1:]
            marks = batch["type_seqs"][:, 1:].clamp(max=stream.n_types - 1)
            ll = torch.log(lam_ev.gather(-1, marks[..., None]).squeeze(-1) + 1e-30) - integral
            total += float((ll * mask).sum())
            n += int(mask.sum())
            # type: the most intense type just after the previous event
            lam0 = model.layer_intensity(model.get_states(right[:, :-1], torch.zeros_like(dts)[..., None]))[..., 0, :]
            hits += int(((lam0.argmax(-1) == marks) & mask).sum())
    return total / n, hits / n


def score_lobkit(model, stream, wins) -> tuple[float, float]:
    """The same for lobkit's model: exact integral; type from the integrated next-type probabilities."""
    import torch

    from lobkit.training.nhp_training import _predictions

    total, n, hits = 0.0, 0, 0
    with torch.no_grad():
        for a, b in wins:
            w = stream.take(a, b, start_ns=int(stream.time_ns[a]), end_ns=int(stream.time_ns[b - 1]))
            dt_ = torch.tensor(np.diff(np.r_[0, w.time_ns]) / 1e9, dtype=torch.float64)
            x = model.features(dt_, torch.tensor(w.type.astype(np.int64)), torch.tensor(w.distance),
                               torch.tensor(w.size, dtype=torch.float64))
            H = model.states(x.unsqueeze(0))[0, 1:-1]  # the state after events 0..N-2: before events 1..N-1
            mu, a_, beta = model.params(H)
            tau = dt_[1:]
            lam = model.intensity(mu, a_, beta, tau)
            types = torch.tensor(w.type[1:].astype(np.int64))
            ll = torch.log(lam.gather(1, types[:, None]).squeeze(1)) - model.compensator(mu, a_, beta, tau).sum(-1)
            total += float(ll.sum())
            n += len(tau)
            _, p = _predictions(model, H)
            hits += int((p.argmax(-1) == types).sum())
    return total / n, hits / n


def true_score(stream, wins) -> float:
    from lobkit.training.hawkes import SumExpHawkes, sumexp_loglik

    model, total, n = SumExpHawkes.oracle(), 0.0, 0
    for a, b in wins:
        w = stream.take(a, b, start_ns=int(stream.time_ns[a]), end_ns=int(stream.time_ns[b - 1]))
        ll, k, _ = sumexp_loglik(model, w, score_from=1, start_ns=0)
        total += ll
        n += k
    return total / n


def measure(stream, epochs: int, easytpp_epochs: int, seed: int, oracle: bool) -> dict:
    import torch

    from lobkit.training.config import NHPConfig
    from lobkit.training.nhp_training import load_nhp, train_nhp

    hi, _ = stream.split(0.8)
    test = windows(stream, hi, len(stream))
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"lobkit-bench-nhp-{os.getpid()}"
    cfg = NHPConfig(n_types=stream.n_types, epochs=epochs, mark_weight=0.0)
    t0 = time.perf_counter()
    res = train_nhp(stream, cfg, out=out, seed=seed, device="cpu", progress=False)
    nhp_wall = time.perf_counter() - t0
    model, _ = load_nhp(res.model_path)
    nhp_ll, nhp_acc = score_lobkit(model, stream, test)
    t0 = time.perf_counter()
    em, e_seconds, e_eps = train_easytpp(stream, hi, easytpp_epochs, seed)
    e_wall = time.perf_counter() - t0
    e_ll, e_acc = score_easytpp(em, stream, test, 801)
    e_ll_fine, _ = score_easytpp(em, stream, test, 3201)
    r = {"source": stream.source, "events": len(stream), "train_events": hi, "test_windows": len(test),
         "epochs": epochs, "easytpp_epochs": easytpp_epochs, "torch_threads": torch.get_num_threads(),
         "nhp_test_ll": nhp_ll, "nhp_type_accuracy": nhp_acc, "nhp_train_events_per_s": res.events_per_s,
         "nhp_train_seconds": round(res.seconds, 1), "nhp_wall_seconds": round(nhp_wall, 1),
         "easytpp_test_ll": e_ll, "easytpp_test_ll_3201_points": e_ll_fine, "easytpp_type_accuracy": e_acc,
         "easytpp_train_events_per_s": e_eps, "easytpp_train_seconds": round(e_seconds, 1),
         "easytpp_wall_seconds": round(e_wall, 1)}
    if oracle:
        r["true_test_ll"] = true_score(stream, test)
    r["ll_margin"] = nhp_ll - e_ll
    r["speedup"] = res.events_per_s / e_eps
    return r


def real_streams(seed: int, lobster: str, bitstamp: str, snapshots: str) -> dict:
    """lobkit's model with its default configuration on the real streams, evaluated by
    :func:`lobkit.training.evaluate_nhp` (held-out last 20% of the time, conditioned on the whole history) next to
    the Poisson and the fitted parametric Hawkes baselines."""
    from lobkit.training.config import NHPConfig
    from lobkit.training.events import load_events
    from lobkit.training.hawkes import SumExpHawkes, sumexp_loglik
    from lobkit.training.nhp_training import evaluate_nhp, train_nhp

    out = {}
    for name, source, path in (("oracle", "oracle", None), ("lobster", "lobster", lobster),
                               ("bitstamp", "bitstamp", bitstamp), ("snapshots", "snapshots", snapshots)):
        stream = load_events(source, path) if source != "oracle" else load_events("oracle", seed=0)
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"lobkit-bench-nhp-{os.getpid()}-{name}"
        res = train_nhp(stream, NHPConfig(n_types=stream.n_types), out=tmp, seed=seed, device="cpu", progress=False)
        r = evaluate_nhp(res.model_path, stream)
        out[name] = {"source": stream.source, "events": len(stream), "train_seconds": round(res.seconds, 1),
                     "train_events_per_s": round(res.events_per_s), **{k: r[k] for k in (
                         "test_ll_per_event", "poisson_test_ll_per_event", "hawkes_test_ll_per_event",
                         "type_accuracy", "majority_type_accuracy", "time_rmse", "mean_gap_rmse", "ks_statistic",
                         "ks_pvalue", "n_test_events")}}
        out[name]["beats_baselines"] = r["test_ll_per_event"] > max(r["poisson_test_ll_per_event"],
                                                                    r["hawkes_test_ll_per_event"])
        if source == "oracle":  # the oracle check: within 1% of the true model, conditioned on the whole history
            hi, cut = stream.split(0.8)
            true_ll, n, _ = sumexp_loglik(SumExpHawkes.oracle(), stream, hi, start_ns=cut)
            out[name]["true_test_ll_per_event"] = true_ll / n
            out[name]["gap_to_truth"] = abs(r["test_ll_per_event"] - true_ll / n) / abs(true_ll / n)
        print(f"  {name}: {out[name]['test_ll_per_event']:.4f} vs Poisson {r['poisson_test_ll_per_event']:.4f}, "
              f"Hawkes {r['hawkes_test_ll_per_event']:.4f}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    ap.add_argument("--epochs", type=positive_int, default=20, help="lobkit's passes over the training windows (20)")
    ap.add_argument("--easytpp-epochs", type=positive_int, default=5, help="EasyTPP's passes (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lobster", default=None, help="LOBSTER zip (default: the shared AMZN level-5 sample)")
    ap.add_argument("--side-by-side-only", action="store_true", help="skip the real streams' evaluations")
    args = ap.parse_args()

    from lobkit.paths import shared_data_dir
    from lobkit.sweeps.bench import machine_description
    from lobkit.training.events import lobster_events
    from lobkit.training.hawkes import oracle_stream

    load_before = os.getloadavg()[0]
    lob = args.lobster or str(shared_data_dir() / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    res = {"benchmark": "nhp", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine": machine_description(), "window": WINDOW, "targets": dict(TARGETS)}
    res["oracle"] = measure(oracle_stream(seed=0), args.epochs, args.easytpp_epochs, args.seed, oracle=True)
    res["lobster"] = measure(lobster_events(lob), args.epochs, args.easytpp_epochs, args.seed, oracle=False)
    if not args.side_by_side_only:
        data = shared_data_dir()
        res["real"] = real_streams(args.seed, lob, str(data / "bitstamp-btcusd-2015-05-01.log.xz"),
                                   str(data / "lob-btc.db"))
    o = res["oracle"]
    for k in ("nhp_train_events_per_s", "easytpp_train_events_per_s", "nhp_test_ll", "easytpp_test_ll",
              "true_test_ll", "ll_margin", "speedup"):
        res[k] = o[k]
    res["pass"] = {"ll_margin": all(res[s]["ll_margin"] >= 0 for s in ("oracle", "lobster")),
                   "speedup": all(res[s]["speedup"] >= TARGETS["speedup"] for s in ("oracle", "lobster"))}
    if "real" in res:
        res["pass"]["real_streams_beat_baselines"] = all(r["beats_baselines"] for k, r in res["real"].items()
                                                         if k != "oracle")
        res["oracle_gap_to_truth"] = res["real"]["oracle"]["gap_to_truth"]
        res["oracle_ks_pvalue"] = res["real"]["oracle"]["ks_pvalue"]
        res["targets"]["oracle_gap_to_truth_at_most"] = 0.01
        res["pass"]["oracle_within_1_percent"] = res["oracle_gap_to_truth"] <= 0.01
    res["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if args.out:
        write_result(args.out, res)
    if args.json:
        print(json.dumps(res, indent=2, default=lambda v: v.item()))
        return
    for name in ("oracle", "lobster"):
        r = res[name]
        true = f", true model {r['true_test_ll']:.4f}" if "true_test_ll" in r else ""
        print(f"{name}: held-out log-likelihood per event lobkit {r['nhp_test_ll']:.4f}, EasyTPP NHP "
              f"{r['easytpp_test_ll']:.4f}{true}; training {r['nhp_train_events_per_s']:,.0f} vs "
              f"{r['easytpp_train_events_per_s']:,.0f} events/s ({r['speedup']:.1f}x)")


if __name__ == "__main__":
    main()
