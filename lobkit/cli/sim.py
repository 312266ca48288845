"""Simulator commands: ``lobkit run``, ``lobkit compare``, ``lobkit impact`` and ``lobkit options``.

A thin layer over :mod:`lobkit.api`: every market, flow and agent option is an option of
:mod:`lobkit.sim.options` (the same names as the API's keywords and sweep grids), passed as text and read there;
the defaults are the configuration dataclasses' own. :func:`market_options` and :func:`agent_options` add them to
a command (``lobkit sweep`` reuses both) and :func:`options_from_cli` collects what was given.
"""

from __future__ import annotations

import json

import click

from lobkit.errors import ConfigError

_DURATION = "a duration: 90s, 30min, 1h, 250ms (a bare number is seconds)"

# dedicated options: (option name, help); the rest are reachable with --set NAME=VALUE
_MARKET = [
    ("duration", f"Simulated time, warm-up included ({_DURATION})."),
    ("warmup", f"Warm-up before the agent starts ({_DURATION})."),
    ("sample", f"Sampling grid of mid and PnL ({_DURATION})."),
    ("tick_size", "Currency per tick."),
    ("lot_size", "Currency units per lot (converts a snapshot's quantities to lots)."),
    ("initial_mid", "Initial mid price (currency) of a generated book."),
    ("initial_book", "The initial book: generated, snapshot:FILE (lob-btc.db-style SQLite, LOBSTER zip, "
                     "postgresql:// URL: its first snapshot) or wgan:generator.pth (a book drawn by a trained WGAN)."),
    ("snapshot", "Snapshot file: the same as --initial-book snapshot:FILE."),
]
_AGENT = [
    ("size", "Order size / target position (lots)."),
    ("max_position", "Largest |position| in lots."),
    ("interval", f"Decision interval ({_DURATION})."),
    ("fee_per_lot", "Fee per lot traded (currency)."),
    ("fee_bps", "Fee in basis points of the traded notional."),
]


def _default_of(name: str, cfg=None):
    from lobkit.sim.config import RunConfig, format_duration
    from lobkit.sim.options import resolve

    opt = resolve(cfg or RunConfig(), name)
    return format_duration(opt.default) if opt.duration else opt.default


def _opt(name: str, help_text: str, default_shown):
    flag = "--" + name.replace("_", "-")
    return click.option(flag, name, default=None, metavar=_metavar(name),
                        help=f"{help_text} [default: {default_shown}]")


def _metavar(name: str) -> str:
    return "DURATION" if name in ("duration", "warmup", "sample", "interval") else "VALUE"


def _agent_param_options() -> list[tuple[str, str, str]]:
    """Dedicated options for the built-in agents' own parameters: (name, help, default shown). A name two agents
    share with different types is left to --set."""
    import dataclasses

    from lobkit.agents import AGENTS, agent_class

    seen: dict[str, tuple[str, str, str, type]] = {}
    clash: set[str] = set()
    for agent in AGENTS.names():
        cls = agent_class(agent)
        if not cls.__module__.startswith("lobkit.") or not cls.cli_options:
            continue
        for f in dataclasses.fields(cls.Params):
            doc = f.metadata.get("help", f"The {agent} agent's {f.name.replace('_', ' ')}.")
            entry = (f.name, f"[{agent}] {doc}", str(f.default), type(f.default))
            if f.name in seen and seen[f.name][3] is not entry[3]:
                clash.add(f.name)
            elif f.name not in seen:
                seen[f.name] = entry
    return [(n, h, d) for n, (_, h, d, _t) in seen.items() if n not in clash]


def _set_option():
    return click.option("--set", "set_options", multiple=True, metavar="NAME=VALUE",
                        help="Any other option: a market, flow or agent field, e.g. --set limit_rate=25 --set "
                             "agent.short=3 (repeatable; `lobkit options` lists them).")


def _seed_option():
    return click.option("--seed", default=None, metavar="N",
                        help="Seed, a non-negative integer [default: fresh entropy, printed and recorded].")


def market_options(f):
    """Add the market and flow options, ``--set`` and ``--seed`` to a command (defaults: the dataclasses')."""
    opts = [click.option("--flow", "flow", default=None, metavar="NAME[:PATH]",
                         help="Order-flow model of the background market: hawkes (parametric), calibrated:market.toml "
                              "(fitted by lobkit calibrate), nhp:nhp_background_trader.pth (the learned neural Hawkes "
                              "flow of lobkit train-nhp) [default: hawkes].")]
    opts += [_opt(n, h, _default_of(n)) for n, h in _MARKET]
    opts += [_set_option(), _seed_option()]
    for o in reversed(opts):
        f = o(f)
    return f


