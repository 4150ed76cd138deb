"""One bot per account schema on a PostgreSQL server: a session-level advisory lock, on a
connection of its own held for the process's life (with `storage.url` the account's files in
the data dir lock nothing that a bot with another data dir would meet).

The server drops the lock when the session ends: the process exits (even by kill -9) or its
connection is cut. `keep` looks at the session every few seconds and takes the lock again on a
new connection after a cut; if another process took it meanwhile, `on_lost` is told. Once
another process holds it, `check` (the account's exchange fence, from when `keep` found it) and
`check_in` (its commit guard, which asks the server who holds it) raise LockLost, as a cluster
node's lease fence does; a cut session nobody took refuses nothing. Cluster nodes own their
accounts through leases (cluster/) and take no such lock.

The key is two int4 values (the space "bot1" and the schema name's CRC-32), a key space apart
from the one-bigint `pg_advisory_xact_lock` that serializes schema opening (storage/database.py),
so the held lock never blocks `bot.py status`, `signal` or `resume` opening the schema."""

from __future__ import annotations

import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from cluster.lease import LeaseLost
from storage.cluster_database import (
    DeadlineConnection,
    postgres_options,
    query_deadline,
    same_postgres_database,
)
from storage.database import StorageError, _redacted
from supervision.instance_lock import AlreadyRunning

LOCK_SPACE = 0x626F7431  # "bot1"
GRACE_S = 5.0
"""How long a refused lock is tried again: the session of a bot killed a moment ago may still
be ending on the server."""
CHECK_S = 2.0
"""How often `keep` checks the lock's session."""
NETWORK_TIMEOUT_S = 5.0
"""The lock session's network bound (`postgres_options`); each call waits at most twice it."""
RETRY_S = 0.1
SERVER_KEEPALIVE = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
)
"""The server ends the session (and frees the lock) of a client whose host died or whose network
is cut within seconds, not after the kernel's default two hours."""

_HOLDER = (
    "SELECT l.pid, a.application_name FROM pg_locks l "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid"
)


def lock_keys(schema: str) -> tuple[int, int]:
    """The two int4 keys of `schema`'s lock (pg_try_advisory_lock(int, int))."""
    crc = zlib.crc32(schema.encode())
    return LOCK_SPACE, crc - (1 << 32) if crc >= 1 << 31 else crc


class SchemaInUse(AlreadyRunning):
    """Another session holds the account schema's lock (bot.py exit code 3)."""

    def __init__(self, holder: str | None, schema: str, url: str, subject: str) -> None:
        super().__init__(None, Path(schema), subject)
        self.args = (
            f"another bot is already trading {subject} ({holder or 'an unknown process'} holds "
            f"the lock on schema {schema} at {_redacted(url)})",
        )

    def __str__(self) -> str:
        return str(self.args[0])


_DB_NOW_MS = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
_LIVE_LEASE = (
    f"SELECT owner, epoch, expires_at_ms > {_DB_NOW_MS} FROM leases WHERE account = %s "
    f"AND owner IS NOT NULL AND expires_at_ms + grace_ms > {_DB_NOW_MS}")
"""A lease held now, or expired less than its holder's takeover grace ago (a node taking the
account over waits that long too: a request the holder sent last may still reach the exchange;
found by review, a bot started in that grace was let in)."""
_LIVE_LEASE_BEFORE_GRACE = (
    f"SELECT owner, epoch, TRUE FROM leases WHERE account = %s AND owner IS NOT NULL "
    f"AND expires_at_ms > {_DB_NOW_MS}")
"""The same for a leases table of an earlier release (no grace_ms column)."""


