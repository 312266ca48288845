"""``lobkit demo``: the main job on the embedded default (see :mod:`lobkit.demo`); ``--engine-only`` runs just
the engine step: a synthetic order stream, the top of the book and the throughput."""

from __future__ import annotations

from pathlib import Path

import click


def _table(l2, tick_size: float) -> str:
    bids, asks = l2.bids, l2.asks
    lines = [f"{'orders':>7} {'bid size':>9} {'bid':>10} | {'ask':<10} {'ask size':<9} {'orders':<7}"]
    for i in range(max(len(bids), len(asks))):
        left = (
            f"{bids['orders'][i]:>7} {bids['size'][i]:>9} {bids['price'][i] * tick_size:>10.2f}"
            if i < len(bids)
            else " " * 28
        )
        right = ""
        if i < len(asks):
            right = f"{asks['price'][i] * tick_size:<10.2f} {asks['size'][i]:<9} {asks['orders'][i]:<7}"
        lines.append(f"{left} | {right}")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    """Add the engine's commands to the ``lobkit`` group."""

    @group.command("demo")
    @click.option("--engine-only", is_flag=True, help="Only the engine's demo: a synthetic stream through the book.")
    @click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False),
                  help="Where every step's files, their records and report.html go.")
    @click.option("--db", default=None, type=click.Path(dir_okay=False),
                  help="The snapshot file [default: ./lob-btc.db, else lob-btc.db in $LOBKIT_DATA_DIR or "
                       "../shared/data, else a synthetic one written in OUT/data].")
    @click.option("--dsn", default=None, metavar="URL",
                  help="A postgresql:// URL: the snapshots are migrated into TimescaleDB (lob_snapshots) and read "
                       "back from there.")
    @click.option("--force", is_flag=True, help="Redo every step, even those whose inputs have not changed.")
    @click.option("--duration", default="30min", show_default=True,
                  help="Simulated time of the counterfactual's and the impulse response's runs.")
    @click.option("--repeats", default=8, show_default=True, type=click.IntRange(1, 10_000),
                  help="Seed pairs of the counterfactual.")
    @click.option("--wgan-steps", default=300, show_default=True, type=click.IntRange(1, 10_000_000),
                  help="Training steps of the WGAN (its small configuration).")
    @click.option("--nhp-epochs", default=20, show_default=True, type=click.IntRange(1, 100_000),
                  help="Training epochs of the neural Hawkes model.")
    @click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 1024), help="Workers of the sweep.")
    @click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars.")
    @click.option("--messages", "-n", default=1_000_000, show_default=True,
                  help="Messages in the synthetic stream (--engine-only).")
    @click.option(
        "--kind",
        type=click.Choice(["mix", "match"]),
        default="mix",
        show_default=True,
        help="--engine-only: mix: exchange-core style (82% modify-price, 9% limit, 3% IOC, 6% cancel); match: high "
             "match rate.",
    )
    @click.option("--seed", default=None, type=click.IntRange(0, 2**63 - 1),
                  help="Seed (numpy SeedSequence). [default: 0 engine-only, else 7]")
    @click.option("--depth", default=5, show_default=True, help="Levels of the book to print (--engine-only).")
    def demo(engine_only, out, db, dsn, force, duration, repeats, wgan_steps, nhp_epochs, jobs, progress, messages,
             kind, seed, depth) -> None:
        """The main job, on real data when found: snapshots (SQLite, or TimescaleDB with --dsn) -> a WGAN of the
        book's shape -> a neural Hawkes model of the order flow -> a momentum strategy against its do-nothing
        baseline, an impulse response and a sweep on the learned market -> the market's realism -> one HTML
        report (its path printed at the end). Steps whose inputs are unchanged are reused (--force redoes them).
        With --engine-only: a seeded synthetic order stream through the Numba order book and its throughput."""
        from lobkit.demo import DemoConfig, engine_demo, pipeline

        if not engine_only:
            cfg = DemoConfig(out=Path(out), db=None if db is None else Path(db), dsn=dsn, force=force,
                             seed=7 if seed is None else seed, duration=duration, repeats=repeats,
                             wgan_steps=wgan_steps, nhp_epochs=nhp_epochs, jobs=jobs, progress=progress)
            pipeline(cfg, echo=click.echo)
            return
        seed = 0 if seed is None else seed
        r = engine_demo(messages, kind, seed, depth)
        book = r["book"]
        click.echo(f"lobkit demo: {r['messages']:,} {kind} messages (seed {seed}), generated in "
                   f"{r['generate_seconds']:.2f} s")  # fmt: skip
        click.echo(_table(r["l2"], book.tick_size))

        def px(v):
            return "none" if v is None else f"{v:.4f}".rstrip("0").rstrip(".")

        click.echo(
            f"resting orders {len(book):,}; best bid {px(book.best_bid_px)}, best ask {px(book.best_ask_px)}, "
            f"mid {px(book.mid_px)}, spread {book.spread} ticks"
        )
        click.echo(f"fills {r['fills']:,} ({r['volume']:,} lots); {r['info']['trade_share']:.1%} of messages traded")
        click.echo(
            f"throughput: {r['messages_per_s'] / 1e6:.1f} million messages/s "
            f"({r['apply_seconds'] * 1e3:.1f} ms in one jitted batch, single-threaded)"
        )
