"""A WGAN-GP that learns the shapes of order books (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The data are book images (:mod:`lobkit.data.images`): ``(2, rows, 1)``, proximity to the nearest level and its log
volume relative to the snapshot's largest, one row per price bucket around the mid. The generator is a deep
convolutional network (DCGAN's shape: a linear layer to ``(channels, 8, 1)``, then ``ConvTranspose2d`` layers with
kernel ``(4, 1)`` and stride ``(2, 1)`` doubling the rows, each followed by a normalisation and ReLU, a linear
output) from a noise vector of size ``z_dim``; the critic mirrors it with ``Conv2d`` layers and leaky ReLU, no batch
norm (the gradient penalty is per sample), to one scalar score.

Two choices differ from DCGAN (why, with the measurements: docs/training.md): pixelwise feature normalisation
(Karras et al. 2018, "Progressive Growing of GANs") instead of batch norm in the generator, whose batch statistics
let it collapse to one book whatever the noise; and a linear output instead of a sigmoid, which saturates on the
many exact zeros and ones of the images.

Loss: the Wasserstein estimate ``E[D(real)] - E[D(fake)]`` with the gradient penalty ``lambda E[(||grad D(x_hat)||
- 1)^2]`` on random interpolates, ``n_critic`` critic steps per generator step, Adam with ``betas=(0.0, 0.9)`` (the
paper's defaults: lambda 10, 5 critic steps; our learning rate is 4e-4, not the paper's 1e-4, which learns too
slowly for ten CPU minutes). The generator written is the moving average of the trained one's weights.

Randomness: one seed, split with ``SeedSequence`` into the weights' initialisation, the batches (a numpy
``Generator``) and the noise and interpolation weights (a ``torch.Generator``): no global generator is seeded, and
a CPU run is reproducible to the bit for the same seed and thread count; ``resume`` continues exactly.

PyTorch is imported only by this package (``import lobkit`` stays light).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lobkit.errors import ConfigError
from lobkit.training.config import WGANConfig
from lobkit.validate import show

__all__ = ["WGANConfig", "Generator", "Critic", "PixelNorm", "init_weights", "gradient_penalty", "pick_device",
           "torch_generator"]


# ------------------------------------------------------------------------------------------------ networks
_K, _S, _P = (4, 1), (2, 1), (1, 0)  # kernel, stride, padding: rows doubled or halved, the one column kept
START_ROWS = 8


def _stages(rows: int) -> int:
    return int(math.log2(rows // START_ROWS))


class PixelNorm(nn.Module):
    """Each position's feature vector scaled to unit root mean square over the channels (Karras et al. 2018):
    ``x / sqrt(mean_c x^2 + 1e-8)``. No batch statistics, so each sample is generated on its own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _norm(kind: str, channels: int) -> nn.Module:
    return {"pixel": PixelNorm, "batch": lambda: nn.BatchNorm2d(channels), "none": nn.Identity}[kind]()


class Generator(nn.Module):
    """``z (batch, z_dim)`` -> images ``(batch, 2, rows, 1)`` (a linear output: near [0, 1], not clipped)."""

    def __init__(self, cfg: WGANConfig):
        super().__init__()
        self.z_dim = cfg.z_dim
        n = _stages(cfg.rows)
        widths = [max(cfg.gen_channels >> i, 8) for i in range(n)]
        self.fc = nn.Linear(cfg.z_dim, widths[0] * START_ROWS)
        self.first = widths[0]
        layers: list[nn.Module] = [_norm(cfg.gen_norm, widths[0]), nn.ReLU()]
        for i in range(n - 1):
            layers += [nn.ConvTranspose2d(widths[i], widths[i + 1], _K, _S, _P), _norm(cfg.gen_norm, widths[i + 1]),
                       nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], 2, _K, _S, _P)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(z.shape[0], self.first, START_ROWS, 1))


class Critic(nn.Module):
    """Images ``(batch, 2, rows, 1)`` -> one score each ``(batch,)``. No batch norm (the gradient penalty is a per
    sample constraint)."""

    def __init__(self, cfg: WGANConfig):
        super().__init__()
        n = _stages(cfg.rows)
        widths = [min(cfg.critic_channels << i, 1024) for i in range(n)]
        layers: list[nn.Module] = []
        c_in = 2
        for w in widths:
            layers += [nn.Conv2d(c_in, w, _K, _S, _P), nn.LeakyReLU(0.2)]
            c_in = w
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(c_in * START_ROWS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(x).flatten(1)).squeeze(1)


def init_weights(module: nn.Module, gen: torch.Generator) -> None:
    """DCGAN's initialisation (Radford et al. 2016), from an explicit generator: N(0, 0.02) for convolutions and
    linear layers, N(1, 0.02) for batch-norm scales, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=gen)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=gen)
            nn.init.zeros_(m.bias)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``E[(||grad_x D(x_hat)||_2 - 1)^2]`` at ``x_hat = eps real + (1 - eps) fake`` (``eps`` ``(batch,)`` in
    [0, 1]), the penalty of WGAN-GP (without the lambda)."""
    e = eps.view(-1, 1, 1, 1)
    x_hat = (e * real + (1.0 - e) * fake).requires_grad_(True)
    score = critic(x_hat)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def pick_device(device: str) -> torch.device:
    """``auto`` (CUDA when available, else the CPU), ``cpu`` or ``cuda``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but no CUDA device is available (use --device auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device: auto, cpu or cuda, got {show(device)}")
    return torch.device(device)


def torch_generator(seed: np.random.SeedSequence, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from a SeedSequence (64 bits of its state)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed.generate_state(1, np.uint64)[0]))
    return g
