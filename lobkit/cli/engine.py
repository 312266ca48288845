"""``lobkit demo``: a synthetic order stream through the engine; prints the top of the book and the throughput."""

from __future__ import annotations

import time

import click

from lobkit.errors import ConfigError


def run_demo(messages: int = 1_000_000, kind: str = "mix", seed: int = 0, depth: int = 5) -> dict:
    """Generate a seeded synthetic stream, apply it to a fresh :class:`OrderBook` in one jitted batch, and
    return the timing, the fills and the top ``depth`` levels (the CLI and the GUI call this)."""
    from lobkit.engine import OrderBook
    from lobkit.engine.messages import FLOWS, synthetic_flow

    if kind not in FLOWS:
        raise ConfigError(f"kind must be one of {sorted(FLOWS)}, got {kind!r}")
    if messages < 1 or messages > 50_000_000:
        raise ConfigError(f"messages must be in [1, 50,000,000], got {messages}")
    if depth < 1:
        raise ConfigError(f"depth must be positive, got {depth}")
    t0 = time.perf_counter()
    msgs, info = synthetic_flow(messages, kind, seed)
    gen_s = time.perf_counter() - t0
    book = OrderBook(capacity=100_000, window=4096, center=100_000, tick_size=0.01, keep_fills=False)
    t0 = time.perf_counter()
    r = book.apply(msgs)
    apply_s = time.perf_counter() - t0
    return {
        "book": book,
        "messages": messages,
        "kind": kind,
        "seed": seed,
        "generate_seconds": gen_s,
        "apply_seconds": apply_s,
        "messages_per_s": messages / apply_s if apply_s > 0 else float("inf"),
        "fills": len(r.fills),
        "volume": int(r.fills["size"].sum()),
        "l2": book.l2(depth),
        "info": info,
    }


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
    @click.option("--messages", "-n", default=1_000_000, show_default=True, help="Messages in the synthetic stream.")
    @click.option(
        "--kind",
        type=click.Choice(["mix", "match"]),
        default="mix",
        show_default=True,
        help="mix: exchange-core style (82% modify-price, 9% limit, 3% IOC, 6% cancel); match: high match rate.",
    )
    @click.option("--seed", default=0, show_default=True, help="Seed of the stream (numpy SeedSequence).")
    @click.option("--depth", default=5, show_default=True, help="Levels of the book to print.")
    def demo(messages: int, kind: str, seed: int, depth: int) -> None:
        """Generate a seeded synthetic order stream, run it through the Numba order book, print the top of the
        book and the throughput."""
        r = run_demo(messages, kind, seed, depth)
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
