"""Seeds: one seed per experiment, split with :class:`numpy.random.SeedSequence`, never a global generator.

Every entry point (``lobkit run``/``compare``/``sweep``/``impact``, :func:`lobkit.run`, ...) takes ``seed``:

* ``None`` (the default everywhere): fresh entropy from the operating system. The entropy is recorded in every
  output (``summary.json``, ``compare.json``, ``sweep.json``) and printed, so any run can be repeated by passing
  it back as ``--seed``;
* a non-negative integer (any size: a recorded 128-bit entropy works);
* a :class:`numpy.random.SeedSequence` (used as it is, never advanced).

Children are derived without mutating the parent (:func:`child`), so the same seed gives the same result in any
process, in any order, on any number of workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lobkit.errors import ConfigError
from lobkit.validate import is_int, show

#: The default seed of every entry point: fresh entropy, recorded in the outputs.
DEFAULT_SEED = None


def seed_sequence(seed: Any = DEFAULT_SEED, name: str = "seed") -> np.random.SeedSequence:
    """A :class:`SeedSequence` from ``None`` (fresh entropy), a non-negative integer or a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if not is_int(seed) or int(seed) < 0:
        raise ConfigError(f"{name}: expected a non-negative integer (or nothing, for fresh entropy), got {show(seed)}")
    return np.random.SeedSequence(int(seed))


def child(ss: np.random.SeedSequence, *keys: int) -> np.random.SeedSequence:
    """The descendant of ``ss`` at ``keys`` (``child(ss, i)`` is ``ss.spawn(i + 1)[i]``), without mutating ``ss``."""
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *(int(k) for k in keys)),
                                  pool_size=ss.pool_size)


def label(ss: np.random.SeedSequence) -> str:
    """``"<entropy>"`` or ``"<entropy>/<key>/<key>"``: what outputs record, and ``--seed`` takes the entropy."""
    return f"{ss.entropy}" + "".join(f"/{k}" for k in ss.spawn_key)
