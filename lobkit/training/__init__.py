"""Learned models: a WGAN-GP of order-book shapes (:mod:`lobkit.training.wgan`, :mod:`lobkit.training.wgan_training`,
:mod:`lobkit.training.evaluate`). PyTorch is imported only by this package.

* :func:`train_wgan` (``lobkit train-wgan``): train on a source's snapshots, write ``generator.pth``;
* :func:`load_generator`, :meth:`WGANModel.generate` (``lobkit generate``): generated books as book arrays;
* :func:`evaluate_wgan` (``lobkit eval-wgan``): generated books against held-out real ones.
"""

from __future__ import annotations

_LAZY = {"WGANConfig": "lobkit.training.config", "train_wgan": "lobkit.training.wgan_training",
         "load_generator": "lobkit.training.wgan_training", "WGANModel": "lobkit.training.wgan_training",
         "evaluate_wgan": "lobkit.training.evaluate", "generate_books": "lobkit.training.wgan_training"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lobkit.training' has no attribute {name!r}")
