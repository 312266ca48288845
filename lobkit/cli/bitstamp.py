"""``lobkit bitstamp check`` and ``lobkit bitstamp import``: the Bitstamp websocket capture behind lob-btc.db.

A thin layer over :mod:`lobkit.data.bitstamp`: the book rebuilt from the order events, compared with the captured
snapshots, or written every ``--every`` as a snapshot file in the lob-btc.db schema.
"""

from __future__ import annotations

import json

import click


@click.group("bitstamp")
def bitstamp() -> None:
    """The Bitstamp websocket capture: rebuild the book from its order events, check it, import it."""


def _every_ms(text: str) -> int:
    from lobkit.sim.config import parse_duration

    return int(round(parse_duration(text, "--every") / 1e6))


@bitstamp.command("check")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--offset", "offsets", default="0", show_default=True, metavar="MS[,MS...]",
              help="Milliseconds added to each snapshot's time before comparing (several: the best is shown first).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per offset.")
def check_cmd(log, offsets, as_json):
    """Rebuild the book of the capture LOG from its order events (seeded from its first snapshot) and compare it with
    every captured snapshot: the share matching exactly at the touch, at 5 and at 20 levels; then, between each pair
    of consecutive snapshots, the book's change at each price against the net of the real order events there."""
    from lobkit.data.bitstamp import best_offset, flow_check, read_capture
    from lobkit.errors import ConfigError

    try:
        cands = tuple(int(x) for x in offsets.split(","))
    except ValueError:
        raise ConfigError(f"--offset: integers (ms) separated by commas, got {offsets!r}") from None
    cap = read_capture(log)
    for c in best_offset(cap, cands):
        doc = {"offset_ms": c.offset_ms, "snapshots": c.snapshots, "touch": c.touch, "top5": c.top5,
               "top20": c.top20, "crossed": c.crossed}
        if as_json:
            click.echo(json.dumps(doc))
        else:
            click.echo(f"offset {c.offset_ms:+d} ms: {c.snapshots:,} snapshots, matching at the touch {c.touch:.2%}, "
                       f"5 levels {c.top5:.2%}, 20 levels {c.top20:.2%}")
    f = flow_check(cap)
    if as_json:
        click.echo(json.dumps({"net_flow_per_level": f}))
    else:
        click.echo(f"net flow per level between consecutive snapshots: the book's change equals the real events' "
                   f"net in {f['agree']:.2%} of {f['cells']:,} changed price cells ({f['unknown']:.2%} cannot be "
                   f"told); the real events move {f['gross_over_net']:.1f}x the volume the snapshots show")


@bitstamp.command("import")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--out", required=True, metavar="FILE.db", help="The SQLite file to write (lob-btc.db schema).")
@click.option("--every", default="1s", show_default=True, help="Time between snapshots (1s, 500ms, 1min, ...).")
@click.option("--levels", type=click.IntRange(1, 1000), default=20, show_default=True, help="Levels a side.")
@click.option("--force", is_flag=True, help="Replace FILE.db if it exists.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def import_cmd(log, out, every, levels, force, progress):
    """Write the book rebuilt from the order events of the capture LOG every --every as snapshots in the lob-btc.db
    schema: many more training books than the captured ones."""
    from lobkit.data.bitstamp import import_capture

    n = import_capture(log, out, _every_ms(every), levels=levels, overwrite=force, progress=progress)
    click.echo(f"wrote {n:,} snapshots to {out}")


def register(group: click.Group) -> None:
    """Add ``bitstamp`` (check, import) to the ``lobkit`` group."""
    group.add_command(bitstamp)
