"""The agent registry: a strategy is chosen by name (``--agent momentum``) or by class path
(``--agent mypkg.strategies:Contrarian``).

A new agent is one file: an :class:`~lobkit.agents.base.Agent` subclass with a ``name``, a ``Params`` frozen
dataclass (its own parameters, validated in its ``__post_init__``; a field's ``metadata`` may give ``help`` text
and, for a text field, its ``choices``, which the GUI shows as a list) and ``act(view)``, registered with
:func:`register_agent`. Its parameters then reach ``lobkit run``/``compare``/``sweep`` (``--set short=3`` or a
grid axis), the Python API (``lobkit.run(agent="mine", short=3)``) and the GUI without any other edit.
"""

from __future__ import annotations

import dataclasses

from lobkit.agents.base import Agent
from lobkit.errors import ConfigError
from lobkit.registry import Registry


def _check_agent_class(cls: type) -> None:
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and dataclasses.is_dataclass(params)
            and params.__dataclass_params__.frozen):
        raise ConfigError(f"agent {cls.__name__}: Params must be a frozen dataclass")


#: Registered agents by name. The built-in agents register themselves when the package :mod:`lobkit.agents` is
#: imported, which any import of this module does first.
AGENTS = Registry("agent", base=Agent, check=_check_agent_class)


def register_agent(cls: type | None = None, *, name: str | None = None, replace: bool = False):
    """Register an :class:`~lobkit.agents.base.Agent` subclass under ``name`` (default ``cls.name``); usable
    as a class decorator. Registering another class under a taken name raises ConfigError unless ``replace``."""
    return AGENTS.register(cls, name=name, replace=replace)


def agent_class(name: str) -> type:
    """The agent class registered as ``name``, or at the dotted path ``package.module:Class``."""
    return AGENTS.get(name)


def agent_names() -> list[str]:
    """The registered agents' names."""
    return AGENTS.names()
