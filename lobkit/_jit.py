"""Numba on-disk caching that stays correct across files.

Numba's ``cache=True`` keys each cached function on the content of *its own* source file. lobkit's kernels
inline kernels from other files (the simulator loop inlines the engine's matching, the agents' decision
rules, ...), so an edit to ``lobkit/engine/nb.py`` would leave ``lobkit/sim/nb.py``'s cached machine code
stale, silently. This module registers a cache locator, used for every jitted function defined inside the
lobkit package, whose source stamp is one hash over *all* of lobkit's jitted source files: changing any of them
invalidates every lobkit cache entry together. Functions outside lobkit keep Numba's own locators.

It is imported by ``lobkit/__init__.py`` before any kernel module, so it is in place before the first
``@njit(cache=True)`` decoration.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba import njit
from numba.core import caching, config

PACKAGE_DIR = Path(__file__).resolve().parent

# The decorators of every lobkit kernel (engine, replay, agents, simulator loop). Kernels never allocate, so
# they are compiled without Numba's reference counting (NRT): with it, every array taken from a state tuple
# costs an atomic incref/decref pair whenever LLVM does not inline a call, which measured 150 ns per resting
# order instead of 5 ns. ``kernel_inline`` inlines at Numba-IR level (the hot path; it costs compile time).
kernel = njit(cache=True, _nrt=False)
kernel_inline = njit(cache=True, _nrt=False, inline="always")
_MARKERS = (b"njit", b"numba")


def jit_sources(root: Path = PACKAGE_DIR) -> list[Path]:
    """The ``.py`` files under ``root`` that use Numba, sorted."""
    out = []
    for p in sorted(root.rglob("*.py")):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        if any(m in data for m in _MARKERS):
            out.append(p)
    return out


_memo: dict[tuple, bytes] = {}


def source_stamp(root: Path = PACKAGE_DIR) -> bytes:
    """One sha256 over the paths and contents of every jitted source file under ``root``.

    Numba asks once per cached function, so this is memoised on every ``.py`` file's (path, mtime, size):
    repeated calls only ``stat`` the files; contents are read again only when one of them changed.
    """
    key = tuple((str(p), st.st_mtime_ns, st.st_size) for p in sorted(root.rglob("*.py")) for st in (p.stat(),))
    if key not in _memo:
        h = hashlib.sha256()
        for p in jit_sources(root):
            h.update(str(p.relative_to(root)).encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
        _memo[key] = h.digest()
    return _memo[key]


def _inside_package(py_file: str) -> bool:
    try:
        Path(py_file).resolve().relative_to(PACKAGE_DIR)
    except (ValueError, OSError):
        return False
    return True


class _LobkitStampMixin:
    def get_source_stamp(self):
        return source_stamp()


class LobkitUserDirLocator(_LobkitStampMixin, caching.UserProvidedCacheLocator):
    """``$NUMBA_CACHE_DIR`` is set: cache there, stamped with the whole package's jitted sources."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _inside_package(py_file):
            return None
        return super().from_function(py_func, py_file)


class LobkitInTreeLocator(_LobkitStampMixin, caching.InTreeCacheLocator):
    """Cache in the package's ``__pycache__``, stamped with the whole package's jitted sources."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR or not _inside_package(py_file):
            return None
        return super().from_function(py_func, py_file)


def _impl_class():
    """Numba's cache implementation class (``CacheImpl``; ``_CacheImpl`` before numba 0.61)."""
    return getattr(caching, "CacheImpl", None) or caching._CacheImpl


def install() -> None:
    """Put lobkit's locators first in Numba's list (idempotent)."""
    classes = _impl_class()._locator_classes
    for cls in (LobkitInTreeLocator, LobkitUserDirLocator):
        if cls not in classes:
            classes.insert(0, cls)


install()
