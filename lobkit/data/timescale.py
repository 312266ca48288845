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

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lobkit.data.errors import ConfigError, DatabaseError

DEFAULT_DATABASE = "market_sim_lob"
DEFAULT_TABLE = "lob_snapshots"
PACKED_COLUMN = "packed"
TOAST_TUPLE_TARGET = 8160  # the maximum: rows up to ~8 kB stay inline and are not compressed
MAINTENANCE_DBS = ("", "postgres", "template1")
ENV_DSN = "LOBKIT_DSN"


def mask(text: str, dsn: str | None) -> str:
    """``text`` with the password of ``dsn`` (raw and URL-decoded forms) replaced by ``***``."""
    if not dsn:
        return text
    try:
        pw = make_url(dsn).password
    except Exception:  # an unparsable DSN: hide everything after the scheme's user part
        return text.replace(dsn, "<dsn>")
    if pw:
        from urllib.parse import quote_plus

        for form in {str(pw), quote_plus(str(pw))}:
            text = text.replace(form, "***")
    return text


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
        if not isinstance(self.dsn, str) or not self.dsn:
            raise ConfigError("no database DSN: pass --dsn or set LOBKIT_DSN (an SQLAlchemy URL)")
        try:
            url = make_url(self.dsn)
        except ArgumentError:
            raise ConfigError(f"DSN is not an SQLAlchemy URL: {mask(self.dsn, self.dsn)!r}") from None
        if url.drivername not in ("postgresql", "postgresql+psycopg2", "postgres"):
            raise ConfigError(f"DSN must be postgresql:// or postgresql+psycopg2://, got {url.drivername!r}")
        if not isinstance(self.table, str) or not self.table or len(self.table) > 63:
            raise ConfigError(f"table must be a name of 1-63 characters, got {self.table!r}")
        if not isinstance(self.chunk_interval, timedelta) or self.chunk_interval <= timedelta(0):
            raise ConfigError(f"chunk_interval must be a positive timedelta, got {self.chunk_interval!r}")
        if int(self.connect_timeout) < 1:
            raise ConfigError(f"connect_timeout must be >= 1 s, got {self.connect_timeout}")
        params = {k: v for k, v in (("host", url.host), ("port", url.port), ("user", url.username),
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
        """The DSN with the password shown as ``***`` (for messages)."""
        return make_url(self.dsn).render_as_string(hide_password=True)

    def connect(self, maintenance: bool = False):
        """A psycopg2 connection to the target (or the maintenance) database; errors name the masked DSN."""
        params = dict(self._params)
        if maintenance:
            params["dbname"] = "postgres"
        try:
            conn = psycopg2.connect(connect_timeout=int(self.connect_timeout), **params)
        except psycopg2.Error as exc:
            msg = " ".join(str(exc).split())
            raise DatabaseError(mask(f"cannot connect to {params['dbname']!r} at {self.safe_dsn}: {msg}",
                                     self.dsn)) from None
        return conn

    def error(self, what: str, exc: Exception) -> DatabaseError:
        """A :class:`DatabaseError` for a failed operation, password masked."""
        msg = " ".join(str(exc).split())
        return DatabaseError(mask(f"{what} failed on {self.safe_dsn} (table {self.table!r}): {msg}", self.dsn))


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
                notes.append(f"created database {cfg.database!r}")
    except psycopg2.Error as exc:
        raise cfg.error("creating the database", exc) from None
    finally:
        conn.close()

    conn = cfg.connect()
    try:
        conn.autocommit = True
        cur = conn.cursor()
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
                notes.append(f"TimescaleDB {version} with the {lic!r} license: compression, continuous "
                             "aggregates and policies are Timescale-licensed features and are unavailable; "
                             "hypertable without compression")
    except psycopg2.Error as exc:
        raise cfg.error("init", exc) from None
    finally:
        conn.close()
    return InitReport(cfg.database, created, version, lic, hyper, compression, tuple(notes))


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
    """Raise a clear :class:`DatabaseError` when the snapshot table does not exist (``lobkit db init`` first)."""
    if not table_exists(conn, cfg.table):
        raise DatabaseError(f"table {cfg.table!r} does not exist in database {cfg.database!r} at "
                            f"{cfg.safe_dsn}: run `lobkit db init` first")


def stats(cfg: DbConfig) -> Stats:
    """Count, time range, chunk count (hypertables) and size on disk of the snapshot table."""
    conn = cfg.connect()
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
