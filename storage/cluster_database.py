"""Opening the cluster database (PostgreSQL for a cluster, SQLite for the single-node default)
and the one expression that differs between them: the database's own clock.

Why the database's clock: nodes' clocks may disagree by seconds; every lease time is written and
compared by the one server all nodes share, so a node's wrong clock cannot make a lease look
alive or expired to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee

# Milliseconds since 1970 on the database's clock. PostgreSQL: clock_timestamp(), not now():
# now() is frozen at the start of the transaction, so a commit whose transaction began before
# the lease expired would still pass the fencing check after it.
_NOW_MS = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
}

CONNECT_TIMEOUT_S = 5
IDLE_IN_TRANSACTION_MS = 5000
"""The server ends a session of ours that sits inside a transaction this long without a
statement. The bot never waits between the statements of a transaction (exchange calls are
never inside one), so such a session is a stopped or cut-off process; ending it releases its
row and table locks, which would otherwise hold up the node that took its accounts over."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def postgres_identity(url: str) -> tuple[str, int, str, str] | None:
    """(host, port, database, user) that a postgresql:// or postgres:// URL connects to, spelled
    one way (libpq defaults: port 5432, database = user; query parameters host, port, dbname
    and user count as the URL's parts); None for anything else or a URL that does not parse.
    The password and other options do not name the database, so they are left out."""
    if not is_postgres_url(url):
        return None
    try:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        host = (query.get("host") or unquote(parts.hostname or "")).lower()
        port = int(query.get("port") or parts.port or 5432)
    except ValueError:
        return None
    user = query.get("user") or unquote(parts.username or "")
    database = query.get("dbname") or unquote(parts.path.strip("/")) or user
    return host, port, database, user


def same_postgres_database(a: str, b: str) -> bool:
    """True when both URLs name the same PostgreSQL database however they are spelled
    (postgres:// or postgresql://, a trailing slash, default port, query order)."""
    ident = postgres_identity(a)
    return ident is not None and ident == postgres_identity(b)


def postgres_options(network_timeout_s: float = 5.0) -> dict[str, Any]:
    """psycopg connection options: connect timeout, and TCP_USER_TIMEOUT plus keepalives that
    bound how long a call can hang on a dead network (see `open_database`)."""
    timeout_ms = max(int(network_timeout_s * 1000), 1000)
    return {"connect_timeout": CONNECT_TIMEOUT_S, "tcp_user_timeout": timeout_ms,
            "keepalives": 1, "keepalives_idle": max(timeout_ms // 2000, 1),
            "keepalives_interval": 1, "keepalives_count": 2}


def open_postgres(url: str, *, network_timeout_s: float = 5.0, search_path: str | None = None,
                  max_connections: int = 0, wait_timeout_s: float = 30.0) -> peewee.Database:
    """A PostgreSQL database for `url` with the options above. `search_path` is set on every
    connection (the bot's storage keeps each account in its own schema). `max_connections` > 0:
    a pool of at most that many connections (callers beyond it wait up to `wait_timeout_s`)."""
    options = postgres_options(network_timeout_s)
    # synchronous_commit on for the session whatever the role's or database's default (off is
    # common on managed servers): a commit acknowledged before the order is sent must survive a
    # server crash, or the restarted bot finds an order whose intent it never wrote
    settings = [f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
                "-c synchronous_commit=on"]
    if search_path is not None:
        settings.append(f"-c search_path={search_path}")
    options["options"] = " ".join(settings)
    url = url.replace("postgres://", "postgresql://", 1)
    if max_connections > 0:
        from playhouse.pool import PooledPostgresqlDatabase

        return PooledPostgresqlDatabase(url, autoconnect=True, max_connections=max_connections,
                                        timeout=wait_timeout_s, **options)
    return peewee.PostgresqlDatabase(url, autoconnect=True, **options)


def open_database(url: str, *, network_timeout_s: float = 5.0) -> peewee.Database:
    """`postgresql://user@host:port/db` or a SQLite path (`sqlite:///path` or a plain path).

    `network_timeout_s` bounds how long a PostgreSQL call can hang on a dead network
    (TCP_USER_TIMEOUT and keepalives), so a lease keeper notices a partition and retries."""
    if is_postgres_url(url):
        return open_postgres(url, network_timeout_s=network_timeout_s)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if "://" in path:
        raise ValueError(f"cluster database url: unsupported scheme in {url.split('://')[0]!r}"
                         " (use postgresql://... or a SQLite file path)")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return peewee.SqliteDatabase(
        path, pragmas={"journal_mode": "wal", "busy_timeout": 5000, "synchronous": "full"})


def dialect(db: peewee.Database) -> str:
    if isinstance(db, peewee.PostgresqlDatabase):
        return "postgresql"
    if isinstance(db, peewee.SqliteDatabase):
        return "sqlite"
    raise ValueError(f"cluster database: unsupported engine {type(db).__name__}")


def now_ms_sql(db: peewee.Database) -> str:
    """SQL for the database clock in milliseconds (see module doc)."""
    return _NOW_MS[dialect(db)]