def agent_options(f):
    """Add ``--agent``, the options every agent has and the built-in agents' own parameters to a command."""
    from lobkit.agents import agent_names

    opts = [click.option("--agent", "agent", default=None, metavar="NAME",
                         help=f"Strategic agent: {', '.join(agent_names())}, or package.module:Class "
                              "[default: momentum].")]
    opts += [_opt(n, h, _default_of(n) if n != "max_position" else "size") for n, h in _AGENT]
    opts += [_opt(n, h, d) for n, h, d in _agent_param_options()]
    for o in reversed(opts):
        f = o(f)
    return f


def options_from_cli(kwargs: dict) -> dict:
    """The options given on the command line (dedicated ones and ``--set NAME=VALUE``), as text, by name.
    Removes them from ``kwargs``; raises ConfigError for a malformed ``--set`` or a name given twice."""
    out: dict = {}
    for item in kwargs.pop("set_options", ()) or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set: expected NAME=VALUE, got {item!r}")
        if name in out and out[name] != value.strip():
            raise ConfigError(f"--set {name}: given twice ({out[name]!r} and {value.strip()!r})")
        out[name] = value.strip()
    dedicated = [n for n, _ in _MARKET] + [n for n, _ in _AGENT] + [n for n, _, _ in _agent_param_options()]
    for name in ["agent", "flow", *dedicated]:
        value = kwargs.pop(name, None)
        if value is None:
            continue
        if name in out and out[name] != value:
            raise ConfigError(f"{name}: given as --{name.replace('_', '-')} {value} and --set {name}={out[name]}")
        out[name] = value
    return out


def seed_from_cli(text: str | None):
    """``--seed``: None (fresh entropy) or a non-negative integer (any size)."""
    if text is None:
        return None
    t = text.strip()
    if not t.isdigit():
        raise ConfigError(f"--seed: expected a non-negative integer, got {text!r}")
    return int(t)


def _echo_summary(d: dict, keys) -> None:
    for k in keys:
        if k in d:
            v = d[k]
            click.echo(f"  {k:<24} {v:.6g}" if isinstance(v, float) else f"  {k:<24} {v}")


def _seed_note(given, label: str) -> str:
    return f"seed {label}" if given is not None else f"seed {label.split('/')[0]} (fresh; --seed repeats it)"


