"""``lobkit eval-market``: the realism report of a simulated market against real data (a thin layer over
:func:`lobkit.api.eval_market`)."""

from __future__ import annotations

import json

import click

from lobkit.cli.sim import _int_option, agent_options, market_options, options_from_cli, seed_from_cli


@click.command("eval-market")
@market_options
@agent_options
@click.option("--against", required=True, metavar="DATA",
              help="The real data: lob-btc.db (with the Bitstamp capture it was recorded from, when found) or a "
                   "LOBSTER zip (with its messages).")
@click.option("--runs", default="3", show_default=True, metavar="N",
              help="Simulations (seeds split from --seed), each as long as the real data after its warm-up.")
@click.option("--levels", default=None, metavar="L",
              help="Book levels a side compared [default: as many as the data has, at most 20].")
@click.option("--replicates", default="200", show_default=True, metavar="N",
              help="Block-bootstrap replicates of the real data (its 95% intervals and noise floor).")
@click.option("--out", default=None, metavar="DIR", help="Write realism.md, realism.json and realism.png there.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def eval_market_cmd(against, runs, levels, replicates, out, progress, as_json, seed, **kw):
    """Simulate the market (--flow, --initial-book, any option; agent: null unless given) for as many hours as
    the real data covers, several seeds, and set its stylised facts beside the real data's: spread distribution,
    volume by level, kurtosis and autocorrelations of 1- and 5-minute returns, inter-event times, event mix,
    signature plot, with bootstrap intervals and the targets met or missed."""
    from lobkit import api

    options = options_from_cli(kw)
    options.setdefault("agent", "null")
    n_levels = None if levels is None else _int_option("--levels", levels)
    rep = api.eval_market(against=against, runs=_int_option("--runs", runs), seed=seed_from_cli(seed),
                          levels=n_levels, replicates=_int_option("--replicates", replicates),
                          out=out, progress=progress and not as_json, **options)
    if as_json:
        click.echo(json.dumps(rep.data, indent=2))
        return
    click.echo(rep.markdown())
    if out is not None:
        click.echo(f"wrote realism.md, realism.json, realism.png to {out}")


def register(group: click.Group) -> None:
    """Add ``eval-market`` to the ``lobkit`` group."""
    group.add_command(eval_market_cmd)
