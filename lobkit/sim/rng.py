"""A small, explicit random generator for the jitted loop: xoshiro256** on a ``uint64[4]`` state array.

Why not ``numpy.random.Generator``: the loop draws a fixed number of uniforms per background event, stops and
resumes at every decision of a Python agent, and must give the same stream whatever the chunking; a state array
that the loop owns makes that obvious, is copied or compared in one line, inlines to a few instructions, and
needs no reference counting (the loop is compiled without Numba's NRT, like the engine kernels).

The state is seeded from a :class:`numpy.random.SeedSequence` (never from a global): :func:`rng_state`.
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from lobkit._jit import kernel as _kernel  # noqa: E402  (no reference counting: see lobkit/_jit.py)
from lobkit._jit import kernel_inline as _inline  # noqa: E402


def rng_state(seed: np.random.SeedSequence) -> np.ndarray:
    """A fresh ``uint64[4]`` xoshiro256** state from a SeedSequence (never all zero)."""
    s = seed.generate_state(4, np.uint64)
    if not s.any():  # pragma: no cover - probability 2**-256
        s[0] = np.uint64(0x9E3779B97F4A7C15)
    return s


@_inline
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@_inline
def next_u64(s):
    """Next 64-bit output of xoshiro256** (advances ``s`` in place)."""
    result = _rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@_inline
def uniform(s):
    """A uniform float64 in the open interval (0, 1): 53 random bits, never 0 or 1 (safe under ``log``)."""
    return (np.float64(next_u64(s) >> uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@_kernel
def fill_uniform(s, out):
    """Fill ``out`` with uniforms (for tests and for Python code that wants the same stream)."""
    for i in range(out.shape[0]):
        out[i] = uniform(s)