@click.command("run")
@agent_options
@market_options
@click.option("--out", required=True, metavar="DIR", help="Output directory (created if missing).")
@click.option("--no-record", is_flag=True, help="Keep only the sampling grid (no orders/trades Parquet).")
@click.option("--python-agent", is_flag=True, help="Run the built-in agent's Python form (slow path).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(out, no_record, python_agent, progress, as_json, seed, **kw):
    """One simulation: writes orders/trades Parquet, the agent's PnL, summary.json and pnl.png to OUT."""
    from lobkit import api

    given = seed_from_cli(seed)
    opts = options_from_cli(kw)
    if no_record:
        if opts.get("record", "false").strip().lower() not in ("0", "false", "no", "off"):
            raise ConfigError("record: --no-record and --set record=true contradict each other")
        opts["record"] = False
    res = api.run(seed=given, out=out, python_agent=python_agent, progress=progress, **opts)
    if as_json:
        click.echo(json.dumps({"seed": res.seed, **res.summary}, indent=2))
        return
    s = res.summary
    click.echo(f"{s['agent']} agent, {_seed_note(given, res.seed)}: {s['n_events_total']:,} events in "
               f"{res.wall_seconds:.2f} s wall")
    _echo_summary(s, ["final_pnl", "n_trades", "final_position", "max_drawdown", "sharpe", "fees", "rejected_orders",
                      "mean_spread", "realised_vol", "volume", "n_events"])
    for r in res.rejections[:3]:
        click.echo(f"  refused at t={r['t_s']:.3f} s: {r['order']} ({r['reason']})", err=True)
    click.echo(f"wrote the run to {out}")


@click.command("compare")
@agent_options
@market_options
@click.option("--out", required=True, metavar="DIR", help="Output directory (created if missing).")
@click.option("--repeats", default="1", show_default=True, metavar="N", help="Seed pairs (means with 95% CIs).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def compare_cmd(out, repeats, progress, as_json, seed, **kw):
    """Counterfactual: the agent against its paper baseline (the same orders, filled without moving the market)
    on common random numbers; writes compare.json, pairs.parquet and compare.png to OUT."""
    from lobkit import api

    given = seed_from_cli(seed)
    res = api.compare(seed=given, repeats=_int_option("--repeats", repeats), out=out, progress=progress,
                      **options_from_cli(kw))
    if as_json:
        click.echo(json.dumps(res.summary, indent=2))
        return
    s = res.summary
    n = s["repeats"]
    tick = res.config.market.tick_size

    def ci(name, scale=1.0):
        mu = s[f"{name}_mean"] / scale
        if n > 1:
            return f"{mu:+.4g}  [95% CI {s[f'{name}_ci_low'] / scale:+.4g}, {s[f'{name}_ci_high'] / scale:+.4g}]"
        return f"{mu:+.4g}"

    click.echo(f"{res.config.agent.name} vs its paper baseline, {n} seed pair(s), {_seed_note(given, res.seed)}:")
    click.echo(f"  strategy PnL           {ci('pnl')}")
    click.echo(f"  paper PnL              {ci('paper_pnl')}  (the same orders without market impact)")
    click.echo(f"  impact cost            {ci('impact_cost')}")
    click.echo(f"  mid diff (ticks)       {ci('mid_diff_mean', tick)}  (mean |diff| {ci('mid_diff_abs_mean', tick)})")
    click.echo(f"  spread diff (ticks)    {ci('spread_diff', tick)}")
    click.echo(f"  volume diff (lots)     {ci('volume_diff')}")
    if n >= 3:
        click.echo(f"  coupling variance ratio {s['coupling_variance_ratio']:.3f}  (var of pnl - paper pnl vs "
                   "independent seeds)")
    click.echo(f"wrote compare.json, pairs.parquet, compare.png to {out}")


@click.command("impact")
@market_options
@click.option("--lots", default="1,5,25,100", show_default=True, metavar="Q,Q,...",
              help="Sizes of the one market order (lots).")
@click.option("--side", type=click.Choice(["buy", "sell"]), default="buy", show_default=True, help="Its side.")
@click.option("--pairs", default="32", show_default=True, metavar="N", help="Seed pairs per size.")
@click.option("--horizon", default="10min", show_default=True, metavar="DURATION",
              help="How long after the order the mids are compared.")
@click.option("--out", required=True, metavar="DIR", help="Output directory (created if missing).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def impact_cmd(lots, side, pairs, horizon, out, progress, as_json, seed, **kw):
    """Impulse response: one market order of each size at the end of the warm-up against the same market without
    it, on common random numbers; the mean mid difference (ticks) with its 95% band against the time since the
    order. Writes impact.json, impact.parquet and impact.png to OUT."""
    from lobkit import api

    sizes = []
    for part in lots.split(","):
        if not part.strip().isdigit():
            raise ConfigError(f"--lots: expected sizes in lots like 1,5,25,100, got {lots!r}")
        sizes.append(int(part))
    given = seed_from_cli(seed)
    res = api.impact(seed=given, lots=tuple(sizes), pairs=_int_option("--pairs", pairs), horizon=horizon, side=side,
                     out=out, progress=progress, **options_from_cli(kw))
    if as_json:
        click.echo(json.dumps(res.summary, indent=2))
        return
    s = res.summary
    click.echo(f"impulse response, {side} orders, {s['pairs']} pairs each, {_seed_note(given, res.seed)}; mid "
               f"difference (ticks) {res.horizon_s:g} s after the order:")
    for q in res.lots:
        click.echo(f"  {q:>8} lots  mean {s[f'mean_ticks_{q}']:+.3f}  [95% CI {s[f'ci_low_{q}']:+.3f}, "
                   f"{s[f'ci_high_{q}']:+.3f}]  sd across pairs {s[f'sd_ticks_{q}']:.3f}")
    click.echo(f"  increasing in size: {s['increasing']}; concave: {s['concave']}")
    click.echo(f"wrote impact.json, impact.parquet, impact.png to {out}")


@click.command("options")
@click.option("--agent", default=None, metavar="NAME", help="List this agent's parameters [default: momentum].")
@click.option("--flow", default=None, metavar="NAME[:PATH]", help="List this flow model's parameters.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def options_cmd(agent, flow, as_json):
    """Every option of run, compare, impact and sweep (--set NAME=VALUE, grid names, API keywords) with its type
    and default."""
    from lobkit.sim.options import apply_options, describe_options

    rows = describe_options(apply_options(None, {"agent": agent, "flow": flow}))
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        click.echo(f"  {r['qualified']:<32} {r['type']:<12} {r['default']}")


def _int_option(flag: str, text) -> int:
    t = str(text).strip()
    if not t.isdigit():
        raise ConfigError(f"{flag}: expected a positive integer, got {text!r}")
    return int(t)


def register(group: click.Group) -> None:
    """Add ``run``, ``compare``, ``impact`` and ``options`` to the ``lobkit`` group."""
    for cmd in (run_cmd, compare_cmd, impact_cmd, options_cmd):
        group.add_command(cmd)
