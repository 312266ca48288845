"""The state types of order-flow models, by unique name: what the simulation loop's cache entries refer to.

The loop is compiled (and cached) once per flow model's state type, and Numba's cache index names each type by
reference to its class. Every state class lives here (:func:`lobkit.flows.flow_state_type` puts it here), under a
name that carries the defining module and, for a model defined outside lobkit, a hash of its source file: editing
that file selects a new cache entry instead of stale machine code (lobkit's own models are covered by lobkit's
source stamp, see :mod:`lobkit._jit`). A name this process does not know (a model of another project, or an older
version of one) resolves to an empty placeholder class, so an index that mentions it still loads; its entries
simply match nothing here.
"""

from __future__ import annotations

from typing import NamedTuple


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    placeholder = NamedTuple(name, [])  # noqa: UP014 (the name is only known at run time)
    placeholder.__module__ = __name__
    placeholder.__qualname__ = name
    globals()[name] = placeholder
    return placeholder
