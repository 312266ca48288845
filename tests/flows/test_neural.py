"""The learned flow (``--flow nhp:PATH``): the jitted model equals PyTorch's, the sampler is exact, runs are
deterministic, and bad model files are refused with one clear line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from lobkit.engine.state import alloc_state
from lobkit.errors import ConfigError, InputFormatError
from lobkit.flows import neural_nb
from lobkit.flows.neural import NeuralFlow, NHPParams
from lobkit.flows.neural_nb import nhp_fire, nhp_marks, nhp_reschedule, nhp_step, nhp_time_to
from lobkit.sim import simulate
from lobkit.sim.options import apply_options
from lobkit.training import nhp as torch_nhp
from lobkit.training.nhp_training import _states, load_nhp


def _state(path, seed=1, **params):
    return NeuralFlow(NHPParams(**params), str(path)).state(np.random.SeedSequence(seed), n_background=4,
                                                          capacity=1024, tick_size=0.01, initial_mid_ticks=10_000.0)


def test_the_feature_scales_are_the_models():
    assert neural_nb.DT_SCALES == torch_nhp.DT_SCALES


def test_the_jitted_step_equals_pytorch_over_10000_steps(nhp_model):
    model, _ = load_nhp(nhp_model)
    st = _state(nhp_model)
    rng = np.random.default_rng(0)
    n = 10_000
    dt = rng.exponential(0.5, n)
    dt[::97] = 0.0  # simultaneous events
    ty = rng.integers(0, 6, n)
    di = rng.integers(-1, 40, n)
    sz = rng.lognormal(0.0, 2.0, n)
    h = np.empty((n, st.h.shape[0]))
    mu = np.empty((n, 6))
    a = np.empty((n, 6, st.a.shape[1]))
    for i in range(n):
        nhp_step(st, int(ty[i]), float(dt[i]), int(di[i]), float(sz[i]))
        h[i], mu[i], a[i] = st.h, st.mu, st.a
    with torch.no_grad():
        x = model.features(torch.tensor(dt), torch.tensor(ty), torch.tensor(di), torch.tensor(sz))
        states = model.states(x.unsqueeze(0))[0][1:]
        t_mu, t_a, _ = model.params(states)
    assert np.abs(h - states.numpy()).max() <= 1e-5
    assert np.abs(mu - t_mu.numpy()).max() <= 1e-5 * max(1.0, np.abs(mu).max())
    assert np.abs(a - t_a.numpy()).max() <= 1e-5 * max(1.0, np.abs(a).max())


@pytest.mark.parametrize("k", range(6))
@pytest.mark.parametrize("u_distance,u_size", [(1e-9, 0.5), (0.3, 0.01), (0.5, 0.5), (0.97, 0.999), (1 - 1e-12, 1e-9)])
def test_the_marks_are_the_mark_heads_quantiles(nhp_model, k, u_distance, u_size):
    from scipy.special import ndtri

    model, _ = load_nhp(nhp_model)
    st = _state(nhp_model)
    cat, size = nhp_marks(st, k, u_distance, u_size)
    with torch.no_grad():
        logits, loc, scale = model.mark_logits(model.h0.unsqueeze(0), torch.tensor([k]))
    p = torch.softmax(logits[0], -1).numpy()
    want = int(min(np.searchsorted(np.cumsum(p), u_distance, side="right"), len(p) - 1))
    assert cat == want
    assert size == pytest.approx(float(np.exp(float(loc[0]) + float(scale[0]) * ndtri(u_size))), rel=1e-9)


@pytest.mark.parametrize("e", [1e-9, 0.01, 0.7, 1.0, 5.0, 40.0])
def test_the_time_inverts_the_compensator(nhp_model, e):
    model, _ = load_nhp(nhp_model)
    st = _state(nhp_model)
    nhp_step(st, 2, 0.01, 0, 3.0)  # a market order: the excitation is high
    tau = nhp_time_to(st, e)
    with torch.no_grad():
        mu, a, beta = model.params(torch.tensor(st.h).unsqueeze(0))
        comp = float(model.compensator(mu, a, beta, torch.tensor([tau], dtype=torch.float64)).sum())
    assert comp == pytest.approx(e, rel=1e-10)


def _sample_kernel_events(path, n, seed=5):
    """``n`` events drawn by the jitted sampler on a book it never sees (empty): (dt s, type, distance, size)."""
    st = _state(path, seed=seed)
    book = alloc_state(1024, 1024, 1088, base_price=9_500)
    out = np.empty((n, 4))
    now = 0
    for i in range(n):
        now = nhp_reschedule(st, book, now, 0)
        ev, *_ = nhp_fire(st, book, now, i + 1, 20_000)
        out[i] = st.last_marks[0], ev, st.last_marks[1], st.last_marks[2]
    return out


def test_the_samplers_events_follow_the_models_intensity(nhp_model):
    """Time rescaling (Brown et al. 2002): with the model's own compensator, the increments between the sampled
    events are unit exponentials, and each type's share of the events is its share of the integrated intensity."""
    from lobkit.training.events import make_stream

    ev = _sample_kernel_events(nhp_model, 20_000)
    model, _ = load_nhp(nhp_model)
    stream = make_stream(np.cumsum(ev[:, 0]), ev[:, 1].astype(np.int64), ev[:, 2].astype(np.int64), ev[:, 3],
                         duration_s=float(ev[:, 0].sum()) + 1e-6)
    with torch.no_grad():
        S = _states(model, stream)[:-1]
        mu, a, beta = model.params(S)
        dt = torch.tensor(ev[:, 0])
        comp = model.compensator(mu, a, beta, dt).numpy()  # (n, K)
        lam = model.intensity(mu, a, beta, dt).numpy()
    increments = comp.sum(1)
    assert stats.kstest(increments, "expon").pvalue > 1e-3
    assert increments.mean() == pytest.approx(1.0, abs=4 / np.sqrt(len(ev)))
    # the types: each event's type is drawn with probabilities lambda_k / sum lambda at its time
    p = lam / lam.sum(1, keepdims=True)
    expected = p.sum(0)
    counts = np.bincount(ev[:, 1].astype(int), minlength=6)
    sd = np.sqrt((p * (1 - p)).sum(0))
    assert np.all(np.abs(counts - expected) <= 5 * sd + 1), (counts, expected)


