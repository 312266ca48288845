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
    @click.option("--engine-only", is_flag=True, help="Only the engine step: a synthetic stream through the book.")
    @click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False),
                  help="Where the run, compare and sweep outputs go.")
    @click.option("--db", default="lob-btc.db", show_default=True, type=click.Path(dir_okay=False),
                  help="SQLite snapshot file (the embedded default); written with synthetic data if missing.")
    @click.option("--duration", default="30min", show_default=True, help="Simulated time of the run and compare.")
    @click.option("--repeats", default=4, show_default=True, help="Seed pairs of the counterfactual.")
    @click.option("--jobs", default=2, show_default=True, help="Workers of the sweep.")
    @click.option("--messages", "-n", default=1_000_000, show_default=True, help="Messages in the synthetic stream.")
    @click.option(
        "--kind",
        type=click.Choice(["mix", "match"]),
        default="mix",
        show_default=True,
        help="mix: exchange-core style (82% modify-price, 9% limit, 3% IOC, 6% cancel); match: high match rate.",
    )
    @click.option("--seed", default=None, type=int, help="Seed (numpy SeedSequence). [default: 0 engine-only, else 7]")
    @click.option("--depth", default=5, show_default=True, help="Levels of the book to print (--engine-only).")
    def demo(engine_only, out, db, duration, repeats, jobs, messages, kind, seed, depth) -> None:
        """The main job on the embedded default: sample SQLite data -> Polars stream -> engine -> a momentum
        run -> its counterfactual -> a small sweep. With --engine-only: a seeded synthetic order stream through
        the Numba order book, the top of the book and the throughput."""
        from lobkit.demo import DemoConfig, engine_demo, pipeline

        if not engine_only:
            cfg = DemoConfig(out=Path(out), db=Path(db), seed=7 if seed is None else seed, duration=duration,
                             repeats=repeats, jobs=jobs, messages=messages)
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
