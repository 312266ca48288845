"""``lobkit gui``: the Algo-Gym desktop app (a thin layer over :func:`lobkit.api.gui`)."""

from __future__ import annotations

import click


@click.command("gui")
@click.option("--agent", default="momentum", show_default=True, metavar="NAME",
              help="The strategy first shown: a registered agent or package.module:Class.")
@click.option("--flow", default=None, metavar="SPEC",
              help="The order flow first shown: hawkes, calibrated:FILE.toml or nhp:FILE.pth.")
@click.option("--initial-book", default=None, metavar="SPEC",
              help="The initial book first shown: generated, wgan:FILE.pth or snapshot:FILE.")
@click.option("--duration", default=None, metavar="DURATION", help="The duration first shown (90s, 30min, 1h).")
@click.option("--seed", default=None, metavar="N", help="The seed first shown (blank: fresh entropy each run).")
@click.option("--models", "model_dirs", multiple=True, metavar="DIR",
              help="Another folder to look for learned markets (.toml, .pth) and snapshot files in, besides the "
                   "working directory and $LOBKIT_MODELS; repeatable.")
@click.option("--out", default="runs/gui", show_default=True, metavar="DIR",
              help="Where exported runs, figures and sweeps go.")
@click.option("--dark/--light", default=None, help="Colour mode [default: the one chosen last time].")
def gui_cmd(agent, flow, initial_book, duration, seed, model_dirs, out, dark):
    """Open the Algo-Gym: one live run at a time, watched and steered (Start, Pause, Step, Stop), its blotter,
    depth ladder, PnL, results, a table of runs with their baselines and sweeps, light and dark mode.
    Needs a display (on a server: xvfb-run lobkit gui)."""
    from lobkit import api

    values = {k: v for k, v in (("flow", flow), ("initial_book", initial_book), ("duration", duration),
                                ("seed", seed)) if v is not None}
    api.gui(agent=agent, values=values, model_dirs=list(model_dirs) or None, out=out, dark=dark)


def register(group: click.Group) -> None:
    """Add ``gui`` to the ``lobkit`` group."""
    group.add_command(gui_cmd)
