"""``lobkit lobster replay``: replay a LOBSTER file through the engine and check it row by row.

A thin layer: the file is read by :func:`lobkit.data.lobster.read_lobster` (the one LOBSTER reader, also
behind ``lobkit lobster import``) and replayed by :func:`lobkit.engine.lobster.replay`. Bad input raises
``InputFormatError``, which the ``lobkit`` group prints on one line (exit code 2). A mismatching row under
``--check`` exits with code 1.
"""

from __future__ import annotations

import json
import sys

import click


@click.group("lobster")
def lobster() -> None:
    """LOBSTER files: replay and check, import."""


def _fmt_levels(levels) -> str:
    return " ".join(f"{p / 10000:.4f}x{v}" for p, v in levels) or "-"


@lobster.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Compare the engine's top levels with every orderbook row.")
@click.option("--levels", type=click.IntRange(1, 10_000), default=None,
              help="Levels to compare (default: all L of the file).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--show", type=click.IntRange(0, 10_000), default=5, show_default=True,
              help="Mismatching rows to print.")
def replay_cmd(file, check, levels, as_json, show):
    """Replay a LOBSTER message FILE (a sample zip, or a message csv with its orderbook csv beside it).

    The book starts from orderbook row 0; levels coming into view from deeper down take their size from the
    orderbook row (placeholders of unknown ids, counted as levels_seeded). With --check every row is compared
    and the exit code is 1 if any row differs.
    """
    from lobkit.data.lobster import read_lobster
    from lobkit.engine.lobster import replay

    r = replay(read_lobster(file), check=check, levels=levels, max_mismatches=max(show, 1))
    if as_json:
        click.echo(json.dumps(r.to_dict()))
    else:
        click.echo(f"{r.source}: {r.ticker or '?'} L={r.levels}, tick {r.tick} (x 1/10000 $)")
        click.echo(f"  messages          {r.messages:>12,}")
        if check:
            pct = 100.0 * r.rows_matched / r.rows_checked if r.rows_checked else 100.0
            click.echo(f"  rows matched      {r.rows_matched:>12,} / {r.rows_checked:,} ({pct:.3f}%, top "
                       f"{r.levels_checked} levels)")
        click.echo(f"  levels seeded     {r.levels_seeded:>12,}   (entering the window, no message showed them)")
        click.echo(f"  levels reconciled {r.levels_reconciled:>12,}   (stale on entry: re-based or removed)")
        click.echo(f"  placeholder hits  {r.placeholder_hits:>12,}   (cancels/executions of ids from out of view)")
        click.echo(f"  hidden executions {r.hidden_executions:>12,}   cross trades {r.cross_trades:,}   halts "
                   f"{len(r.halts)}")
        if r.unapplied or r.unresolved:
            click.echo(f"  unapplied {r.unapplied:,}   unresolved {r.unresolved:,}")
        click.echo(f"  replay            {r.seconds * 1e3:>12.2f} ms   {r.messages_per_s / 1e6:.2f} M messages/s"
                   f"{' (check included)' if check else ''}")
        for m in r.mismatches[:show]:
            t, typ, oid, size, price, side = m.message
            px = "-" if price is None else f"{price / 10000:.4f}"
            click.echo(f"  mismatch at line {m.line} (type {typ} id {oid} size {size} price {px} dir {side}):")
            click.echo(f"    engine bids {_fmt_levels(m.engine_bids)} | asks {_fmt_levels(m.engine_asks)}")
            click.echo(f"    file   bids {_fmt_levels(m.file_bids)} | asks {_fmt_levels(m.file_asks)}")
    if check and not r.ok:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add ``lobster replay`` to the ``lobkit`` group, reusing a ``lobster`` group another module created."""
    existing = group.commands.get("lobster")
    if existing is None:
        group.add_command(lobster)
    elif isinstance(existing, click.Group):
        existing.add_command(replay_cmd)