def test_the_kernel_sampler_and_pytorch_sampler_agree_in_distribution(nhp_model):
    """The jitted sampler and :func:`lobkit.training.nhp_training.sample_nhp` (PyTorch, another generator) draw
    the same process: their event rates and type mixes agree within sampling error."""
    from lobkit.training.nhp_training import sample_nhp

    model, _ = load_nhp(nhp_model)
    ev = _sample_kernel_events(nhp_model, 6000)
    ref = sample_nhp(model, float(ev[:, 0].sum()), seed=11)
    n_ref = len(ref.type)
    assert abs(n_ref - len(ev)) <= 5 * np.sqrt(len(ev)) * 3  # clustered: a wide band
    mix = np.bincount(ev[:, 1].astype(int), minlength=6) / len(ev)
    mix_ref = np.bincount(ref.type, minlength=6) / n_ref
    assert np.abs(mix - mix_ref).max() < 0.05, (mix, mix_ref)


def _cfg(path, **extra):
    return apply_options(None, {"flow": f"nhp:{path}", "agent": "momentum", "duration": "20min", "warmup": "1min",
                                "short": 3, "long": 8, "record": True, **extra})


def test_a_run_on_the_learned_market_is_deterministic_and_trades(nhp_model):
    cfg = _cfg(nhp_model)
    assert cfg.market.lot_size == 0.1 and cfg.market.tick_size == 0.01  # recorded in the model's file
    a = simulate(cfg, 42)
    b = simulate(cfg, 42)
    c = simulate(cfg, 43)
    assert a.orders.equals(b.orders) and a.timeline.equals(b.timeline)
    assert not a.orders.equals(c.orders)
    s = a.summary
    assert all(s[f"events_{name}"] > 0 for name in ("limit_buy", "limit_sell", "market_buy", "market_sell",
                                                     "cancel_buy", "cancel_sell")), s
    assert s["n_orders"] > 0 and s["agent_events_fed"] == 0  # off by default (coupling)
    # the model's rate: about five events a second, as in its training stream
    assert 2.0 < s["events_per_sim_s"] < 12.0


def test_chunked_runs_equal_one_run(nhp_model):
    from lobkit.sim.simulation import Simulation

    cfg = _cfg(nhp_model)
    one = simulate(cfg, 9)
    sim = Simulation(cfg, 9)
    for t in range(0, cfg.market.duration_ns, 7_000_000_000):
        sim.advance(t)
    res = sim.run()
    assert res.orders.equals(one.orders)


def test_with_feedback_the_agents_trades_reach_the_model(nhp_model):
    a = simulate(_cfg(nhp_model, agent_feedback=True), 42)
    b = simulate(_cfg(nhp_model), 42)
    assert a.summary["agent_events_fed"] > 0 and a.summary["n_orders"] > 0
    assert not a.orders.equals(b.orders)  # the learned traders react


def test_a_model_of_another_event_set_is_refused(tmp_path):
    from lobkit.training.config import NHPConfig
    from lobkit.training.hawkes import oracle_stream
    from lobkit.training.nhp_training import train_nhp

    res = train_nhp(oracle_stream(end_time=200.0), NHPConfig(n_types=3, epochs=1, hidden=8), out=tmp_path,
                    seed=1, device="cpu", progress=False)
    with pytest.raises(InputFormatError, match="3 event types; the simulator needs the 6 order-book types"):
        apply_options(None, {"flow": f"nhp:{res.model_path}"})


@pytest.mark.parametrize("content,match", [
    (None, "no such model file"),
    (b"not a checkpoint", "nhp"),
])
def test_a_bad_model_file_is_one_clear_error(tmp_path, content, match):
    path = tmp_path / "model.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFormatError) as err:
        apply_options(None, {"flow": f"nhp:{path}"})
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_model_file_is_required():
    with pytest.raises(ConfigError, match="needs a file"):
        apply_options(None, {"flow": "nhp"})
