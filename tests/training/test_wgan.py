"""The WGAN-GP (lobkit.training): networks, gradient penalty, training, checkpoints, generation, bad input."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

from lobkit.errors import ConfigError, InputFormatError
from lobkit.training import checkpoint as ckpt
from lobkit.training.config import WGANConfig
from lobkit.training.wgan import Critic, Generator, PixelNorm, gradient_penalty, init_weights
from lobkit.training.wgan_training import load_generator, train_wgan, training_images

from .conftest import tiny


# ------------------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("rows", [16, 64, 256])
@pytest.mark.parametrize("norm", ["pixel", "batch", "none"])
def test_network_shapes(rows, norm):
    cfg = WGANConfig(rows=rows, gen_channels=32, critic_channels=4, z_dim=10, gen_norm=norm)
    G, D = Generator(cfg), Critic(cfg)
    x = G(torch.randn(5, 10))
    assert x.shape == (5, 2, rows, 1) and x.dtype == torch.float32
    assert D(x).shape == (5,)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())  # never in the critic
    assert any(isinstance(m, PixelNorm) for m in G.modules()) == (norm == "pixel")


def test_pixel_norm_is_unit_rms_over_channels():
    x = torch.randn(3, 7, 5, 1) * 4
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(3, 5, 1), rtol=1e-4, atol=1e-4)


class _Linear(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1) + 3.0


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    """D(x) = <w, x> + b has gradient w everywhere: the penalty is (||w|| - 1)^2 for any real, fake and eps."""
    w = torch.randn(1, 2, 16, 1, dtype=torch.float64)
    real, fake = torch.randn(4, 2, 16, 1, dtype=torch.float64), torch.randn(4, 2, 16, 1, dtype=torch.float64)
    gp = gradient_penalty(_Linear(w), real, fake, torch.rand(4, dtype=torch.float64))
    assert float(gp.detach()) == pytest.approx((float(w.norm()) - 1.0) ** 2, rel=1e-12)


def test_gradient_penalty_against_finite_differences():
    """The penalty of a real critic against central finite differences of its score (float64, per sample)."""
    cfg = tiny()
    D = Critic(cfg).double()
    init_weights(D, torch.Generator().manual_seed(1))
    for p in D.parameters():  # larger weights: gradients far from 1, so a wrong norm would show
        p.data.mul_(20)
    gen = torch.Generator().manual_seed(2)
    real = torch.rand(3, 2, 16, 1, generator=gen, dtype=torch.float64)
    fake = torch.rand(3, 2, 16, 1, generator=gen, dtype=torch.float64)
    eps = torch.rand(3, generator=gen, dtype=torch.float64)
    got = float(gradient_penalty(D, real, fake, eps).detach())
    h, terms = 1e-6, []
    with torch.no_grad():
        for i in range(3):
            x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0)
            grad = np.empty(x.numel())
            for k in range(x.numel()):
                dx = torch.zeros(x.numel(), dtype=torch.float64)
                dx[k] = h
                dx = dx.view_as(x)
                grad[k] = (float(D(x + dx)) - float(D(x - dx))) / (2 * h)
            terms.append((np.linalg.norm(grad) - 1.0) ** 2)
    assert got == pytest.approx(np.mean(terms), rel=1e-6)
    assert got > 0.01  # not a trivial case


# ------------------------------------------------------------------------------------------------ training
def _fresh_critic_estimate(G: Generator, real: torch.Tensor, cfg: WGANConfig, steps: int = 150) -> float:
    """The Wasserstein estimate E[D(real)] - E[D(G(z))] of a critic trained from scratch (same seed every time)
    against the generator ``G``, held fixed: what the critic can tell, whatever the training's critic did."""
    gen = torch.Generator().manual_seed(0)
    D = Critic(cfg)
    init_weights(D, gen)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
    rng = np.random.default_rng(0)
    G.eval()
    with torch.no_grad():
        fakes = G(torch.randn(len(real), cfg.z_dim, generator=gen))
    for _ in range(steps):
        i = torch.from_numpy(rng.integers(0, len(real), 64))
        r, f = real[i], fakes[i]
        loss = D(f).mean() - D(r).mean() + 10 * gradient_penalty(D, r, f, torch.rand(64, generator=gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(D(real).mean() - D(fakes).mean())


def test_tiny_training_lowers_the_wasserstein_estimate(tmp_path, lob_btc):
    """150 steps on the real BTC books (64 rows) bring the generator's samples closer to the real images: a fresh
    critic's Wasserstein estimate against the trained generator is well below the one against the initial one
    (measured: 11.1 before, about 1 after 300 steps)."""
    cfg = tiny(rows=64, steps=150, n_critic=5, batch_size=32, gen_channels=64, critic_channels=16, z_dim=32,
               ema=0.0)  # the last weights: an average over 150 steps would still be mostly the initial ones
    images = training_images(cfg, str(lob_btc))[0]
    real = torch.from_numpy(images.images[:2000])
    G0 = Generator(cfg)
    from lobkit.seeds import child, seed_sequence
    from lobkit.training.wgan import torch_generator

    init_weights(G0, torch_generator(child(seed_sequence(5), 0), torch.device("cpu")))  # train_wgan's first G
    before = _fresh_critic_estimate(G0, real, cfg, steps=300)
    res = train_wgan(str(lob_btc), cfg, out=tmp_path, seed=5, device="cpu", progress=False)
    after = _fresh_critic_estimate(load_generator(res.generator_path).generator, real, cfg, steps=300)
    assert after < 0.5 * before, (before, after)
    assert len(res.history["wasserstein"]) == 150 and np.isfinite(res.history["loss_d"]).all()
    for name in ("generator.pth", "checkpoint.pth", "losses.png", "training.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_generator_file_holds_the_moving_average_of_the_weights(tmp_path, sample_db):
    """generator.pth = ema * (its previous value) + (1 - ema) * G, from G's initial weights: one step of ema 0.25
    gives 0.25 of the initial weights and 0.75 of the trained ones."""
    from lobkit.seeds import child, seed_sequence
    from lobkit.training.wgan import torch_generator

    res = train_wgan(str(sample_db), tiny(steps=1, ema=0.25), out=tmp_path, seed=8, device="cpu", progress=False)
    G0 = Generator(tiny())
    init_weights(G0, torch_generator(child(seed_sequence(8), 0), torch.device("cpu")))
    trained = torch.load(tmp_path / "checkpoint.pth", weights_only=True)["generator"]
    saved = _weights(res.generator_path)
    for k, v in G0.state_dict().items():
        torch.testing.assert_close(saved[k], 0.25 * v + 0.75 * trained[k], rtol=1e-6, atol=1e-7)
    assert not torch.equal(trained["fc.weight"], G0.state_dict()["fc.weight"])
    last = train_wgan(str(sample_db), tiny(steps=1, ema=0.0), out=tmp_path / "b", seed=8, device="cpu",
                      progress=False)
    assert _same(_weights(last.generator_path), torch.load(tmp_path / "b" / "checkpoint.pth",
                                                           weights_only=True)["generator"])


def _weights(path):
    return load_generator(path).generator.state_dict()


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_model_other_seed_another(tmp_path, sample_db):
    cfg = tiny()
    a = train_wgan(str(sample_db), cfg, out=tmp_path / "a", seed=11, device="cpu", progress=False)
    b = train_wgan(str(sample_db), cfg, out=tmp_path / "b", seed=11, device="cpu", progress=False)
    c = train_wgan(str(sample_db), cfg, out=tmp_path / "c", seed=12, device="cpu", progress=False)
    assert _same(_weights(a.generator_path), _weights(b.generator_path))
    assert a.history == b.history
    assert not _same(_weights(a.generator_path), _weights(c.generator_path))


def test_resume_continues_exactly(tmp_path, sample_db):
    full = train_wgan(str(sample_db), tiny(steps=8), out=tmp_path / "full", seed=4, device="cpu", progress=False)
    train_wgan(str(sample_db), tiny(steps=3), out=tmp_path / "part", seed=4, device="cpu", progress=False)
    part = train_wgan(str(sample_db), tiny(steps=8), out=tmp_path / "part", seed=None, device="cpu", resume=True,
                      progress=False)
    assert part.seed == full.seed  # the checkpoint's seed, not a new one
    assert _same(_weights(full.generator_path), _weights(part.generator_path))
    a = torch.load(tmp_path / "full" / "checkpoint.pth", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoint.pth", weights_only=True)
    assert _same(a["critic"], b["critic"]) and a["history"] == b["history"]


def test_resume_refuses_another_configuration_other_data_or_nothing_to_do(tmp_path, sample_db, lob_btc):
    train_wgan(str(sample_db), tiny(steps=3), out=tmp_path, seed=4, device="cpu", progress=False)
    with pytest.raises(ConfigError, match=r"another configuration \(batch_size: 16 there, 32 now\)"):
        train_wgan(str(sample_db), tiny(steps=6, batch_size=32), out=tmp_path, resume=True, progress=False)
    with pytest.raises(ConfigError, match="trained on other data"):
        train_wgan(str(lob_btc), tiny(steps=6), out=tmp_path, resume=True, progress=False)
    with pytest.raises(ConfigError, match="at step 3, not below --steps 3"):
        train_wgan(str(sample_db), tiny(steps=3), out=tmp_path, resume=True, progress=False)
    with pytest.raises(InputFormatError, match="checkpoint.pth: no such file"):
        train_wgan(str(sample_db), tiny(steps=3), out=tmp_path / "none", resume=True, progress=False)


# ------------------------------------------------------------------------------------------------ the model file
def test_generator_file_carries_what_it_needs_and_generates_books(tmp_path, sample_db):
    from lobkit import __version__

    res = train_wgan(str(sample_db), tiny(), out=tmp_path, seed=1, device="cpu", progress=False)
    doc = torch.load(res.generator_path, weights_only=True)
    assert doc["lobkit_version"] == __version__ and doc["config"] == tiny().to_dict()
    assert doc["step"] == 6 and len(doc["data_fingerprint"]) == 64 and "sample.db" in doc["data_source"]
    m = load_generator(res.generator_path)
    books, two = m.generate(300, seed=7)
    again, _ = m.generate(300, seed=7)
    np.testing.assert_array_equal(books.bid_vol, again.bid_vol)
    assert books.bid_ticks.dtype == np.int64 and books.bid_vol.shape == (300, m.config.levels)
    with pytest.raises(ConfigError, match="n: must be a positive integer"):
        m.generate(0)
    with pytest.raises(ConfigError, match="scale: must be a positive quantity"):
        m.generate(5, scale=-1.0)
    with pytest.raises(ConfigError, match="mid: must be a price above"):
        m.generate(5, mid=float("nan"))


class _Replay(torch.nn.Module):
    """A stand-in generator that returns given images in turn (to test the decoding of generate on its own)."""

    def __init__(self, images: np.ndarray):
        super().__init__()
        self.images = torch.from_numpy(images)
        self.next = 0

    def forward(self, z):
        out = self.images[self.next:self.next + len(z)]
        self.next += len(z)
        return out


def test_generate_turns_images_back_into_the_books_they_came_from(tmp_path, lob_btc):
    """With a generator that returns the images of real books, generate gives those books back (offsets from the
    mid in ticks exactly; volumes scaled to the given or drawn largest one)."""
    from lobkit.training.data import load_books, take

    res = train_wgan(str(lob_btc), tiny(rows=256, steps=1), out=tmp_path, seed=1, device="cpu", progress=False)
    m = load_generator(res.generator_path)
    books, _, _ = load_books(str(lob_btc), levels=5)
    real = take(books, np.arange(0, 5000, 50))
    im = m.transform.to_images(real)
    m.generator = _Replay(im.images)
    got, two = m.generate(len(im), seed=3, scale=2.5, levels=5)
    assert two.all()
    np.testing.assert_array_equal(got.bid_ticks, real.bid_ticks)
    np.testing.assert_array_equal(got.ask_ticks, real.ask_ticks)
    np.testing.assert_allclose(np.maximum(got.bid_vol.max(1), got.ask_vol.max(1)), 2.5, rtol=1e-6)
    np.testing.assert_allclose(got.bid_vol, real.bid_vol / im.scale[:, None] * 2.5, rtol=2e-5)
    # mids drawn from the training set's, then moved to the generated touch (less than a span away)
    gap = np.abs(got.mid[:, None] / 0.01 - m.mids[None, :]).min(axis=1)
    assert (gap <= m.config.rows // 2).all()
    m.generator = _Replay(im.images)
    fixed, _ = m.generate(len(im), seed=3, mid=250.0, levels=5)
    np.testing.assert_array_equal(fixed.bid_ticks, real.bid_ticks)
    assert np.all(np.abs(fixed.mid - 250.0) <= 0.01 * np.maximum(-real.bid_ticks[:, 0], real.ask_ticks[:, 0]))


def _save_tampered(src, dst, **changes):
    doc = torch.load(src, weights_only=True)
    doc.update(changes)
    torch.save(doc, dst)
    return dst


def test_bad_model_files_are_one_clear_error(tmp_path, sample_db):
    res = train_wgan(str(sample_db), tiny(), out=tmp_path / "m", seed=1, device="cpu", progress=False)
    g = res.generator_path
    (tmp_path / "junk.pth").write_bytes(b"\x00not a torch file" * 10)
    (tmp_path / "cut.pth").write_bytes(g.read_bytes()[: g.stat().st_size // 2])
    torch.save([1, 2, 3], tmp_path / "list.pth")
    other = dict(tiny().to_dict(), rows=32)
    cases = [
        (tmp_path / "missing.pth", "missing.pth: no such file"),
        (tmp_path / "junk.pth", "junk.pth: not a readable model file"),
        (tmp_path / "cut.pth", "cut.pth: not a readable model file"),
        (tmp_path / "list.pth", "list.pth: not a lobkit model file"),
        (res.out / "checkpoint.pth", "is a lobkit-wgan-checkpoint file, not a lobkit-wgan-generator file"),
        (_save_tampered(g, tmp_path / "v.pth", format_version=99), "v.pth: format version 99"),
        (_save_tampered(g, tmp_path / "cfg.pth", config=other), "cfg.pth: the weights do not fit the configuration"),
        (_save_tampered(g, tmp_path / "unk.pth", config=dict(other, colour="red")), r"unknown fields \['colour'\]"),
    ]
    for path, match in cases:
        with pytest.raises(InputFormatError, match=match):
            load_generator(path)


# ------------------------------------------------------------------------------------------------ bad data
def _db_like(tmp_path, name, sample_db, keep_sql: str):
    """A copy of the sample database with only the snapshots ``keep_sql`` selects (a WHERE clause on items)."""
    path = tmp_path / name
    path.write_bytes(sample_db.read_bytes())
    con = sqlite3.connect(path)
    con.execute(f"DELETE FROM items WHERE NOT ({keep_sql})")
    con.commit()
    con.close()
    return path


def test_bad_training_data_is_one_clear_error(tmp_path, sample_db, lob_btc):
    empty = _db_like(tmp_path, "empty.db", sample_db, "0")
    small = _db_like(tmp_path, "small.db", sample_db, "id <= 50")
    with pytest.raises(InputFormatError, match="empty.db.*no snapshots"):
        train_wgan(str(empty), tiny(), out=tmp_path / "o", progress=False)
    with pytest.raises(InputFormatError, match="small.db.*too small: 50 training snapshots became images; at least 64"):
        train_wgan(str(small), tiny(), out=tmp_path / "o", progress=False)
    # the real books' touch is often more than 4 ticks from the mid: an image of 4 ticks a side leaves them out
    images = training_images(tiny(rows=16, bucket_ticks=1), str(lob_btc))[0]
    assert sum(images.skipped.values()) > 0 and len(images) + sum(images.skipped.values()) < 5011
    with pytest.raises(InputFormatError, match="not-here.db"):
        train_wgan(str(tmp_path / "not-here.db"), tiny(), out=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()  # nothing half-written


@pytest.mark.parametrize("kw, match", [
    ({"rows": 48}, "rows: must be a power of two"), ({"rows": 8}, "rows"), ({"gen_norm": "layer"}, "gen_norm"),
    ({"lr": 0.0}, "lr"), ({"split": "random"}, "split: blocks, time or none"), ({"batch_size": 1}, "batch_size"),
    ({"proximity_buckets": -1.0}, "proximity_buckets"), ({"steps": 1.5}, "steps"),
])
def test_bad_configuration(kw, match):
    with pytest.raises(ConfigError, match=match):
        WGANConfig(**kw)


def test_checkpoint_write_is_whole_or_absent(tmp_path):
    ckpt.save(tmp_path / "a.pth", {"format": "x", "format_version": ckpt.FORMAT_VERSION, "t": torch.ones(3)})
    assert ckpt.load(tmp_path / "a.pth", "x")["t"].tolist() == [1.0, 1.0, 1.0]
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot write it"):
        ckpt.save(tmp_path / "file" / "b.pth", {"format": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pth", "file"]
