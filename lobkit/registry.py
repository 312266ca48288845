"""Name -> class registries: how agents and order-flow models plug in without editing the simulator.

A :class:`Registry` maps a short name (``"momentum"``, ``"hawkes"``) to a class. A class from outside lobkit is
added with ``register``, or named by its dotted path without registering (``"mypkg.strategies:Contrarian"``):
:meth:`Registry.get` imports the module, which lets worker processes of a sweep find a user's class by name.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from lobkit.errors import ConfigError
from lobkit.validate import show

_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class Registry:
    """Registered classes of one kind (``what``: "agent", "flow model") by name."""

    def __init__(self, what: str, base: type | None = None, check: Callable[[type], None] | None = None):
        self.what = what
        self.base = base
        self.check = check
        self._classes: dict[str, type] = {}

    def register(self, cls: type | None = None, *, name: str | None = None, replace: bool = False):
        """Register ``cls`` under ``name`` (default: ``cls.name``). Usable as a decorator, with or without
        arguments. Registering a different class under a taken name raises :class:`ConfigError` unless
        ``replace``."""

        def add(c: type) -> type:
            n = name or getattr(c, "name", None)
            if not isinstance(n, str) or not _NAME.match(n):
                raise ConfigError(f"{self.what} name must be lower-case letters, digits, '_' or '-' "
                                  f"(starting with a letter), got {show(n)}")
            if self.base is not None and not (isinstance(c, type) and issubclass(c, self.base)):
                raise ConfigError(f"{self.what} {n}: {getattr(c, '__qualname__', show(c))} is not a subclass of "
                                  f"{self.base.__name__}")
            if self.check is not None:
                self.check(c)
            old = self._classes.get(n)
            if old is not None and old is not c and not replace:
                raise ConfigError(f"{self.what} {n!r} is already registered ({old.__module__}.{old.__qualname__})")
            self._classes[n] = c
            return c

        return add if cls is None else add(cls)

    def unregister(self, name: str) -> None:
        self._classes.pop(name, None)

    def get(self, name: str) -> type:
        """The class registered as ``name``, or the class at the dotted path ``"package.module:Class"``.

        Raises :class:`ConfigError` naming the known names for an unknown one.
        """
        if not isinstance(name, str):
            raise ConfigError(f"{self.what}: expected a name, got {show(name)}")
        if name in self._classes:
            return self._classes[name]
        if _DOTTED.match(name):
            mod, _, qual = name.partition(":")
            try:
                obj = _import(mod)
            except ImportError as exc:
                raise ConfigError(f"{self.what} {name}: cannot import {mod} ({exc}); a module in the working "
                                  "directory or on PYTHONPATH is found") from None
            for part in qual.split("."):
                obj = getattr(obj, part, None)
                if obj is None:
                    raise ConfigError(f"{self.what} {name}: {mod} has no {qual}")
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                raise ConfigError(f"{self.what} {name}: not a subclass of {self.base.__name__}")
            if self.check is not None:
                self.check(obj)
            return obj
        raise ConfigError(f"unknown {self.what} {name!r}; choose one of {', '.join(self.names())} "
                          f"or give a class as package.module:Class")

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: str) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _import(module: str):
    """``importlib.import_module``, also finding a module in the working directory (``./mystrategy.py`` is
    ``mystrategy:MyAgent`` from wherever lobkit runs there, as ``python -m`` would find it)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        cwd = os.getcwd()
        if exc.name != top or cwd in sys.path or not (Path(cwd, f"{top}.py").is_file() or Path(cwd, top).is_dir()):
            raise
        sys.path.append(cwd)  # last: never shadows an installed package
        return importlib.import_module(module)
