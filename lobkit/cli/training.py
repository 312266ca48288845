"""The learned models' commands: ``lobkit train-wgan``, ``lobkit generate``, ``lobkit eval-wgan``.

A thin layer over :mod:`lobkit.training`: every field of :class:`lobkit.training.wgan.WGANConfig` is an option
(``--steps``, ``--batch-size``, ...), with the dataclass's default; PyTorch is imported only when a command runs.
"""

from __future__ import annotations

import dataclasses
import json

import click

from lobkit.errors import ConfigError

_DATA_HELP = ("Snapshots to learn from: a lob-btc.db-style SQLite file, a LOBSTER zip, or a postgresql:// URL "
              "[default: the shared data's lob-btc.db].")
_FIELD_HELP = {
    "rows": "Price buckets of the image (a power of two; half below the mid, half above).",
    "bucket_ticks": "Ticks per price bucket.",
    "tick_size": "Currency per tick of the data.",
    "log_range": "Volumes kept down to exp(-log_range) of the book's largest.",
    "levels": "Levels a side read from each snapshot.",
    "proximity_buckets": "Decay length (buckets) of the image's proximity-to-the-nearest-level channel.",
    "gen_norm": "The generator's normalisation: pixel (the default), batch or none.",
    "ema": "Decay per step of the moving average of the generator's weights that generator.pth holds (0: none).",
    "split": "Held out for evaluation: blocks (every holdout-every-th block), time (the last part) or none.",
    "block_size": "Snapshots per block of the blocks split.",
    "holdout_every": "Every n-th block (or the last 1/n of the snapshots) is held out.",
    "z_dim": "Size of the generator's noise vector.",
    "gen_channels": "Channels of the generator's widest layer.",
    "critic_channels": "Channels of the critic's first layer.",
    "steps": "Generator steps.",
    "batch_size": "Images per batch.",
    "n_critic": "Critic steps per generator step.",
    "gp_lambda": "Weight of the gradient penalty.",
    "lr": "Adam's learning rate (both networks).",
    "beta1": "Adam's beta1.",
    "beta2": "Adam's beta2.",
    "snapshot_every": "Write real and generated images to training_snapshots/ every this many steps (0: never).",
}


def config_options(cls, helps: dict):
    """A decorator adding one option per field of the configuration dataclass ``cls`` (``--field-name``, default
    None: the dataclass's own default applies), with its help from ``helps`` and both defaults shown."""

    def deco(f):
        small = cls.small()
        for fld in reversed(dataclasses.fields(cls)):
            default = fld.default
            kind = {bool: bool, int: int, float: float}.get(type(default), str)
            f = click.option("--" + fld.name.replace("_", "-"), fld.name, type=kind, default=None,
                             help=f"{helps.get(fld.name, fld.name)} [default: {default}; --small: "
                                  f"{getattr(small, fld.name)}]")(f)
        return f

    return deco


def _config_options(f):
    from lobkit.training.config import WGANConfig

    return config_options(WGANConfig, _FIELD_HELP)(f)


def _data_options(f, data_help: str = _DATA_HELP):
    for o in reversed([
        click.option("--data", "data", default=None, metavar="SOURCE", help=data_help),
        click.option("--dsn", default=None, help="Read from TimescaleDB at this URL (postgresql://...) instead."),
        click.option("--table", default=None, help="The snapshot table, with --dsn [default: lob_snapshots]."),
    ]):
        f = o(f)
    return f


def _source(data, dsn, table):
    if data is not None and dsn is not None:
        raise ConfigError("give --data or --dsn, not both")
    if dsn is not None:
        return dsn, ({"table": table} if table else {})
    if table is not None:
        raise ConfigError("--table goes with --dsn")
    if data is None:
        from lobkit.paths import shared_data_dir

        data = str(shared_data_dir() / "lob-btc.db")
    return data, {}


def _seed(text):
    from lobkit.cli.sim import seed_from_cli

    return seed_from_cli(text)


@click.command("train-wgan")
@_data_options
@click.option("--out", default="runs/wgan", show_default=True, metavar="DIR",
              help="Where generator.pth, checkpoint.pth, training_snapshots/ and the plots go.")
@click.option("--small", is_flag=True, help="The demo's configuration (about a minute on two cores).")
@click.option("--resume", is_flag=True,
              help="Continue from OUT/checkpoint.pth exactly where it stopped (with its seed; --seed is ignored).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA when available, else the CPU.")
