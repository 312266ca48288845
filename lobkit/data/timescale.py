"""TimescaleDB (or plain PostgreSQL) storage of snapshots: connection, ``init_db`` and ``stats``.

The DSN is an SQLAlchemy URL (``postgresql://user:password@host:port/db``) given with ``--dsn`` or the
environment variable ``LOBKIT_DSN``. The password never appears in output, logs or errors: every message goes
through :func:`mask`.

The database used is the one named in the DSN, except that a DSN naming a maintenance database (``postgres``,
``template1``) or none means ``market_sim_lob``. ``init_db`` connects to the maintenance database ``postgres``
first and creates the target database if it is missing.

Schema (one row per snapshot; levels as JSON arrays ``[[price, quantity], ...]``, best first)::

    lob_snapshots(ts TIMESTAMPTZ PRIMARY KEY, bids JSONB NOT NULL, asks JSONB NOT NULL, source_id BIGINT,
                  packed BYTEA)

made a hypertable on ``ts`` when TimescaleDB is available. The JSONB columns are the canonical, queryable form.
``packed`` holds the same levels as little-endian float64 (:mod:`lobkit.data.pgcopy`, format 1) so that the
reader never has the server print, nor the client parse, JSON; it is NULL for rows written by other tools,
which the reader then reads from the JSONB. ``toast_tuple_target`` is raised so that a row (~2.3 kB with 20
levels a side) stays inline and uncompressed: compressing it (pglz) would cost more than the JSONB parse.

The default chunk interval, one day, suits the data's rate: the Bitstamp capture has ~24,000 snapshots a day
of ~2.3 kB each (~55 MB a day), LOBSTER files up to a few hundred thousand a day; one-day chunks stay far
below memory while a week of data is a handful of chunks.

Where the server is plain PostgreSQL, ``init_db`` says so and creates a plain table with the same key; where
TimescaleDB is the Apache-licensed build (``SHOW timescaledb.license`` = ``apache``), it says that compression
is unavailable and carries on without it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lobkit.data.errors import ConfigError, DatabaseError
from lobkit.data.sources import SnapshotSource, SnapshotStream

DEFAULT_DATABASE = "market_sim_lob"
DEFAULT_TABLE = "lob_snapshots"
PACKED_COLUMN = "packed"
TOAST_TUPLE_TARGET = 8160  # the maximum: rows up to ~8 kB stay inline and are not compressed
MAINTENANCE_DBS = ("", "postgres", "template1")
MIN_CHUNK_INTERVAL = timedelta(minutes=1)
MAX_CHUNK_INTERVAL = timedelta(days=3650)
SNAPSHOT_COLUMNS = ("ts", "bids", "asks")  # what a table must have to be read or written as snapshots
ENV_DSN = "LOBKIT_DSN"


_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*:)(?P<pw>[^\s'\"]*)@")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask(text: str, dsn: str | None = None) -> str:
    """``text`` with every password *field* shown as ``***``: the password of each URL in it
    (``scheme://user:PASSWORD@host``, up to the userinfo's last ``@``) and of each ``password=...`` setting.

    Nothing else is touched (a password that equals the port, the user or the database name does not hide
    them, and so is not revealed by what was hidden). ``dsn`` is accepted for compatibility and not needed.
    """
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", str(text))
    return _KV_PASSWORD.sub(lambda m: m.group("head") + "***", text)


def safe_url(dsn: str) -> str:
    """``dsn`` with its password field shown as ``***`` (parsed, not searched), for messages."""
    try:
        return make_url(dsn).render_as_string(hide_password=True)
    except Exception:  # not a URL: mask what looks like a password field
        return mask(dsn)


def _hours(td: timedelta) -> str:
    """A timedelta as a user writes it (``-1 day``, ``36 h``, ``90 s``), not ``datetime.timedelta(...)``."""
    secs = td.total_seconds()
    for unit, n in (("day", 86400), ("h", 3600), ("min", 60)):
        if secs and secs % n == 0:
            k = int(secs // n)
            return f"{k} {unit}" + ("s" if unit == "day" and abs(k) != 1 else "")
    return f"{secs:g} s"


@dataclass(frozen=True)
class DbConfig:
    """Where the snapshots live. ``dsn`` is an SQLAlchemy URL; ``table`` any name (quoted, never formatted).

    ``chunk_interval`` is the hypertable chunk width; ``connect_timeout`` seconds to wait for the server.
    """

    dsn: str
    table: str = DEFAULT_TABLE
    chunk_interval: timedelta = timedelta(days=1)
    connect_timeout: int = 5
    _params: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.dsn, str) or not self.dsn.strip():
            raise ConfigError("no database DSN: pass --dsn or set LOBKIT_DSN (an SQLAlchemy URL)")
        try:
            url = make_url(self.dsn)
        except (ArgumentError, ValueError):
            raise ConfigError(f"DSN is not an SQLAlchemy URL (postgresql://USER:PASSWORD@HOST:PORT/DB): "
                              f"{mask(self.dsn)}") from None
        if url.drivername not in ("postgresql", "postgresql+psycopg2", "postgres"):
            raise ConfigError(f"DSN must be postgresql:// or postgresql+psycopg2://, got {url.drivername}://")
        if not isinstance(self.table, str) or not self.table or len(self.table) > 63:
            raise ConfigError(f"table must be a name of 1-63 characters, got {self.table!r}")
        if not isinstance(self.chunk_interval, timedelta):
            raise ConfigError(f"chunk_interval must be a timedelta, got a {type(self.chunk_interval).__name__}")
        if not MIN_CHUNK_INTERVAL <= self.chunk_interval <= MAX_CHUNK_INTERVAL:
            raise ConfigError(f"chunk_interval must be between 1 min and 3650 days, got "
                              f"{_hours(self.chunk_interval)}")
        t = self.connect_timeout
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or not 1 <= t <= 3600:
            raise ConfigError(f"connect_timeout must be 1 to 3600 seconds, got {t}")
        try:
            port = url.port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ConfigError(f"DSN port must be 1 to 65535: {safe_url(self.dsn)}")
        params = {k: v for k, v in (("host", url.host), ("port", port), ("user", url.username),
                                    ("password", url.password)) if v is not None}
        params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
        db = url.database or ""
        params["dbname"] = DEFAULT_DATABASE if db in MAINTENANCE_DBS else db
        object.__setattr__(self, "_params", params)

    @classmethod
    def from_env(cls, dsn: str | None = None, **kw) -> DbConfig:
        """Config from an explicit DSN or, when ``dsn`` is None, ``$LOBKIT_DSN``."""
        return cls(dsn or os.environ.get(ENV_DSN, ""), **kw)

    @property
    def database(self) -> str:
        return self._params["dbname"]

    @property
    def safe_dsn(self) -> str:
        """The DSN with its password field shown as ``***`` (for messages)."""
        return safe_url(self.dsn)

    def connect(self, maintenance: bool = False):
        """A psycopg2 connection to the target (or the maintenance) database; errors name the masked DSN."""
        params = dict(self._params)
        if maintenance:
            params["dbname"] = "postgres"
        try:
            conn = psycopg2.connect(connect_timeout=int(self.connect_timeout), **params)
        except psycopg2.Error as exc:
            msg = " ".join(str(exc).split())
            raise DatabaseError(mask(f"cannot connect to database {params['dbname']} at {self.safe_dsn}: "
                                     f"{msg}")) from None
        return conn

    def error(self, what: str, exc: Exception) -> DatabaseError:
        """A :class:`DatabaseError` for a failed operation, password masked."""
        msg = " ".join(str(exc).split())
        return DatabaseError(mask(f"{what} failed on {self.safe_dsn} (table {self.table}): {msg}"))


@dataclass(frozen=True)
class InitReport:
    """What ``init_db`` did and found."""

    database: str
    created_database: bool
    timescaledb: str | None  # extension version, None on plain PostgreSQL
    license: str | None  # "apache", "timescale" or None
    hypertable: bool
    compression: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Stats:
    """Content of the snapshot table."""

    table: str
    count: int
    first: datetime | None
    last: datetime | None
    hypertable: bool
    chunks: int | None
    size_bytes: int

    def as_dict(self) -> dict:
        return {"table": self.table, "count": self.count,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None,
                "hypertable": self.hypertable, "chunks": self.chunks, "size_bytes": self.size_bytes}


def _ident(conn, table: str) -> str:
    """``table`` quoted as an identifier (for use as a bound ``regclass`` value)."""
    return sql.Identifier(table).as_string(conn)


def is_hypertable(conn, table: str) -> bool:
    cur = conn.cursor()
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if cur.fetchone() is None:
        return False
    cur.execute("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s "
                "AND hypertable_schema = current_schema()", (table,))
    return cur.fetchone() is not None


def table_exists(conn, table: str) -> bool:
    cur = conn.cursor()
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (_ident(conn, table),))
    return bool(cur.fetchone()[0])


def init_db(cfg: DbConfig) -> InitReport:
    """Create the database (if missing), the TimescaleDB extension (if the server has it) and the table.

    Idempotent. Plain PostgreSQL and the Apache-licensed TimescaleDB build are reported in ``notes`` and
    handled with what works: a plain table, or a hypertable without compression.
    """
    notes: list[str] = []
    created = False
    conn = cfg.connect(maintenance=True)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg.database,))
        if cur.fetchone() is None:
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.database)))
            except psycopg2.errors.DuplicateDatabase:
                pass  # created concurrently
            else:
                created = True
                notes.append(f"created database {cfg.database}")
    except psycopg2.Error as exc:
        raise cfg.error("creating the database", exc) from None
    finally:
        conn.close()

    conn = cfg.connect()
    try:
        version, lic, hyper, compression = _setup_table(conn, cfg, notes)
    except psycopg2.Error as exc:
        raise cfg.error("init", exc) from None
    finally:
        conn.close()
    return InitReport(cfg.database, created, version, lic, hyper, compression, tuple(notes))


def _setup_table(conn, cfg: DbConfig, notes: list[str]) -> tuple[str | None, str | None, bool, bool]:
    """The extension (where the server has it), the snapshot table and its hypertable, on an open connection
    to the target database; the same DDL for ``db init`` and for the commands that create their table.
    Returns (extension version, license, hypertable, compression)."""
    conn.autocommit = True
    cur = conn.cursor()
    if table_exists(conn, cfg.table):
        _check_snapshot_table(conn, cfg)
    cur.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
    available = cur.fetchone()
    cur.execute("SELECT current_setting('shared_preload_libraries')")
    preloaded = "timescaledb" in cur.fetchone()[0]
    version = lic = None
    if available is None:
        notes.append("plain PostgreSQL: the timescaledb extension is not installed on this server; "
                     "using a plain table (no hypertable, no compression)")
    elif not preloaded:
        # CREATE EXTENSION would fail (and end the session) without the preloaded library
        notes.append("plain PostgreSQL: timescaledb is installed but not in shared_preload_libraries; "
                     "using a plain table (no hypertable, no compression)")
    else:
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            version = cur.fetchone()[0]
            cur.execute("SHOW timescaledb.license")
            lic = cur.fetchone()[0]
        except psycopg2.Error as exc:
            notes.append(f"plain PostgreSQL: CREATE EXTENSION timescaledb failed ({exc.pgerror or exc}); "
                         "using a plain table".replace("\n", " "))
            version = None
    t = sql.Identifier(cfg.table)
    cur.execute(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (ts TIMESTAMPTZ PRIMARY KEY, bids JSONB NOT NULL, "
        "asks JSONB NOT NULL, source_id BIGINT, {} BYTEA) WITH (toast_tuple_target = {})").format(
            t, sql.Identifier(PACKED_COLUMN), sql.Literal(TOAST_TUPLE_TARGET)))
    # a table made by an earlier version: add the packed column (metadata only) and the storage setting
    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} BYTEA").format(
        t, sql.Identifier(PACKED_COLUMN)))
    cur.execute(sql.SQL("ALTER TABLE {} SET (toast_tuple_target = {})").format(
        t, sql.Literal(TOAST_TUPLE_TARGET)))
    hyper = compression = False
    if version is not None:
        cur.execute("SELECT create_hypertable(%s::regclass, by_range('ts', %s::interval), "
                    "if_not_exists => true, migrate_data => true)",
                    (_ident(conn, cfg.table), cfg.chunk_interval))
        hyper = True
        if lic == "timescale":
            try:
                cur.execute(sql.SQL("ALTER TABLE {} SET (timescaledb.compress, "
                                    "timescaledb.compress_orderby = 'ts')").format(sql.Identifier(cfg.table)))
                compression = True
                notes.append("TimescaleDB (Timescale license): compression enabled on the hypertable")
            except psycopg2.Error as exc:
                notes.append(f"compression could not be enabled ({exc.pgerror or exc}); carrying on without")
        else:
            notes.append(f"TimescaleDB {version} with the {lic} license: compression, continuous "
                         "aggregates and policies are Timescale-licensed features and are unavailable; "
                         "hypertable without compression")
    return version, lic, hyper, compression


def ensure_table(cfg: DbConfig) -> bool:
    """Create the snapshot table ``cfg.table`` when it is missing, with the DDL of ``lobkit db init`` (hypertable
    where TimescaleDB is available). Returns whether it was created. The database must exist already
    (``lobkit db init`` creates it): otherwise a :class:`DatabaseError` says so."""
    conn = connect_target(cfg)
    try:
        conn.autocommit = True
        if table_exists(conn, cfg.table):
            _check_snapshot_table(conn, cfg)
            return False
        _setup_table(conn, cfg, [])
        return True
    except psycopg2.Error as exc:
        raise cfg.error(f"creating table {cfg.table}", exc) from None
    finally:
        conn.close()


def connect_target(cfg: DbConfig):
    """A connection to the target database; a missing database is reported with the command that makes it."""
    try:
        return cfg.connect()
    except DatabaseError as exc:
        if "does not exist" in str(exc):
            raise DatabaseError(f"database {cfg.database} does not exist at {cfg.safe_dsn}: run `lobkit db init` "
                                "first") from None
        raise


def _check_snapshot_table(conn, cfg: DbConfig) -> None:
    """A :class:`DatabaseError` when ``cfg.table`` exists but lacks the snapshot columns."""
    cols = table_columns(conn, cfg.table)
    missing = [c for c in SNAPSHOT_COLUMNS if c not in cols]
    if missing:
        raise DatabaseError(f"table {cfg.table} in database {cfg.database} at {cfg.safe_dsn} is not a snapshot "
                            f"table: it has no column {', '.join(missing)} (choose another --table)")


def table_columns(conn, table: str) -> dict[str, str]:
    """Column name -> type of ``table`` (bound as a regclass, never formatted)."""
    with conn.cursor() as cur:
        cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                    "%s::regclass AND attnum > 0 AND NOT attisdropped", (sql.Identifier(table).as_string(conn),))
        return dict(cur.fetchall())


def has_packed(conn, table: str) -> bool:
    """Whether ``table`` has the ``packed`` BYTEA column (tables made by an older ``db init`` do not)."""
    return table_columns(conn, table).get(PACKED_COLUMN) == "bytea"


def require_table(conn, cfg: DbConfig) -> None:
    """Raise a clear :class:`DatabaseError` when the snapshot table does not exist (``lobkit db init`` first)
    or is not a snapshot table (no ``ts``, ``bids`` or ``asks`` column)."""
    if not table_exists(conn, cfg.table):
        hint = "" if cfg.table == DEFAULT_TABLE else f" --table {cfg.table}"
        raise DatabaseError(f"table {cfg.table} does not exist in database {cfg.database} at "
                            f"{cfg.safe_dsn}: run `lobkit db init{hint}` first")
    _check_snapshot_table(conn, cfg)


def stats(cfg: DbConfig) -> Stats:
    """Count, time range, chunk count (hypertables) and size on disk of the snapshot table."""
    conn = connect_target(cfg)
    try:
        require_table(conn, cfg)
        cur = conn.cursor()
        t = sql.Identifier(cfg.table)
        cur.execute(sql.SQL("SELECT count(*), min(ts), max(ts) FROM {}").format(t))
        count, first, last = cur.fetchone()
        hyper = is_hypertable(conn, cfg.table)
        chunks = None
        if hyper:
            cur.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = %s "
                        "AND hypertable_schema = current_schema()", (cfg.table,))
            chunks = int(cur.fetchone()[0])
            cur.execute("SELECT hypertable_size(%s::regclass)", (_ident(conn, cfg.table),))
        else:
            cur.execute("SELECT pg_total_relation_size(%s::regclass)", (_ident(conn, cfg.table),))
        size = int(cur.fetchone()[0] or 0)
    except psycopg2.Error as exc:
        raise cfg.error("stats", exc) from None
    finally:
        conn.close()
    return Stats(cfg.table, int(count), first, last, hyper, chunks, size)


class TimescaleSource(SnapshotSource):
    """A snapshot table in TimescaleDB / PostgreSQL as a data source.

    ``location``: a DSN (``postgresql://USER:PW@HOST:PORT/DB``; a ``table`` query parameter names the table
    and is not sent to the server) or a :class:`DbConfig`. Option ``table`` (default ``lob_snapshots``)."""

    schemes = ("postgresql", "postgres", "postgresql+psycopg2")

    def __init__(self, location, *, table: str | None = None):
        if isinstance(location, DbConfig):
            cfg = location if table is None else DbConfig(location.dsn, table=table,
                                                          chunk_interval=location.chunk_interval,
                                                          connect_timeout=location.connect_timeout)
        else:
            dsn, in_url = _pop_table(str(location))
            if table is not None and in_url is not None and table != in_url:
                raise ConfigError(f"timescale source: table {table} given twice, the URL says {in_url}")
            cfg = DbConfig(dsn, table=table or in_url or DEFAULT_TABLE)
        super().__init__(cfg.safe_dsn)
        self.cfg = cfg

    @property
    def description(self) -> str:
        return f"table {self.cfg.table} at {self.cfg.safe_dsn}"

    def snapshots(self, chunk_size: int = 50_000, start=None, end=None) -> SnapshotStream:
        from lobkit.data.stream import stream_db

        return stream_db(self.cfg, chunk_size=chunk_size, start=start, end=end)


def _pop_table(dsn: str) -> tuple[str, str | None]:
    """``dsn`` without its ``table`` query parameter, and that parameter (None when absent)."""
    try:
        url = make_url(dsn)
    except (ArgumentError, ValueError):
        return dsn, None  # DbConfig reports it
    table = url.query.get("table")
    if table is None:
        return dsn, None
    if not isinstance(table, str):
        raise ConfigError(f"timescale source: one table please, the URL names {', '.join(table)}")
    return url.difference_update_query(["table"]).render_as_string(hide_password=False), table
