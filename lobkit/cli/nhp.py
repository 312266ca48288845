"""The neural Hawkes process's commands: ``lobkit train-nhp``, ``lobkit eval-nhp``.

A thin layer over :mod:`lobkit.training.nhp_training`: every field of :class:`lobkit.training.nhp.NHPConfig` is an
option, with the dataclass's default; PyTorch is imported only when a command runs.
"""

from __future__ import annotations

import json

import click

from lobkit.cli.training import _seed, config_options
from lobkit.training.events import SOURCES as _SOURCES  # numpy only: no PyTorch at import

# ------------------------------------------------------------------------------------------------ neural Hawkes
_NHP_HELP = {
    "n_types": "Event types of the model (6: the simulator's; the oracle has 3).",
    "hidden": "Size of the GRU state.",
    "embed": "Size of the event-type embedding.",
    "n_decays": "Exponentials per type in the intensity.",
    "max_distance": "Categories of the distance mark (ticks from the best; the last holds the rest).",
    "window": "Events per training window.",
    "batch_size": "Windows per step.",
    "epochs": "Passes over the training windows.",
    "lr": "Adam's learning rate.",
    "mark_weight": "Weight of the marks' negative log-likelihood in the loss (0: marks not learned).",
    "split": "Fraction of the stream's time used for training; the rest is held out.",
    "max_seconds": "Stop training after this many seconds (0: no limit).",
}


def _nhp_options(f):
    from lobkit.training.config import NHPConfig

    return config_options(NHPConfig, _NHP_HELP)(f)


def _events(source, path, oracle_seed, generate_seed=None):
    from lobkit.errors import ConfigError
    from lobkit.training.events import load_events

    if source == "oracle":
        if path is not None:
            raise ConfigError("--source oracle takes no PATH (it is simulated)")
        return load_events("oracle", seed=oracle_seed)
    if source == "synthetic":
        return load_events("synthetic", path, seed=generate_seed)
    return load_events(source, path)


_ORACLE_SEED = click.option("--oracle-seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                            help="Seed of the simulated oracle stream (--source oracle) and of the generated books "
                                 "(--source synthetic).")


@click.command("train-nhp")
@click.option("--source", required=True, type=click.Choice(list(_SOURCES)),
              help="lobster: a LOBSTER zip; bitstamp: the Bitstamp websocket capture (.log.xz); snapshots: events "
                   "inferred between consecutive snapshots of any snapshot source (lob-btc.db, a LOBSTER zip, a "
                   "postgresql:// URL); synthetic: events inferred from books drawn from a generator.pth; events: a "
                   "Parquet/CSV/NPZ file with time (s) and type columns; oracle: the simulated 3-type Hawkes process "
                   "of the oracle check.")
@click.argument("path", required=False, metavar="[PATH]")
@click.option("--out", default="runs/nhp", show_default=True, metavar="DIR",
              help="Where nhp_background_trader.pth and training.json go.")
@click.option("--small", is_flag=True, help="The demo's configuration.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA when available, else the CPU.")
@click.option("--seed", default=None, metavar="N", help="Seed [default: fresh entropy, printed and recorded].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@click.option("--tick-size", type=click.FloatRange(0, min_open=True), default=None,
              help="Currency per tick of the data, recorded for the simulator (--flow nhp:...) [default: 0.01].")
@click.option("--lot-size", type=click.FloatRange(0, min_open=True), default=None,
              help="The data's size units per simulator lot, recorded for --flow nhp:... [default: 0.01 for "
                   "bitstamp (BTC), 1 for the others].")
@_ORACLE_SEED
@_nhp_options
def train_nhp_cmd(source, path, out, small, device, seed, progress, as_json, oracle_seed, tick_size, lot_size,
                  **fields):
    """Train the neural Hawkes process on the event stream at PATH (none for --source oracle); writes
    OUT/nhp_background_trader.pth."""
    from lobkit.training.config import NHPConfig
    from lobkit.training.nhp_training import train_nhp

    stream = _events(source, path, oracle_seed, oracle_seed)
    given = {k: v for k, v in fields.items() if v is not None}
    given.setdefault("n_types", stream.n_types)
    cfg = NHPConfig.small(**given) if small else NHPConfig(**given)
    market = {"tick_size": tick_size or 0.01, "lot_size": lot_size or (0.01 if source == "bitstamp" else 1.0)}
    res = train_nhp(stream, cfg, out=out, seed=_seed(seed), device=device, progress=progress, market=market)
    doc = json.loads((res.out / "training.json").read_text())
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    cut = f" of {cfg.epochs} (stopped by --max-seconds)" if res.epochs < cfg.epochs else ""
    click.echo(f"trained {res.epochs}{cut} epoch{'s' if cfg.epochs > 1 else ''} on {res.n_train_events:,} events of "
               f"{stream.source} in "
               f"{res.seconds:.0f} s ({res.events_per_s:,.0f} events/s), seed {res.seed}; final training "
               f"log-likelihood {res.history[-1]['train_ll_per_event']:.4f} per event")
    click.echo(f"wrote {res.model_path}")


@click.command("eval-nhp")
@click.option("--model", required=True, metavar="PATH", help="An nhp_background_trader.pth of lobkit train-nhp.")
@click.option("--source", required=True, type=click.Choice(list(_SOURCES)),
              help="The event stream's kind (as for train-nhp).")
@click.argument("path", required=False, metavar="[PATH]")
@click.option("--split", type=float, default=None, help="Fraction of the time before the held-out part "
                                                         "[default: the model's].")
@_ORACLE_SEED
@click.option("--out", default=None, metavar="DIR", help="Also write eval.json there.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_nhp_cmd(model, source, path, split, oracle_seed, out, as_json):
    """Held-out log-likelihood, next-time RMSE, type accuracy and a time-rescaling test of a trained neural Hawkes
    process on the event stream at PATH (none for --source oracle), next to Poisson and parametric Hawkes
    baselines."""
    from lobkit.training.nhp_training import evaluate_nhp

    truth = None
    if source == "oracle":
        from lobkit.training.hawkes import SumExpHawkes

        truth = SumExpHawkes.oracle()
    res = evaluate_nhp(model, _events(source, path, oracle_seed, oracle_seed), split, out=out, truth=truth)
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"held-out log-likelihood per event: model {res['test_ll_per_event']:.4f}, Poisson "
               f"{res['poisson_test_ll_per_event']:.4f}, parametric Hawkes {res['hawkes_test_ll_per_event']:.4f}")
    if "true_test_ll_per_event" in res:
        click.echo(f"the true model: {res['true_test_ll_per_event']:.4f} per event ({res['gap_to_truth']:.2%} off)")
    click.echo(f"next type accuracy {res['type_accuracy']:.3f} (majority {res['majority_type_accuracy']:.3f}); "
               f"next time RMSE {res['time_rmse']:.4g} s; time-rescaling KS p-value {res['ks_pvalue']:.3g}")


def register(group: click.Group) -> None:
    """Add ``train-nhp`` and ``eval-nhp`` to the ``lobkit`` group."""
    for cmd in (train_nhp_cmd, eval_nhp_cmd):
        group.add_command(cmd)
