"""Training the WGAN-GP on real snapshots (``lobkit train-wgan``) and the trained model (``generator.pth``).

Outputs in ``out``:

* ``generator.pth``: the generator's weights (their exponential moving average over the steps, ``cfg.ema``: steadier
  than the last step's, which oscillate), its configuration, the image transform, the training set's mids,
  scales and spreads (so that generated images turn back into books), lobkit's version, the training step, the data
  source and its fingerprint;
* ``checkpoint.pth``: everything needed to continue exactly (``resume=True``): the critic, both optimisers, the
  random generators' states, the history of the losses;
* ``training_snapshots/step-NNNNNN.png``: real and generated images side by side every ``snapshot_every`` steps;
  ``losses.png``: the losses and the Wasserstein estimate; ``training.json``: the run's figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lobkit.data.errors import InputFormatError
from lobkit.errors import ConfigError
from lobkit.seeds import child, label, seed_sequence
from lobkit.training import checkpoint as ckpt
from lobkit.training.config import WGANConfig
from lobkit.training.wgan import Critic, Generator, gradient_penalty, init_weights, pick_device

GENERATOR_FORMAT = "lobkit-wgan-generator"
CHECKPOINT_FORMAT = "lobkit-wgan-checkpoint"
#: The smallest training set: fewer images than this cannot train (nor be told from copies).
MIN_TRAIN_IMAGES = 64


@dataclass
class WGANModel:
    """A trained generator and what turns its images into books (:func:`load_generator`)."""

    config: WGANConfig
    generator: Generator
    mids: np.ndarray  # the training set's mids (ticks)
    scales: np.ndarray  # their largest level volumes (quantity)
    spreads: np.ndarray  # their spreads (ticks)
    step: int
    fingerprint: str
    source: str
    lobkit_version: str
    data_spec: str = ""  # the training data's file (empty for a database: its password is never stored)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def transform(self):
        return self.config.transform()

    def images(self, n: int, seed=None) -> np.ndarray:
        """``n`` generated images ``(n, 2, rows, 1)`` (float32), from ``seed`` (:mod:`lobkit.seeds`)."""
        from lobkit.training.wgan import torch_generator

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n: must be a positive integer, got {n!r}")
        g = torch_generator(child(seed_sequence(seed), 0), self.device)
        out = []
        self.generator.eval()
        with torch.no_grad():
            for lo in range(0, n, 4096):
                z = torch.randn(min(4096, n - lo), self.config.z_dim, generator=g, device=self.device)
                out.append(self.generator(z).cpu().numpy())
        return np.concatenate(out)

    def generate(self, n: int, seed=None, mid: float | None = None, scale: float | None = None,
                 levels: int | None = None):
        """``n`` generated books: ``(BookArrays, two_sided)`` (:meth:`lobkit.data.images.BookImageTransform.to_books`).

        ``mid`` (currency) and ``scale`` (the largest level volume) are drawn from the training set's when not given.
        """
        ss = seed_sequence(seed)
        imgs = self.images(n, child(ss, 0))
        rng = np.random.default_rng(child(ss, 1))
        from lobkit.data.images import empirical_draw

        tick = self.config.tick_size
        mids = np.full(n, float(mid) / tick) if mid is not None else empirical_draw(self.mids, n, rng)
        scales = np.full(n, float(scale)) if scale is not None else empirical_draw(self.scales, n, rng)
        if mid is not None and not (np.isfinite(mids).all() and mids[0] > self.config.rows):
            raise ConfigError(f"mid: must be a price above {self.config.rows * tick:g}, got {mid!r}")
        if scale is not None and not (np.isfinite(scales).all() and scales[0] > 0):
            raise ConfigError(f"scale: must be a positive quantity, got {scale!r}")
        return self.transform.to_books(imgs, mids, scales, levels=levels or self.config.levels)


def load_generator(path: str | Path, device: str = "cpu") -> WGANModel:
    """A trained generator from ``generator.pth`` (``torch.load(weights_only=True)``). Raises InputFormatError
    naming the file when it is not a generator of this lobkit's format, or its weights do not fit its config."""
    dev = pick_device(device)
    doc = ckpt.load(path, GENERATOR_FORMAT, dev)
    try:
        cfg = WGANConfig.from_dict(doc["config"])
        gen = Generator(cfg).to(dev)
        gen.load_state_dict(doc["generator"])
    except (ConfigError, RuntimeError, KeyError, TypeError) as exc:
        raise InputFormatError(path, None, f"the weights do not fit the configuration ({str(exc).splitlines()[0]})") \
            from None
    gen.eval()
    return WGANModel(config=cfg, generator=gen, mids=doc["mids"].numpy(), scales=doc["scales"].numpy(),
                     spreads=doc["spreads"].numpy(), step=int(doc["step"]), fingerprint=str(doc["data_fingerprint"]),
                     source=str(doc["data_source"]), lobkit_version=str(doc["lobkit_version"]),
                     data_spec=str(doc.get("data_spec", "")), device=dev)


