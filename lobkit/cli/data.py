"""Data-layer commands: ``sample-data``, ``db init``, ``db stats``, ``migrate``, ``lobster import``.

Exit codes of ``migrate`` and ``lobster import``: 0 when at least one valid snapshot is in the table
afterwards (inserted now or already present; rejected rows, if any, are listed and counted on a warning
line); 1 when nothing was stored (the source holds no snapshot, or every one was rejected: one line says
why); 2 for bad input, configuration or database errors (one line), ``--strict`` stopping at a bad row
included.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import timedelta

import click

from lobkit.data.errors import ConfigError

_DSN_HELP = "SQLAlchemy URL of the server, e.g. postgresql://postgres:PW@127.0.0.1:5432/market_sim_lob " \
            "(default: $LOBKIT_DSN). The password is never printed."
MIN_CHUNK_HOURS, MAX_CHUNK_HOURS = 1 / 60, 87_600.0  # 1 minute .. 10 years


def _chunk_interval(hours: float) -> timedelta:
    if not (math.isfinite(hours) and MIN_CHUNK_HOURS <= hours <= MAX_CHUNK_HOURS):
        raise ConfigError(f"--chunk-interval-hours must be a number of hours from 1/60 (one minute) to "
                          f"{MAX_CHUNK_HOURS:,.0f} (ten years), got {hours:g}")
    return timedelta(hours=hours)


def _cfg(dsn: str | None, table: str, chunk_interval_h: float | None = None):
    from lobkit.data.timescale import DbConfig

    kw = {"table": table}
    if chunk_interval_h is not None:
        kw["chunk_interval"] = _chunk_interval(chunk_interval_h)
    return DbConfig.from_env(dsn, **kw)


def _schema(mapping: tuple[str, ...], ts_format: str):
    from dataclasses import fields

    from lobkit.data.sqlite import SqliteSchema

    valid = [f.name for f in fields(SqliteSchema) if f.name != "ts_format"]
    kw = {}
    for m in mapping:
        key, sep, value = m.partition("=")
        if not sep:
            raise ConfigError(f"--map takes FIELD=NAME, got {m}")
        if key.strip() not in valid:
            raise ConfigError(f"--map: unknown field {key.strip()} in {m}; fields are {', '.join(valid)}")
        kw[key.strip()] = value.strip()
    return SqliteSchema(ts_format=ts_format, **kw)


def _finish(summary, as_json: bool, head: list[str] | None = None, extra: dict | None = None) -> None:
    """Print a migration summary (``extra`` joins the JSON, ``head`` precedes the text) and exit with the
    documented code (0 stored, 1 nothing stored)."""
    if as_json:
        click.echo(json.dumps({**summary.as_dict(), **(extra or {})}))
    else:
        for line in [*(head or []), *summary.lines()]:
            click.echo(line)
    problem = summary.problem()
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    if summary.rejected:
        click.echo(f"warning: {summary.rejected} row(s) rejected, {summary.rejected_snapshots} snapshot(s) not "
                   "stored (listed above; --json lists up to 1000)", err=True)


_dsn_opt = click.option("--dsn", default=None, help=_DSN_HELP)
_table_opt = click.option("--table", default="lob_snapshots", show_default=True, help="Snapshot table.")


@click.command("sample-data")
@click.option("--out", "out", default="lob-btc.db", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite file to write (whole or not at all; an existing file needs --force).")
@click.option("--snapshots", default=5000, show_default=True, type=int,
              help="Number of snapshots (1 to 10,000,000).")
@click.option("--seed", default=None, metavar="N",
              help="Seed, a non-negative integer [default: fresh entropy, printed].")
@click.option("--levels", default=20, show_default=True, type=int, help="Levels per side (1 to 1000).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def sample_data(out, snapshots, seed, levels, force):
    """Write a synthetic SQLite snapshot file in exactly the schema of lob-btc.db."""
    from lobkit.cli.sim import seed_from_cli
    from lobkit.data.sample import write_sample_db
    from lobkit.seeds import seed_sequence

    ss = seed_sequence(seed_from_cli(seed))
    p = write_sample_db(out, snapshots, ss, levels, overwrite=force)
    click.echo(f"wrote {snapshots} snapshots x {levels} levels to {p} (seed {ss.entropy})")


@click.group("db")
def db():
    """TimescaleDB / PostgreSQL store of snapshots."""


@db.command("init")
@_dsn_opt
@_table_opt
@click.option("--chunk-interval-hours", type=float, default=24.0, show_default=True,
              help="Hypertable chunk width in hours (1/60 to 87600).")
def db_init(dsn, table, chunk_interval_hours):
    """Create the database market_sim_lob, the timescaledb extension and the snapshot table (idempotent)."""
    from lobkit.data.timescale import init_db

    cfg = _cfg(dsn, table, chunk_interval_hours)
    rep = init_db(cfg)
    for note in rep.notes:
        click.echo(f"note: {note}")
    kind = "hypertable" if rep.hypertable else "plain table"
    click.echo(f"ready: {kind} {cfg.table} in database {rep.database} at {cfg.safe_dsn}")


@db.command("stats")
@_dsn_opt
@_table_opt
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def db_stats(dsn, table, as_json):
    """Count, time range, chunks and size on disk of the snapshot table."""
    from lobkit.data.timescale import stats

    st = stats(_cfg(dsn, table))
    if as_json:
        click.echo(json.dumps(st.as_dict()))
        return
    click.echo(f"table      {st.table} ({'hypertable' if st.hypertable else 'plain table'})")
    click.echo(f"snapshots  {st.count:,}")
    click.echo(f"from       {st.first.isoformat(' ') if st.first else '-'}")
    click.echo(f"to         {st.last.isoformat(' ') if st.last else '-'}")
    click.echo(f"chunks     {st.chunks if st.chunks is not None else '-'}")
    click.echo(f"size       {st.size_bytes / 1e6:,.1f} MB")


@click.command("migrate")
@click.argument("source", type=click.Path(dir_okay=False))
@_dsn_opt
@_table_opt
@click.option("--batch-size", default=20_000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Snapshots per transaction.")
@click.option("--strict", is_flag=True, help="Stop at the first bad row (error names table, row id, field).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=NAME",
              help="Map a table/column name, e.g. --map items=snapshots --map timestamp=ts.")
@click.option("--ts-format", type=click.Choice(["auto", "text", "epoch_s", "epoch_ms"]), default="auto",
              show_default=True, help="How SOURCE stores timestamps.")
@click.option("--connections", default=2, show_default=True, type=click.IntRange(1, 16),
              help="COPY connections in parallel (each commits whole batches).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def migrate_cmd(source, dsn, table, batch_size, strict, as_json, mapping, ts_format, connections, no_progress):
    """Copy the snapshots of the SQLite file SOURCE into the database (idempotent, resumable).

    Exit code 0 when the table holds valid snapshots of SOURCE afterwards (rejected rows are listed), 1 when
    nothing was stored (SOURCE is empty or every snapshot was rejected), 2 on bad input or a database error.
    """
    from lobkit.data.migrate import migrate

    cfg = _cfg(dsn, table)
    s = migrate(source, cfg, schema=_schema(mapping, ts_format), batch_size=batch_size, strict=strict,
                progress=not (no_progress or as_json), connections=connections)
    _finish(s, as_json)


@click.command("import")
@click.argument("zip_path", metavar="ZIP", type=click.Path(dir_okay=False))
@_dsn_opt
@click.option("--table", default="lob_snapshots", show_default=True,
              help="Snapshot table, created if missing (one per ticker: the key is the time alone).")
@click.option("--tz", default="America/New_York", show_default=True,
              help="IANA time zone of the message times.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def lobster_import(zip_path, dsn, table, tz, as_json):
    """Store the orderbook rows of a LOBSTER zip as snapshots.

    The table is created when missing, as `lobkit db init --table TABLE` would (the database must exist:
    `lobkit db init` makes it). Exit codes as for migrate: 0 stored, 1 nothing stored, 2 bad input or error.
    """
    from lobkit.data.lobster import import_lobster, time_zone

    time_zone(tz)
    s, lb = import_lobster(zip_path, _cfg(dsn, table), tz=tz, progress=not as_json)
    head = ([f"created table {table}"] if s.created_table else []) + [
        f"{lb.ticker} {lb.date}, {lb.levels} levels: {lb.collapsed} rows collapsed (same microsecond)"]
    _finish(s, as_json, head, {"ticker": lb.ticker, "collapsed_same_time": lb.collapsed})


def register(group: click.Group) -> None:
    """Add the data commands to the ``lobkit`` group (``lobster import`` joins an existing ``lobster``)."""
    group.add_command(sample_data)
    group.add_command(db)
    group.add_command(migrate_cmd)
    lobster = group.commands.get("lobster")
    if lobster is None:
        @click.group("lobster")
        def lobster():
            """LOBSTER (NASDAQ) sample data."""

        group.add_command(lobster)
    lobster.add_command(lobster_import)
