"""The ``lobkit`` command: a thin click layer over the library.

Each concern keeps its commands in its own module here (``engine``, ``data``, ``sim``, ...) and adds
them to the group with a ``register(group)`` function; nothing is implemented in the CLI itself.
"""

from __future__ import annotations

import sys

import click

from lobkit import __version__
from lobkit.errors import LobkitError


class _Group(click.Group):
    """A click group that turns lobkit's own errors into one clear line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LobkitError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lobkit")
def main() -> None:
    """lobkit: a market-microstructure lab on a Numba limit order book."""


def _register_all() -> None:
    from lobkit.cli import bitstamp as _bitstamp
    from lobkit.cli import calibrate as _calibrate
    from lobkit.cli import data as _data
    from lobkit.cli import engine as _engine
    from lobkit.cli import gui as _gui
    from lobkit.cli import lobster as _lobster
    from lobkit.cli import market as _market
    from lobkit.cli import nhp as _nhp
    from lobkit.cli import sim as _sim
    from lobkit.cli import sweep as _sweep
    from lobkit.cli import training as _training

    _engine.register(main)
    _lobster.register(main)
    _data.register(main)
    _bitstamp.register(main)
    _sim.register(main)
    _sweep.register(main)
    _training.register(main)
    _nhp.register(main)
    _calibrate.register(main)
    _market.register(main)
    _gui.register(main)


_register_all()