@dataclass
class TrainResult:
    """What :func:`train_wgan` did: where the files are, the losses by step, and the data it used."""

    out: Path
    config: WGANConfig
    seed: str
    steps: int
    seconds: float
    history: dict
    n_train: int
    n_held_out: int
    skipped: dict
    source: str
    fingerprint: str

    @property
    def generator_path(self) -> Path:
        return self.out / "generator.pth"


def training_images(cfg: WGANConfig, data, progress: bool = False, **data_options):
    """The training images of ``data`` under ``cfg``'s split: ``(images of the training snapshots, books, held-out
    indices, source description, rejected snapshots)``."""
    from lobkit.training.data import load_books, split_indices, take

    books, source, rejected = load_books(data, levels=cfg.levels, tick_size=cfg.tick_size, progress=progress,
                                         **data_options)
    train_idx, held = split_indices(len(books.mid), cfg.split, cfg.block_size, cfg.holdout_every)
    images = cfg.transform().to_images(take(books, train_idx), source=source, strict=False)
    if len(images) < MIN_TRAIN_IMAGES:
        raise InputFormatError(source, None, f"too small: {len(images)} training snapshots became images; at least "
                                             f"{MIN_TRAIN_IMAGES} are needed")
    return images, books, held, source, rejected


def train_wgan(data, cfg: WGANConfig | None = None, *, out: str | Path = "runs/wgan", seed=None, device: str = "auto",
               resume: bool = False, progress: bool = True, **data_options) -> TrainResult:
    """Train the WGAN-GP on the snapshots of ``data`` (a source spec: SQLite path, ``postgresql://...`` URL with
    ``table=``, LOBSTER zip) and write ``generator.pth`` and the rest to ``out`` (module docstring).

    ``resume``: continue from ``out/checkpoint.pth`` (same configuration but for ``steps``, same data) exactly where
    it stopped. Raises :class:`ConfigError` / :class:`InputFormatError` with one line for bad input.
    """
    from lobkit import __version__

    cfg = cfg or WGANConfig()
    if not isinstance(cfg, WGANConfig):
        raise ConfigError(f"cfg: expected a WGANConfig, got {type(cfg).__name__}")
    dev = pick_device(device)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: cannot write there (a file, not a directory)")
    images, _books, held, source, rejected = training_images(cfg, data, progress=progress, **data_options)
    ckpt.ensure_dir(out)  # before the training, never after it
    fingerprint = images.fingerprint()
    ss = seed_sequence(seed)
    G, D = Generator(cfg).to(dev), Critic(cfg).to(dev)
    G_avg = Generator(cfg).to(dev)  # the moving average of G's weights (cfg.ema): what generator.pth holds
    G_avg.requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    from lobkit.training.wgan import torch_generator

    history: dict[str, list] = {"step": [], "loss_d": [], "loss_g": [], "wasserstein": [], "gp": []}
    start = 0
    if resume:
        doc = ckpt.load(out / "checkpoint.pth", CHECKPOINT_FORMAT, dev)
        old = WGANConfig.from_dict(doc["config"])
        if old.to_dict() | {"steps": cfg.steps} != cfg.to_dict():
            diff = sorted(k for k, v in cfg.to_dict().items() if k != "steps" and old.to_dict()[k] != v)
            raise ConfigError(f"--resume: {out / 'checkpoint.pth'} was trained with another configuration "
                              f"({', '.join(f'{k}: {old.to_dict()[k]} there, {cfg.to_dict()[k]} now' for k in diff)})")
        if doc["data_fingerprint"] != fingerprint:
            raise ConfigError(f"--resume: {out / 'checkpoint.pth'} was trained on other data ({doc['data_source']})")
        G.load_state_dict(doc["generator"])
        G_avg.load_state_dict(doc["generator_average"])
        D.load_state_dict(doc["critic"])
        opt_g.load_state_dict(doc["opt_g"])
        opt_d.load_state_dict(doc["opt_d"])
        rng = np.random.default_rng()
        rng.bit_generator.state = doc["numpy_rng"]
        noise = torch.Generator(device=dev)
        noise.set_state(doc["torch_rng"].cpu())
        history = {k: list(v) for k, v in doc["history"].items()}
        start = int(doc["step"])
        ss_label = str(doc["seed"])
        if start >= cfg.steps:
            raise ConfigError(f"--resume: the checkpoint is at step {start}, not below --steps {cfg.steps}")
    else:
        init_weights(G, torch_generator(child(ss, 0), dev))
        init_weights(D, torch_generator(child(ss, 1), dev))
        G_avg.load_state_dict(G.state_dict())
        rng = np.random.default_rng(child(ss, 2))
        noise = torch_generator(child(ss, 3), dev)
        ss_label = label(ss)
    data_t = torch.from_numpy(images.images).to(dev)
    level_threshold = cfg.transform().level_threshold
    n = len(images)
    snaps = out / "training_snapshots"
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc="train-wgan", unit="step", dynamic_ncols=True)

    def state(step: int) -> dict:
        return {"format": CHECKPOINT_FORMAT, "format_version": ckpt.FORMAT_VERSION, "lobkit_version": __version__,
                "config": cfg.to_dict(), "step": step, "seed": ss_label, "data_fingerprint": fingerprint,
                "data_source": source, "generator": G.state_dict(), "generator_average": G_avg.state_dict(),
                "critic": D.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "numpy_rng": rng.bit_generator.state,
                "torch_rng": noise.get_state(), "history": history}

    try:
        for step in range(start + 1, cfg.steps + 1):
            G.train()
            for _ in range(cfg.n_critic):
                real = data_t[torch.from_numpy(rng.integers(0, n, cfg.batch_size)).to(dev)]
                z = torch.randn(cfg.batch_size, cfg.z_dim, generator=noise, device=dev)
                with torch.no_grad():
                    fake = G(z)
                d_real, d_fake = D(real).mean(), D(fake).mean()
                eps = torch.rand(cfg.batch_size, generator=noise, device=dev)
                gp = gradient_penalty(D, real, fake, eps)
                loss_d = d_fake - d_real + cfg.gp_lambda * gp
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            z = torch.randn(cfg.batch_size, cfg.z_dim, generator=noise, device=dev)
            loss_g = -D(G(z)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                for p_avg, p in zip(G_avg.parameters(), G.parameters(), strict=True):
                    p_avg.lerp_(p, 1.0 - cfg.ema)
                for b_avg, b in zip(G_avg.buffers(), G.buffers(), strict=True):  # batch norm's running statistics
                    b_avg.copy_(b)
            w = float((d_real - d_fake).detach())
            for k, v in (("step", step), ("loss_d", float(loss_d.detach())), ("loss_g", float(loss_g.detach())),
                         ("wasserstein", w), ("gp", float(gp.detach()))):
                history[k].append(v)
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or step == cfg.steps:
                    bar.set_postfix(W=f"{w:.3f}", loss_d=f"{float(loss_d.detach()):.3f}",
                                    loss_g=f"{float(loss_g.detach()):.3f}",
                                    refresh=False)
            if cfg.snapshot_every and step % cfg.snapshot_every == 0 and step < cfg.steps:
                plot_snapshot(images.images, G_avg, level_threshold, dev, snaps / f"step-{step:06d}.png", step)
                ckpt.save(out / "checkpoint.pth", state(step))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    ckpt.save(out / "checkpoint.pth", state(cfg.steps))
    ckpt.save(out / "generator.pth", {
        "format": GENERATOR_FORMAT, "format_version": ckpt.FORMAT_VERSION, "lobkit_version": __version__,
        "config": cfg.to_dict(), "step": cfg.steps, "seed": ss_label, "data_fingerprint": fingerprint,
        "data_source": source, "data_spec": _reopenable(data), "generator": G_avg.state_dict(),
        "mids": torch.from_numpy(images.mid_ticks), "scales": torch.from_numpy(images.scale),
        "spreads": torch.from_numpy(images.spread_ticks)})
    if cfg.snapshot_every:
        plot_snapshot(images.images, G_avg, level_threshold, dev, snaps / f"step-{cfg.steps:06d}.png", cfg.steps)
    plot_losses(history, out / "losses.png")
    doc = {"seed": ss_label, "config": cfg.to_dict(), "source": source, "data_fingerprint": fingerprint,
           "n_train": n, "n_held_out": int(len(held)), "rejected_snapshots": rejected, "skipped": images.skipped,
           "levels_outside_the_image": images.levels_dropped, "steps": cfg.steps, "seconds": round(seconds, 2),
           "steps_per_s": round((cfg.steps - start) / seconds, 3) if seconds > 0 else None,
           "final": {k: history[k][-1] for k in ("loss_d", "loss_g", "wasserstein", "gp")} if history["step"] else {}}
    (out / "training.json").write_text(json.dumps(doc, indent=2) + "\n")
    return TrainResult(out=out, config=cfg, seed=ss_label, steps=cfg.steps, seconds=seconds, history=history,
                       n_train=n, n_held_out=int(len(held)), skipped=images.skipped, source=source,
                       fingerprint=fingerprint)


def _reopenable(data) -> str:
    """What ``eval-wgan`` can reopen without being told: a file's absolute path; nothing for a database URL (its
    password must not travel in a model file)."""
    text = str(data)
    if "://" in text:
        return ""
    return str(Path(text).resolve())


# ------------------------------------------------------------------------------------------------ figures
def _image_strip(images: np.ndarray, threshold: float) -> np.ndarray:
    """``(n, 2, rows, 1)`` -> ``(rows, n)``: the log volume where a bucket holds a level (proximity above
    ``threshold``), 0 elsewhere; one column a book."""
    return ((images[:, 0, :, 0] > threshold) * np.clip(images[:, 1, :, 0], 0.05, 1.0)).T


def plot_snapshot(real: np.ndarray, G: Generator, threshold: float, dev, path: Path, step: int,
                  n: int = 16) -> None:
    """Real and generated images as heatmaps (rows: price buckets, bids below the middle; columns: books). Draws
    from copies of the random states, so a snapshot never changes the training."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pick = np.random.default_rng(step).integers(0, len(real), n)  # its own generator: the training's is untouched
    g = torch.Generator(device=dev)
    g.manual_seed(step)
    G.eval()
    with torch.no_grad():
        fake = G(torch.randn(n, G.z_dim, generator=g, device=dev)).cpu().numpy()
    G.train()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    for ax, imgs, title in ((axes[0], real[pick], "real"), (axes[1], fake, "generated")):
        ax.imshow(_image_strip(imgs, threshold), aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.axhline(real.shape[2] / 2 - 0.5, color="0.7", lw=0.6)
        ax.set_title(f"{title} books (columns)", fontsize=9)
        ax.set_xlabel("book")
    axes[0].set_ylabel("price bucket (bids below the line, asks above)")
    fig.suptitle(f"step {step}: brightness = log volume relative to the book's largest", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_losses(history: dict, path: Path) -> None:
    """The critic's and the generator's losses and the Wasserstein estimate against the step."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    steps = np.asarray(history["step"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)

    def smooth(x):
        x = np.asarray(x, float)
        k = max(1, len(x) // 100)
        return np.convolve(x, np.ones(k) / k, mode="same") if len(x) > k else x

    for key, color in (("loss_d", "#2166ac"), ("loss_g", "#d73027")):
        ax1.plot(steps, history[key], color=color, lw=0.4, alpha=0.3)
        ax1.plot(steps, smooth(history[key]), color=color, lw=1.4, label=key.replace("_", " "))
    ax1.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False, fontsize=8)
    ax1.set_ylabel("loss")
    ax2.plot(steps, history["wasserstein"], color="0.6", lw=0.4)
    ax2.plot(steps, smooth(history["wasserstein"]), color="0.1", lw=1.4)
    ax2.set_ylabel("Wasserstein estimate\nE[D(real)] - E[D(fake)]")
    ax2.set_xlabel("generator step")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
