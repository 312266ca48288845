"""Learned models: a WGAN-GP of order-book shapes (:mod:`lobkit.training.wgan`, :mod:`lobkit.training.wgan_training`,
:mod:`lobkit.training.evaluate`) and a neural Hawkes process of the order flow (:mod:`lobkit.training.nhp`,
:mod:`lobkit.training.nhp_training`, on the event streams of :mod:`lobkit.training.events`). PyTorch is imported
only by this package, and only when a model is built.

* :func:`train_wgan` (``lobkit train-wgan``): train on a source's snapshots, write ``generator.pth``;
* :func:`load_generator`, :meth:`WGANModel.generate` (``lobkit generate``): generated books as book arrays;
* :func:`evaluate_wgan` (``lobkit eval-wgan``): generated books against held-out real ones;
* :func:`load_events`: event streams (LOBSTER, Bitstamp, inferred from snapshots or generated books, files, the
  Hawkes oracle); :func:`train_nhp` (``lobkit train-nhp``), :func:`evaluate_nhp` (``lobkit eval-nhp``),
  :func:`load_nhp`, :func:`sample_nhp` (a stream drawn from the model).
"""

from __future__ import annotations

_LAZY = {"WGANConfig": "lobkit.training.config", "train_wgan": "lobkit.training.wgan_training",
         "load_generator": "lobkit.training.wgan_training", "WGANModel": "lobkit.training.wgan_training",
         "evaluate_wgan": "lobkit.training.evaluate", "NHPConfig": "lobkit.training.config",
         "load_events": "lobkit.training.events", "train_nhp": "lobkit.training.nhp_training",
         "evaluate_nhp": "lobkit.training.nhp_training", "load_nhp": "lobkit.training.nhp_training",
         "sample_nhp": "lobkit.training.nhp_training"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lobkit.training' has no attribute {name!r}")
