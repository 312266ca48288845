"""Simulator commands: ``lobkit run`` (one run) and ``lobkit compare`` (counterfactual on common random numbers).

The market and agent options are defined once, in :func:`market_agent_options`, and turned into a
:class:`~lobkit.sim.config.RunConfig` by :func:`config_from_options`; ``lobkit sweep`` reuses both.
"""

from __future__ import annotations

import functools
import json

import click

from lobkit.errors import ConfigError

_DUR = "a duration: 90s, 30min, 1h, 250ms"


def market_agent_options(f):
    """Decorator adding the shared market and agent options (``--agent``, ``--short``, ``--long``, ``--size``,
    ``--max-position``, ``--interval``, ``--order-type``, ``--limit-offset``, ``--fee-per-lot``, ``--fee-bps``,
    ``--duration``, ``--warmup``, ``--sample``, ``--tick-size``, ``--initial-mid``, ``--snapshot``,
    ``--market KEY=VALUE``, ``--seed``). The command receives them as keyword arguments; pass them all to
    :func:`config_from_options` (extra keys are ignored)."""
    opts = [
        click.option("--agent", default="momentum", show_default=True,
                     help="Strategic agent: momentum, null or strategic."),
        click.option("--short", default=5, show_default=True, type=int, help="Short moving-average window (samples)."),
        click.option("--long", "long_", default=20, show_default=True, type=int,
                     help="Long moving-average window (samples)."),
        click.option("--size", default=1, show_default=True, type=int, help="Order size / target position (lots)."),
        click.option("--max-position", default=None, type=int, help="Largest |position| in lots [default: size]."),
        click.option("--interval", default="1s", show_default=True, help=f"Decision interval ({_DUR})."),
        click.option("--order-type", default="market", show_default=True, help="market or limit (marketable)."),
        click.option("--limit-offset", default=0, show_default=True, type=int,
                     help="Ticks through the touch for marketable limit orders."),
        click.option("--fee-per-lot", default=0.0, show_default=True, type=float, help="Fee per lot traded."),
        click.option("--fee-bps", default=0.0, show_default=True, type=float, help="Fee in bps of notional."),
        click.option("--duration", default="1h", show_default=True, help=f"Simulated time, warm-up included ({_DUR})."),
        click.option("--warmup", default="5min", show_default=True, help=f"Warm-up before the agent starts ({_DUR})."),
        click.option("--sample", default="1s", show_default=True, help=f"Sampling grid of mid and PnL ({_DUR})."),
        click.option("--tick-size", default=0.01, show_default=True, type=float, help="Currency per tick."),
        click.option("--initial-mid", default=100.0, show_default=True, type=float, help="Initial mid price."),
        click.option("--snapshot", default=None, type=click.Path(dir_okay=False),
                     help="lob-btc.db-style SQLite file: its first snapshot is the initial book."),
        click.option("--market", "market_set", multiple=True, metavar="KEY=VALUE",
                     help="Any other MarketConfig field, e.g. --market limit_rate=25 (repeatable)."),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed (split with SeedSequence)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _coerce(name: str, value: str, current):
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ConfigError(f"--market {name}: expected true or false, got {value!r}")
    try:
        if isinstance(current, int) or name.endswith("_ns"):
            if name.endswith("_ns"):
                from lobkit.sim.config import parse_duration

                return parse_duration(value, name)
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise ConfigError(f"--market {name}: expected a {type(current).__name__}, got {value!r}") from None
    return value


def config_from_options(record: bool = False, **o):
    """The :class:`~lobkit.sim.config.RunConfig` of the options of :func:`market_agent_options`."""
    from dataclasses import fields

    from lobkit.sim.config import AgentConfig, MarketConfig, RunConfig, parse_duration

    mk = dict(
        duration_ns=parse_duration(o.get("duration", "1h"), "--duration"),
        warmup_ns=parse_duration(o.get("warmup", "5min"), "--warmup"),
        sample_ns=parse_duration(o.get("sample", "1s"), "--sample"),
        tick_size=o.get("tick_size", 0.01),
        initial_mid=o.get("initial_mid", 100.0),
        snapshot=o.get("snapshot"),
    )
    defaults = {f.name: f.default for f in fields(MarketConfig)}
    for item in o.get("market_set", ()) or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--market: expected KEY=VALUE, got {item!r}")
        if key not in defaults:
            raise ConfigError(f"--market: unknown field {key!r}; fields are {', '.join(defaults)}")
        mk[key] = _coerce(key, value.strip(), defaults[key])
    agent = AgentConfig(
        name=o.get("agent", "momentum"),
        size=o.get("size", 1),
        max_position=o.get("max_position"),
        interval_ns=parse_duration(o.get("interval", "1s"), "--interval"),
        short=o.get("short", 5),
        long=o.get("long_", o.get("long", 20)),
        order_type=o.get("order_type", "market"),
        limit_offset=o.get("limit_offset", 0),
        fee_per_lot=o.get("fee_per_lot", 0.0),
        fee_bps=o.get("fee_bps", 0.0),
    )
    return RunConfig(market=MarketConfig(**mk), agent=agent, record=record)


def _clear_errors(fn):
    """Turn lobkit's errors into click usage errors: one clear line, exit code 2, whatever group runs us."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None

    return wrapper


def _echo_summary(d: dict, keys) -> None:
    for k in keys:
        if k in d:
            v = d[k]
            click.echo(f"  {k:<22} {v:.6g}" if isinstance(v, float) else f"  {k:<22} {v}")


@click.command("run")
@market_agent_options
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--no-record", is_flag=True, help="Keep only the sampling grid (no orders/trades Parquet).")
@click.option("--python-agent", is_flag=True, help="Run the built-in agent's Python form (slow path).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_clear_errors
def run_cmd(out, no_record, python_agent, progress, as_json, **opts):
    """One simulation: writes orders/trades Parquet, the agent's PnL, summary.json and pnl.png to OUT."""
    from lobkit.sim.output import write_run
    from lobkit.sim.runner import simulate

    cfg = config_from_options(record=not no_record, **opts)
    res = simulate(cfg, opts["seed"], jit=not python_agent, progress=progress)
    paths = write_run(res, out)
    if as_json:
        click.echo(json.dumps(res.summary, indent=2))
        return
    click.echo(f"{cfg.agent.name} agent, seed {opts['seed']}: {res.summary['n_events_total']:,} events in "
               f"{res.wall_seconds:.2f} s wall")
    _echo_summary(res.summary, ["final_pnl", "n_trades", "final_position", "max_drawdown", "sharpe", "fees",
                                "mean_spread", "realised_vol", "volume", "n_events"])
    click.echo(f"wrote {', '.join(p.name for p in paths.values())} to {out}")


@click.command("compare")
@market_agent_options
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--repeats", default=1, show_default=True, type=int, help="Seed pairs (means with 95% CIs).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_clear_errors
def compare_cmd(out, repeats, progress, as_json, **opts):
    """Counterfactual: baseline (null agent) vs the agent on common random numbers; writes compare.json and
    compare.png to OUT."""
    from lobkit.sim.output import write_compare
    from lobkit.sim.runner import compare

    if repeats < 1:
        raise ConfigError(f"--repeats: must be >= 1, got {repeats}")
    cfg = config_from_options(record=False, **opts)
    res = compare(cfg, opts["seed"], repeats=repeats, progress=progress)
    write_compare(res, out)
    if as_json:
        click.echo(json.dumps(res.summary, indent=2))
        return
    s = res.summary
    tick = cfg.market.tick_size

    def ci(name, scale=1.0):
        mu = s[f"{name}_mean"] / scale
        if repeats > 1:
            return f"{mu:+.4g}  [95% CI {s[f'{name}_ci_low'] / scale:+.4g}, {s[f'{name}_ci_high'] / scale:+.4g}]"
        return f"{mu:+.4g}"

    click.echo(f"{cfg.agent.name} vs null, {repeats} seed pair(s) from seed {opts['seed']}:")
    click.echo(f"  strategy PnL           {ci('pnl')}")
    click.echo(f"  mid diff (ticks)       {ci('mid_diff_mean', tick)}  (mean |diff| {ci('mid_diff_abs_mean', tick)})")
    click.echo(f"  spread diff (ticks)    {ci('spread_diff', tick)}")
    click.echo(f"  volume diff (lots)     {ci('volume_diff')}")
    click.echo(f"wrote compare.json, pairs.parquet, compare.png to {out}")


def register(group: click.Group) -> None:
    """Add ``run`` and ``compare`` to the ``lobkit`` group."""
    group.add_command(run_cmd)
    group.add_command(compare_cmd)