class LeasedToNode(AlreadyRunning):
    """A cluster node holds the account's lease (bot.py exit code 3): cluster nodes own accounts
    by lease and do not take the schema lock, so without this check a bot outside the cluster
    traded the account alongside the node."""

    def __init__(self, account: str, owner: str, epoch: int, schema: str, url: str,
                 live: bool = True) -> None:
        super().__init__(None, Path(schema), f"account {account}")
        state = ("is live" if live else "expired less than its takeover grace ago: a request "
                 "the node sent last may still reach the exchange;")
        self.args = (
            f"account {account} is run by cluster node {owner} (its lease, epoch {epoch}, {state} "
            f"in the leases table at {_redacted(url)}): a bot outside the cluster must not trade "
            "it too (stop the cluster's nodes, or run this bot as a node: cluster.enabled)",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class LockLost(LeaseLost):
    """This bot may no longer act on the account: another process took its schema lock. A
    LeaseLost (final, as every one), so every path that stops sending and committing for a node
    that lost its lease (emergency closes, controls, the actors) stops for it too."""

    def __init__(self, subject: str, schema: str) -> None:
        Exception.__init__(self, f"{subject}: the lock on schema {schema} was taken by another "
                                 "process: nothing more is sent or committed for it")
        self.account = subject
        self.epoch = 0
        self.owner = f"pid {os.getpid()}"


_HOLDERS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = %s::bigint::oid AND objid = %s::bigint::oid")


class SchemaLock:
    """``acquire()`` / ``release()`` like supervision.instance_lock.InstanceLock."""

    def __init__(self, url: str, schema: str, subject: str, *, grace_s: float = GRACE_S,
                 lease_account: str | None = None, lease_url: str = "") -> None:
        self.url = url
        self.schema = schema
        self.subject = subject
        self.grace_s = grace_s
        self.lease_account = lease_account
        """A bot outside a cluster: also refuse when a cluster node holds this account's lease
        in the same database (`LeasedToNode`; the node checks this lock in turn before it
        starts the account, runtime/node_accounts.py, so one of the two always sees the other)."""
        self.lease_url = lease_url
        """The config's cluster.database_url: the leases are looked for there too (a cluster
        whose leases live in another database than the accounts' storage)."""
        self.name = f"bot.py pid {os.getpid()} on {socket.gethostname()}"[:63]
        self._conn: Any = None
        self._backend: int | None = None
        self._mutex = threading.Lock()
        self._closed = threading.Event()
        self._unchecked = False
        """Taken again after a cut and the leases not looked at since (`_check_after_cut`)."""
        self._taken = False
        """`keep` found the lock taken by another process (`check`)."""

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self) -> None:
        """Take the lock (retried for `grace_s`) or raise SchemaInUse; StorageError when the
        server cannot be reached."""
        if self._conn is not None:
            return
        conn = self._connect()
        try:
            deadline = time.monotonic() + self.grace_s
            while not self._try(conn):
                if time.monotonic() >= deadline:
                    raise SchemaInUse(self._holder(conn)[1], self.schema, self.url, self.subject)
                time.sleep(RETRY_S)
            if self.lease_account is not None:  # only once this lock is ours: see lease_account
                self._refuse_leased(conn, self.lease_account)
        except BaseException:
            conn.close()
            raise
        self._conn, self._backend = conn, conn.info.backend_pid

    def release(self) -> None:
        """Close the lock's session (the server frees the lock with it)."""
        self._closed.set()
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def check(self) -> None:
        """Raise LockLost once the lock was found taken by another process: the account's
        exchange fence (before each request and retry) and commit guard (runtime/runner.py).
        Without it a bot whose lock another bot had taken went on sending and committing until
        its actors stopped (found by review). A session found cut and not taken by anyone is
        no refusal: no other bot can run the account without the lock, and refusing then
        crashed and restarted every actor through a blip, counted, up to an escalation."""
        if self._taken:
            raise LockLost(self.subject, self.schema)

    def check_in(self, db: Any) -> None:
        """`check`, and inside a commit's transaction (storage.repository's commit guard): no
        other session holds the lock on the server. A commit after another process took it
        fails at once, not only after `keep` found it (up to CHECK_S later, or more while the
        server does not answer): the decision is not recorded, so nothing it implies is sent.
        Held by nobody (our session cut, `keep` takes it again) the commit goes on."""
        self.check()
        backend = self._backend
        if backend is None:
            return  # released: the account is closing
        space, key = lock_keys(self.schema)
        holders = {int(row[0]) for row in
                   db.execute_sql(_HOLDERS, (space, key & 0xFFFFFFFF)).fetchall()}
        if holders - {backend}:
            raise LockLost(self.subject, self.schema)

    def keep(self, on_lost: Callable[[str], None]) -> threading.Thread:
        """Check the session every CHECK_S until release(); after a cut take the lock again, or
        call `on_lost` (once, with the reason) when another session took it."""
        thread = threading.Thread(target=self._keep, args=(on_lost,), name="schema-lock",
                                  daemon=True)
        thread.start()
        return thread

    def _keep(self, on_lost: Callable[[str], None]) -> None:
        while not self._closed.wait(CHECK_S):
            try:
                if self._alive() or self._retake():
                    self._check_after_cut()
            except (psycopg.Error, StorageError):
                continue  # the server is out of reach: the next round tries again
            except AlreadyRunning as exc:  # SchemaInUse, or LeasedToNode after a cut
                self._taken = True
                on_lost(f"{self.subject}: the lock's session was cut and {exc}")
                return

    def _check_after_cut(self) -> None:
        """While the lock's session was cut the lock was free, so a cluster node's start check
        (runtime/node_accounts.py refuse_outside_bot) passed: taken again, the leases are read
        again, as at `acquire`, until that read succeeds (LeasedToNode: a node runs it now)."""
        if not self._unchecked or self.lease_account is None:
            return
        with self._mutex:
            if self._conn is not None:
                self._refuse_leased(self._conn, self.lease_account)
            self._unchecked = False

    def _alive(self) -> bool:
        with self._mutex:
            conn = self._conn
            if conn is None:
                return True  # released
            try:
                conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                return False

    def _retake(self) -> bool:
        """True when the lock is ours again; False when our own cut session still holds it."""
        conn = self._connect()
        try:
            with self._mutex:
                if self._closed.is_set():
                    return True
                if self._try(conn):
                    # the new session is kept; the cut one is closed below
                    conn, self._conn = self._conn, conn
                    self._backend = self._conn.info.backend_pid
                    self._unchecked = True
                    return True
                backend, holder = self._holder(conn)
        finally:
            if conn is not None:
                conn.close()
        if backend is not None and backend != self._backend:
            raise SchemaInUse(holder, self.schema, self.url, self.subject)
        return False

    def _connect(self, url: str = "") -> Any:
        url = url or self.url
        options = postgres_options(NETWORK_TIMEOUT_S)
        options["options"] = SERVER_KEEPALIVE
        try:
            # every wait on the server bounded (a hung server that still acknowledges is not
            # noticed by TCP): `_alive` holds the mutex that `release` needs
            conn = DeadlineConnection.connect(url.replace("postgres://", "postgresql://", 1),
                                              autocommit=True, application_name=self.name,
                                              **options)
            conn.deadline_s = query_deadline(NETWORK_TIMEOUT_S)
            return conn
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # the words of storage.database.open_postgres_database, which would meet the same
            raise StorageError(
                f"{_redacted(url)} schema {self.schema}: cannot open database: {first}"
            ) from None

    def _refuse_leased(self, conn: Any, account: str) -> None:
        self._refuse_leased_in(conn, account, self.url)
        if self.lease_url and not same_postgres_database(self.lease_url, self.url):
            try:
                other = self._connect(self.lease_url)
            except StorageError as exc:  # one line naming the key, not the account's schema
                reason = str(exc).rsplit("cannot open database: ", 1)[-1]
                raise StorageError(
                    f"cluster.database_url {_redacted(self.lease_url)}: cannot open the "
                    f"cluster's leases database to check that no cluster node runs "
                    f"{self.subject}: {reason}") from None
            try:
                self._refuse_leased_in(other, account, self.lease_url)
            finally:
                other.close()

    def _refuse_leased_in(self, conn: Any, account: str, url: str) -> None:
        try:
            if conn.execute("SELECT to_regclass('leases')").fetchone()[0] is None:
                return  # no cluster ever ran on this database
            try:
                row = conn.execute(_LIVE_LEASE, (account,)).fetchone()
            except psycopg.errors.UndefinedColumn:  # an earlier release's table, or another's
                row = conn.execute(_LIVE_LEASE_BEFORE_GRACE, (account,)).fetchone()
        except psycopg.errors.UndefinedColumn:
            return  # another application's table of that name, not a cluster's
        except psycopg.Error as exc:  # e.g. a role that may not read the cluster's table
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(
                f"{_redacted(url)} schema {self.schema}: cannot read the cluster's leases "
                f"table to check that no cluster node runs {self.subject}: {first}") from None
        if row is not None:
            raise LeasedToNode(account, str(row[0]), int(row[1]), self.schema, url, bool(row[2]))

    def _try(self, conn: Any) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_keys(self.schema))
        return bool(row.fetchone()[0])

    def _holder(self, conn: Any) -> tuple[int | None, str | None]:
        """(backend PID, application name) of the session holding the lock, or Nones."""
        space, key = lock_keys(self.schema)
        row = conn.execute(_HOLDER, (space, key & 0xFFFFFFFF)).fetchone()
        return (None, None) if row is None else (row[0], row[1] or None)
