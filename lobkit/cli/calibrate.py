"""The calibration command: ``lobkit calibrate``.

A thin layer over :mod:`lobkit.training.calibrate`: reads an event stream (as ``train-nhp`` does), fits the parametric
flow to it and writes the calibrated market (``--flow calibrated:market.toml``).
"""

from __future__ import annotations

from pathlib import Path

import click

from lobkit.cli.training import _seed

_CAL_SOURCES = ("lobster", "bitstamp", "snapshots", "events")
_DEFAULT_TICK = 0.01  # the tick of the shared data (Bitstamp USD, LOBSTER NASDAQ): the loaders' distances use it


def _default_book(source: str, path: str | None) -> str | None:
    """The snapshot source that goes with an event source: a LOBSTER zip holds its own book, snapshots are their
    own, the Bitstamp capture's book is the shared lob-btc.db (when it is there); an events file has none."""
    if source in ("lobster", "snapshots"):
        return path
    if source == "bitstamp":
        from lobkit.paths import shared_data_dir

        db = shared_data_dir() / "lob-btc.db"
        return str(db) if db.is_file() else None
    return None


@click.command("calibrate")
@click.option("--source", required=True, type=click.Choice(list(_CAL_SOURCES)),
              help="lobster: a LOBSTER zip (its book is the zip's orderbook file); bitstamp: the Bitstamp websocket "
                   "capture (.log.xz; its book: the shared lob-btc.db); snapshots: events inferred between "
                   "consecutive snapshots of any snapshot source (lob-btc.db, a LOBSTER zip, a postgresql:// URL); "
                   "events: a Parquet/CSV/NPZ file with time (s), type, distance (ticks) and size columns.")
@click.argument("path", metavar="PATH")
@click.option("--book", default=None, metavar="SOURCE",
              help="Snapshots of the same market (depth for the cancellation rate, spread, initial mid, and the "
                   "simulated moments) [default: the LOBSTER zip itself, the snapshots themselves, lob-btc.db for "
                   "bitstamp; none for events].")
@click.option("--tick-size", type=float, default=None,
              help=f"Currency per tick of the data [default: {_DEFAULT_TICK}; required for --source events].")
@click.option("--lot-size", type=float, default=None,
              help="Data units (shares, BTC) per lot [default: the power of ten that makes the median market order "
                   "10 to 99 lots].")
@click.option("--initial-mid", type=float, default=None,
              help="The data's first mid (currency) [default: the book's; required without a book].")
@click.option("--spread-ticks", type=float, default=None,
              help="The data's mean spread in ticks [default: the book's; required without a book].")
@click.option("--out", default="market.toml", show_default=True, metavar="FILE", help="The calibration file.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("--seed", default=None, metavar="N",
              help="Seed of the moment simulations [default: fresh entropy, printed and recorded].")
@click.option("--quick", is_flag=True, help="Skip the simulated-moment stage (efficient-price share and impact keep "
                                            "their defaults, the limit-order depth its distance-based value, the "
                                            "refill boost its rule).")
@click.option("--evals", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Evaluations the moment search runs (each pools about 20 simulated hours).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def calibrate_cmd(source, path, book, tick_size, lot_size, initial_mid, spread_ticks, out, force, seed, quick, evals,
                  progress):
    """Fit the parametric Hawkes flow (rates, excitation, distances, sizes, cancellations) and the market's tick
    and lot size to the event stream at PATH; writes OUT, to run as --flow calibrated:OUT."""
    from lobkit.errors import ConfigError
    from lobkit.training.calibrate import calibrate, summary_rows, write_calibration
    from lobkit.training.events import load_events

    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"out: {target} is a directory; give a file name (market.toml)")
    if target.exists() and not force:
        raise ConfigError(f"out: {target} exists (--force replaces it)")
    if tick_size is None:
        if source == "events":
            raise ConfigError("tick-size: give the data's currency per tick (--tick-size) for --source events")
        tick_size = _DEFAULT_TICK
    if book is None:
        book = _default_book(source, path)
    options = {"tick_size": tick_size} if source == "snapshots" else {}
    stream = load_events(source, path, **options)
    cal = calibrate(stream, tick_size=tick_size, lot_size=lot_size, book=book, seed=_seed(seed),
                    initial_mid=initial_mid, spread_ticks=spread_ticks, moments=not quick, moment_evals=evals,
                    progress=progress)
    written = write_calibration(cal, target)
    fit = cal.fit
    click.echo(f"calibrated on {fit['n_events']:,} events of {fit['source']} ({fit['duration_s'] / 3600:.2f} h) in "
               f"{fit['seconds']:.0f} s, seed {fit['seed']}")
    click.echo(f"{'field':<30}{'value':>16}{'std. error':>14}")
    for name, value, se in summary_rows(cal):
        v = f"{value:.6g}" if isinstance(value, float) else str(value)
        click.echo(f"{name:<30}{v:>16}{'' if se is None else f'{se:.3g}':>14}")
    mom = fit.get("moments", {})
    if "objective" in mom:
        click.echo(f"simulated moments ({mom['evaluations']} evaluations of {mom['runs']} runs, "
                   f"{mom['duration_s'] / 3600:.2f} h each): loss {mom['loss']:.3g}")
        click.echo(f"{'moment':<30}{'data':>12}{'simulated':>12}{'z':>8}")
        r, s, z = mom.get("real", {}), mom.get("simulated", {}), mom.get("z", {})
        for name in [*mom["objective"], "spread_q50", "spread_q90"]:
            data = "" if name not in r else f"{r[name]:.4g}"
            sim = "" if name not in s else f"{s[name]:.4g}"
            zz = "" if name not in z else f"{z[name]:+.2f}"
            click.echo(f"{name:<30}{data:>12}{sim:>12}{zz:>8}")
    for w in fit.get("warnings", []):
        click.echo(f"note: {w}")
    click.echo(f"wrote {written}")


def register(group: click.Group) -> None:
    """Add ``calibrate`` to the ``lobkit`` group."""
    group.add_command(calibrate_cmd)
