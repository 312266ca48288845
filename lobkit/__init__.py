"""lobkit: a market-microstructure lab.

A Numba-jitted limit order book (:mod:`lobkit.engine`), order flow learned from real data
(:mod:`lobkit.training`), agents and a jitted simulation loop (:mod:`lobkit.agents`, :mod:`lobkit.sim`),
counterfactual experiments and parameter sweeps (:mod:`lobkit.sweeps`), a data layer over SQLite and
TimescaleDB (:mod:`lobkit.data`) and a Tkinter "Algo-Gym" (:mod:`lobkit.gui`).
"""

__version__ = "0.1.0"

# Before any kernel module is imported: key lobkit's Numba cache on all of its jitted sources (see _jit.py).
from lobkit import _jit as _jit  # noqa: E402

# The public API, imported lazily (PEP 562) so that ``import lobkit`` stays fast: Polars, the simulator and the
# sweeps load only when one of these names is first used (Numba itself is imported by ``_jit`` above).
_LAZY = {"run": "lobkit.api", "compare": "lobkit.api", "impact": "lobkit.api", "sweep": "lobkit.api",
         "eval_market": "lobkit.api",
         "build_config": "lobkit.api"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lobkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