@click.option("--seed", default=None, metavar="N", help="Seed [default: fresh entropy, printed and recorded].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar with the losses.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
@_config_options
def train_wgan_cmd(data, dsn, table, out, small, resume, device, seed, progress, as_json, **fields):
    """Train the WGAN-GP that learns order-book shapes from real snapshots; writes OUT/generator.pth."""
    from lobkit.training.config import WGANConfig
    from lobkit.training.wgan_training import train_wgan

    spec, options = _source(data, dsn, table)
    given = {k: v for k, v in fields.items() if v is not None}
    cfg = WGANConfig.small(**given) if small else WGANConfig(**given)
    res = train_wgan(spec, cfg, out=out, seed=_seed(seed), device=device, resume=resume, progress=progress,
                     **options)
    doc = json.loads((res.out / "training.json").read_text())
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    skipped = sum(res.skipped.values())
    click.echo(f"trained {res.steps} steps on {res.n_train:,} snapshots of {res.source} ({res.n_held_out:,} held "
               f"out{f', {skipped} skipped' if skipped else ''}) in {res.seconds:.0f} s, seed {res.seed}")
    final = doc.get("final") or {}
    if final:
        click.echo(f"  final Wasserstein estimate {final['wasserstein']:.4f}, critic loss {final['loss_d']:.4f}")
    click.echo(f"wrote {res.generator_path} (and checkpoint.pth, losses.png, training_snapshots/)")


@click.command("generate")
@click.option("--model", required=True, metavar="PATH", help="A generator.pth of lobkit train-wgan.")
@click.option("--n", "n", default=1000, show_default=True, type=click.IntRange(1, 10_000_000), help="Books.")
@click.option("--seed", default=None, metavar="N", help="Seed [default: fresh entropy, printed].")
@click.option("--mid", type=float, default=None, help="Mid price of every book [default: drawn from the training "
                                                       "data's].")
@click.option("--scale", type=float, default=None, help="Largest level volume of every book [default: drawn from "
                                                         "the training data's].")
@click.option("--out", required=True, metavar="FILE", help="Parquet file of the books (lists of prices and "
                                                            "quantities a side, best first).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where the generator runs.")
def generate_cmd(model, n, seed, mid, scale, out, device):
    """Generate order books with a trained WGAN and write them as Parquet."""
    from lobkit.training.generate import books_frame
    from lobkit.training.wgan_training import load_generator

    m = load_generator(model, device=device)
    from lobkit.seeds import label, seed_sequence

    ss = seed_sequence(_seed(seed))
    books, two = m.generate(n, ss, mid=mid, scale=scale)
    frame = books_frame(books, two, m.config.tick_size)
    if frame.height == 0:
        raise ConfigError(f"none of the {n:,} generated books has both sides (an untrained model?): nothing written")
    from pathlib import Path

    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"--out {out}: cannot write it ({exc.strerror or exc})") from None
    click.echo(f"wrote {frame.height:,} books to {out} ({n - frame.height} had an empty side and were left out), "
               f"seed {label(ss)}")


@click.command("eval-wgan")
@click.option("--model", required=True, metavar="PATH", help="A generator.pth of lobkit train-wgan.")
@lambda f: _data_options(f, "Snapshots to evaluate on: a lob-btc.db-style SQLite file, a LOBSTER zip, or a "
                            "postgresql:// URL [default: the file the model was trained on].")
@click.option("--n", "n", default=None, type=click.IntRange(200, 10_000_000),
              help="Generated books [default: as many as held-out snapshots].")
@click.option("--seed", default="0", show_default=True, metavar="N", help="Seed of the generated books and tests.")
@click.option("--out", default=None, metavar="DIR", help="Write eval.json, eval.md and eval.png there.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_wgan_cmd(model, data, dsn, table, n, seed, out, as_json):
    """Compare generated books with held-out real snapshots: marginals, correlations, a classifier two-sample test,
    memorisation, against naive references."""
    from lobkit.training.evaluate import evaluate_wgan

    spec, options = (None, {}) if data is None and dsn is None else _source(data, dsn, table)
    res = evaluate_wgan(model, spec, n=n, seed=_seed(seed), out=out, **options)
    if as_json:
        from lobkit.training.evaluate import _jsonable

        click.echo(json.dumps(_jsonable(res.summary)))
        return
    click.echo(res.table_markdown())
    s = res.summary
    verdict = ", ".join(f"{k} {'met' if v else 'missed'}" for k, v in s["pass"].items())
    click.echo(f"\ntargets: {verdict}")
    if out:
        click.echo(f"wrote eval.json, eval.md, eval.png to {out}")


def register(group: click.Group) -> None:
    """Add ``train-wgan``, ``generate`` and ``eval-wgan`` to the ``lobkit`` group."""
    for cmd in (train_wgan_cmd, generate_cmd, eval_wgan_cmd):
        group.add_command(cmd)
