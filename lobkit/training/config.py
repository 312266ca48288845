"""The configurations of the learned models, WGAN and neural Hawkes (no PyTorch here: the CLI reads them to build
its options)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lobkit.errors import ConfigError
from lobkit.validate import check_field, show

GEN_NORMS = ("pixel", "batch", "none")


class _Stored:
    """What a model file keeps of a configuration: its fields as a dict, and back (an unknown field: a file from
    another version, one clear error)."""

    LABEL = "configuration"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        extra = set(d) - {f.name for f in dataclasses.fields(cls)}
        if extra:
            raise ConfigError(f"{cls.LABEL}: unknown fields {sorted(extra)} (a file from another version?)")
        return cls(**d)


@dataclass(frozen=True)
class WGANConfig(_Stored):
    """How the WGAN is built and trained (validated on construction).

    Data: ``rows`` (a power of two, 16 to 4096), ``bucket_ticks``, ``tick_size``, ``log_range``, ``proximity_buckets``
    (the image transform, :class:`lobkit.data.images.BookImageTransform`), ``levels`` read a side (1 to 1000),
    ``split`` (``"blocks"``: every ``holdout_every``-th block of ``block_size``
    snapshots is held out for evaluation, ``"time"``: the last ``1 / holdout_every`` of the snapshots, ``"none"``).
    Model: ``z_dim``, ``gen_channels`` (the generator's widest layer), ``critic_channels`` (the critic's first),
    ``gen_norm`` (the generator's normalisation: ``"pixel"``, pixelwise feature normalisation of Karras et al. 2018,
    the default; ``"batch"``, DCGAN's batch norm; ``"none"``; the critic never has one).
    Training: ``steps`` (generator steps), ``batch_size``, ``n_critic``, ``gp_lambda``, ``lr``, ``beta1``,
    ``beta2``, ``ema`` (the generator written is the exponential moving average of the trained one's weights with
    this decay per step, Yazici et al. 2019; 0: the last weights), ``snapshot_every`` (a PNG of real and generated
    images every that many steps; 0: none).
    """

    LABEL = "WGAN configuration"

    rows: int = 256
    bucket_ticks: int = 1
    tick_size: float = 0.01
    log_range: float = 20.0
    proximity_buckets: float = 2.0
    levels: int = 20
    split: str = "blocks"
    block_size: int = 100
    holdout_every: int = 5
    z_dim: int = 64
    gen_channels: int = 128
    critic_channels: int = 16
    gen_norm: str = "pixel"
    steps: int = 2500
    batch_size: int = 64
    n_critic: int = 5
    gp_lambda: float = 10.0
    lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.9
    ema: float = 0.99
    snapshot_every: int = 500

    def __post_init__(self):
        check_field(self, "rows", "int", lo=16, hi=4096)
        if self.rows & (self.rows - 1):
            raise ConfigError(f"rows: must be a power of two (the networks double or halve it), got {self.rows}")
        check_field(self, "bucket_ticks", "int", lo=1, hi=1000)
        check_field(self, "tick_size", "number", lo=0.0, lo_open=True)
        check_field(self, "log_range", "number", lo=1.0, hi=50.0)
        check_field(self, "proximity_buckets", "number", lo=0.1, hi=100.0)
        check_field(self, "levels", "int", lo=1, hi=1000)
        if self.split not in ("blocks", "time", "none"):
            raise ConfigError(f"split: blocks, time or none, got {show(self.split)}")
        check_field(self, "block_size", "int", lo=1, hi=10**9)
        check_field(self, "holdout_every", "int", lo=2, hi=1000)
        check_field(self, "z_dim", "int", lo=1, hi=4096)
        check_field(self, "gen_channels", "int", lo=4, hi=4096)
        check_field(self, "critic_channels", "int", lo=2, hi=4096)
        if self.gen_norm not in GEN_NORMS:
            raise ConfigError(f"gen_norm: one of {', '.join(GEN_NORMS)}, got {show(self.gen_norm)}")
        check_field(self, "steps", "int", lo=1, hi=10**8)
        check_field(self, "batch_size", "int", lo=2, hi=65536)
        check_field(self, "n_critic", "int", lo=1, hi=100)
        check_field(self, "gp_lambda", "number", lo=0.0)
        check_field(self, "lr", "number", lo=0.0, lo_open=True, hi=1.0)
        check_field(self, "beta1", "number", lo=0.0, hi=0.999)
        check_field(self, "beta2", "number", lo=0.0, hi=0.9999)
        check_field(self, "ema", "number", lo=0.0, hi=0.99999)
        check_field(self, "snapshot_every", "int", lo=0, hi=10**8)

    @classmethod
    def small(cls, **changes) -> WGANConfig:
        """The demo's configuration: a minute on two CPU cores (the default networks, half the batch, 450 steps)."""
        base = dict(steps=450, batch_size=32, snapshot_every=150)
        return cls(**{**base, **changes})

    def transform(self):
        from lobkit.data.images import BookImageTransform

        return BookImageTransform(rows=self.rows, bucket_ticks=self.bucket_ticks, tick_size=self.tick_size,
                                  log_range=self.log_range, proximity_buckets=self.proximity_buckets)



@dataclass(frozen=True)
class NHPConfig(_Stored):
    """The neural Hawkes model and its training (validated on construction).

    ``n_types`` (1 to 64), ``hidden`` (GRU state size), ``embed`` (type embedding size), ``n_decays`` (exponentials
    per type), ``max_distance`` (categories of the distance mark), ``window`` (events per training window),
    ``batch_size`` (windows per step), ``epochs``, ``lr`` (Adam), ``mark_weight`` (of the marks' negative
    log-likelihood in the loss; 0: not learned), ``split`` (the fraction of the stream's time used for training;
    the rest is held out), ``max_seconds`` (stop after this much training time; 0: no limit).
    """

    LABEL = "NHP configuration"

    n_types: int = 6
    hidden: int = 64
    embed: int = 8
    n_decays: int = 3
    max_distance: int = 32
    window: int = 200
    batch_size: int = 16
    epochs: int = 20
    lr: float = 3e-3
    mark_weight: float = 1.0
    split: float = 0.8
    max_seconds: float = 0.0

    def __post_init__(self):
        check_field(self, "n_types", "int", lo=1, hi=64)
        check_field(self, "hidden", "int", lo=1, hi=4096)
        check_field(self, "embed", "int", lo=1, hi=1024)
        check_field(self, "n_decays", "int", lo=1, hi=32)
        check_field(self, "max_distance", "int", lo=2, hi=10_000)
        check_field(self, "window", "int", lo=2, hi=100_000)
        check_field(self, "batch_size", "int", lo=1, hi=65536)
        check_field(self, "epochs", "int", lo=1, hi=100_000)
        check_field(self, "lr", "number", lo=0.0, lo_open=True, hi=1.0)
        check_field(self, "mark_weight", "number", lo=0.0, hi=1e6)
        check_field(self, "split", "number", lo=0.0, lo_open=True, hi=1.0)
        if self.split >= 1.0:
            raise ConfigError(f"split: must be below 1 (some time is held out), got {self.split}")
        check_field(self, "max_seconds", "number", lo=0.0)

    @classmethod
    def small(cls, **changes) -> NHPConfig:
        """The demo's configuration (a minute on two cores)."""
        return cls(**{**dict(hidden=16, epochs=6), **changes})

