"""Opening the cluster database (PostgreSQL for a cluster, SQLite for the single-node default)
and the one expression that differs between them: the database's own clock.

Why the database's clock: nodes' clocks may disagree by seconds; every lease time is written and
compared by the one server all nodes share, so a node's wrong clock cannot make a lease look
alive or expired to it.
"""

from __future__ import annotations

import socket
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee
import psycopg
from playhouse.pool import PooledPostgresqlDatabase

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


PING_DEADLINE_S = 2.0
"""The pool's liveness check of an idle connection (SELECT 1) gets this long to answer."""


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server (a query, BEGIN, COMMIT, a fetch) is
    bounded by `deadline_s`. TCP keepalives and TCP_USER_TIMEOUT do not fire when the peer
    acknowledges and never answers (a hung server, a blackholing middlebox), so without this a
    call could block for ever (review: a node froze for good, ignoring SIGTERM). psycopg waits
    on the socket with select() in 0.1 s slices; past the deadline the connection is closed
    (it is mid-protocol, so unusable) and the call raises OperationalError."""

    deadline_s: float = 30.0
    timed_out = False

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        bound = self.deadline_s if timeout is None else min(timeout, self.deadline_s)
        try:
            return super().wait(gen, interval, bound)
        except psycopg.errors._WaitTimeout:
            self.timed_out = True
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database server did not answer within {bound:g}s; connection closed"
            ) from None


class _DeadlineAdapter(peewee.Psycopg3Adapter):
    def connect(self, db: Any, **params: Any) -> Any:
        if db.aborted:
            raise psycopg.OperationalError("database closed: its calls were aborted")
        params.setdefault("conninfo", db.database)
        conn = DeadlineConnection.connect(**params)
        conn.deadline_s = db.query_deadline_s
        with db.live_lock:
            db.live.add(conn)
        return conn


class _Deadlines:
    """What both database classes below add to peewee's: the query deadline, the connections
    made (to abort them), and `abort()`."""

    query_deadline_s: float
    aborted: bool
    live: weakref.WeakSet[DeadlineConnection]
    live_lock: threading.Lock

    def _deadlines(self, query_deadline_s: float) -> None:
        self.query_deadline_s = query_deadline_s
        self.aborted = False
        self.live = weakref.WeakSet()
        self.live_lock = threading.Lock()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Calls made inside take up to `seconds` each (a migration can be long)."""
        before, self.query_deadline_s = self.query_deadline_s, seconds
        with self.live_lock:
            conns = list(self.live)
        for conn in conns:
            conn.deadline_s = seconds
        try:
            yield
        finally:
            self.query_deadline_s = before
            with self.live_lock:
                conns = list(self.live)
            for conn in conns:
                conn.deadline_s = before

    def abort(self) -> None:
        """End every call in flight on this database now (from any thread) and refuse new
        connections: each connection's socket is shut down, so a call blocked on a server that
        does not answer fails at once instead of at its deadline. For closing a database the
        server stopped answering; nothing written after this reaches it."""
        self.aborted = True
        with self.live_lock:
            conns = list(self.live)
        for conn in conns:
            _shut_down(conn)


def _shut_down(conn: DeadlineConnection) -> None:
    try:
        fd = conn.pgconn.socket
    except psycopg.Error:
        return  # already closed
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the connection keeps its descriptor; libpq reads EOF and fails


class DeadlinePostgresqlDatabase(_Deadlines, peewee.PostgresqlDatabase):
    psycopg3_adapter = _DeadlineAdapter

    def __init__(self, url: str, *, query_deadline_s: float, **kwargs: Any) -> None:
        self._deadlines(query_deadline_s)
        super().__init__(url, **kwargs)


class DeadlinePooledPostgresqlDatabase(_Deadlines, PooledPostgresqlDatabase):
    psycopg3_adapter = _DeadlineAdapter

    def __init__(self, url: str, *, query_deadline_s: float, **kwargs: Any) -> None:
        self._deadlines(query_deadline_s)
        super().__init__(url, **kwargs)

    def _is_closed(self, conn: Any) -> bool:
        """The pool's check of an idle connection before handing it out, with a short deadline;
        one that does not answer fails this checkout (the next idle one would likely hang too,
        and the pool checks them one after another under the database's lock)."""
        if conn.closed:
            return True
        conn.deadline_s = min(PING_DEADLINE_S, self.query_deadline_s)
        try:
            closed = bool(super()._is_closed(conn))
        finally:
            conn.deadline_s = self.query_deadline_s
        if closed and conn.timed_out:
            raise peewee.OperationalError("the database server did not answer a connection check")
        return closed


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
    # a server that accepts the connection and never answers: the connect is bounded too (libpq
    # takes whole seconds, at least 2), no longer than a call's deadline when that is shorter
    connect_s = max(min(CONNECT_TIMEOUT_S, int(query_deadline(network_timeout_s) + 0.5)), 2)
    return {"connect_timeout": connect_s, "tcp_user_timeout": timeout_ms,
            "keepalives": 1, "keepalives_idle": max(timeout_ms // 2000, 1),
            "keepalives_interval": 1, "keepalives_count": 2}


def query_deadline(network_timeout_s: float) -> float:
    """How long one call may wait for the server's answer (DeadlineConnection)."""
    return max(2 * network_timeout_s, 1.0)


def open_postgres(url: str, *, network_timeout_s: float = 5.0, search_path: str | None = None,
                  max_connections: int = 0, wait_timeout_s: float = 30.0) -> peewee.Database:
    """A PostgreSQL database for `url` with the options above. `search_path` is set on every
    connection (the bot's storage keeps each account in its own schema). `max_connections` > 0:
    a pool of at most that many connections (callers beyond it wait up to `wait_timeout_s`).
    Every call waits at most `query_deadline(network_timeout_s)` for the server's answer."""
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
    deadline = query_deadline(network_timeout_s)
    if max_connections > 0:
        return DeadlinePooledPostgresqlDatabase(
            url, query_deadline_s=deadline, autoconnect=True, max_connections=max_connections,
            timeout=wait_timeout_s, **options)
    return DeadlinePostgresqlDatabase(url, query_deadline_s=deadline, autoconnect=True,
                                      **options)


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
