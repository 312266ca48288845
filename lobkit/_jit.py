"""Numba on-disk caching that never runs stale code, and the decorators of every lobkit kernel.

Numba's ``cache=True`` keys each cached function on the content of *its own* source file. lobkit's kernels inline
kernels and read constants from other files (the simulator loop inlines the engine's matching, the agents'
decision rules, the flow models' overloads, the column constants of ``engine/state.py``...), so an edit to one
file would leave another file's cached machine code stale, silently. This module registers cache locators, used
for every jitted function defined inside the lobkit package, whose source stamp is one hash over *every* lobkit
module that can contribute compiled code (:func:`stamped_sources`): changing any of them invalidates every lobkit
cache entry together.

Which modules: every ``.py`` file under ``lobkit/`` except the kernel-free ones (:data:`KERNEL_FREE`: the CLI, the
GUI, the report, the learned models (PyTorch), the book images, the API and demo facades), which neither import
Numba nor define kernels, overloads or constants that kernels read (``tests/test_jit_cache.py`` checks both rules
on the whole package). Editing a kernel-free module keeps the cache; editing any other recompiles (a minute or
two, once).

Flow models from outside the package inline their overloads into the simulation loop, which is compiled once per
model state type: those types carry a hash of their source file in their names (:mod:`lobkit.flows.types`), so
an edit to such a model selects a new cache entry; an index naming a type this process cannot import is read as
stale, not as an error (:func:`install`).

The locators subclass private Numba classes (``numba.core.caching``'s locators and ``CacheImpl``) and the
kernels are compiled without Numba's reference counting (the private ``_nrt`` flag): the numba version is bounded
in ``pyproject.toml`` to the one these are tested with.

It is imported by ``lobkit/__init__.py`` before any kernel module, so it is in place before the first
``@njit(cache=True)`` decoration.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

from numba import njit
from numba.core import caching, config

PACKAGE_DIR = Path(__file__).resolve().parent

#: Modules and packages (relative to lobkit/) that can contribute no compiled code, so are not stamped.
KERNEL_FREE = ("cli/", "gui/", "report/", "realism/", "training/", "data/images.py", "api.py", "demo.py")

# The decorators of every lobkit kernel (engine, replay, agents, simulator loop, flow models). Kernels never
# allocate, so they are compiled without Numba's reference counting (NRT): with it, every array taken from a state
# tuple costs an atomic incref/decref pair whenever LLVM does not inline a call, which measured 150 ns per resting
# order instead of 5 ns. ``kernel_inline`` inlines at Numba-IR level (the hot path; it costs compile time).
kernel = njit(cache=True, _nrt=False)
kernel_inline = njit(cache=True, _nrt=False, inline="always")
# Dense matrix-vector kernels (the learned flow's GRU and heads): LLVM may reassociate sums and fuse multiply-adds,
# which lets it vectorise the dot products (about 4x); results move by a few ulps, far inside the 1e-5 of the tests
kernel_fast = njit(cache=True, _nrt=False, fastmath={"reassoc", "contract"})
# Entry points that run long (the simulation loop) release the GIL, so another thread (the GUI's event loop, a
# threaded Dask worker) keeps running while a chunk of simulated time is computed
kernel_nogil = njit(cache=True, _nrt=False, nogil=True)


def stamped_sources(root: Path = PACKAGE_DIR) -> list[Path]:
    """The ``.py`` files under ``root`` whose content is in the stamp: all but :data:`KERNEL_FREE`, sorted."""
    out = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in KERNEL_FREE):
            continue
        out.append(p)
    return out


_memo: dict[tuple, bytes] = {}


def _stat_key(paths) -> tuple:
    key = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            key.append((str(p), -1, -1))
        else:
            key.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(key)


def _hash(root: Path, paths: list[Path]) -> bytes:
    h = hashlib.sha256()
    for p in paths:
        name = p.relative_to(root).as_posix()
        h.update(name.encode())
        h.update(b"\0")
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    return h.digest()


def source_stamp(root: Path = PACKAGE_DIR) -> bytes:
    """One sha256 over the relative paths and contents of :func:`stamped_sources`.

    Numba asks once per cached function, so this is memoised on every file's (path, mtime, size): repeated calls
    only ``stat`` the files; contents are read again only when one of them changed.
    """
    files = stamped_sources(root)
    key = (str(root), _stat_key(files))
    if key not in _memo:
        _memo[key] = _hash(root, files)
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
    """``$NUMBA_CACHE_DIR`` is set: cache there, stamped with the whole package's kernel sources."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _inside_package(py_file):
            return None
        return super().from_function(py_func, py_file)


class LobkitInTreeLocator(_LobkitStampMixin, caching.InTreeCacheLocator):
    """Cache in the package's ``__pycache__``, stamped with the whole package's kernel sources."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR or not _inside_package(py_file):
            return None
        return super().from_function(py_func, py_file)


def _impl_class():
    """Numba's cache implementation class (``CacheImpl``; ``_CacheImpl`` before numba 0.61)."""
    return getattr(caching, "CacheImpl", None) or caching._CacheImpl


def _tolerant_load_index(load):
    """Numba's index loader, reading an index it cannot unpickle as an empty (stale) one instead of raising.

    An index holds every specialisation of a function; one specialised on a flow model from a module this process
    cannot import (another project's model) made Numba raise ModuleNotFoundError for every later run. Treated as
    stale, the function is compiled again and the index rewritten.
    """

    def _load_index(self):
        try:
            return load(self)
        except (ImportError, AttributeError, EOFError, pickle.UnpicklingError, TypeError, ValueError):
            return {}

    _load_index.lobkit_tolerant = True
    return _load_index


def install() -> None:
    """Put lobkit's locators first in Numba's list and make index loading tolerant (idempotent)."""
    classes = _impl_class()._locator_classes
    for cls in (LobkitInTreeLocator, LobkitUserDirLocator):
        if cls not in classes:
            classes.insert(0, cls)
    index_file = caching.IndexDataCacheFile
    if not getattr(index_file._load_index, "lobkit_tolerant", False):
        index_file._load_index = _tolerant_load_index(index_file._load_index)


install()
