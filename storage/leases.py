"""Account leases in a database table, with fencing by epoch.

Every statement is one conditional write whose WHERE clause is the protocol rule, evaluated by
the database on its own clock; the same SQL runs on PostgreSQL and SQLite (>= 3.35 for
RETURNING). Rows are never deleted, so an account's epoch only ever grows.

Fencing (`check`, `fenced`): a conditional UPDATE of the caller's own lease row inside the
caller's commit transaction. It matches no row once the lease expired, was released or was
taken over, and raises `LeaseLost`, so the transaction rolls back. On PostgreSQL the UPDATE also
holds the row lock until the commit, so a takeover (which must update the same row) waits for
that commit: a fenced commit and a takeover are strictly ordered, never interleaved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import peewee

from cluster.lease import Lease, LeaseLost, LeaseSettings, LeaseStoreUnavailable
from storage.cluster_database import now_ms_sql

_COLUMNS = "account, owner, epoch, expires_at_ms, renewed_at_ms"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    account VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(200),
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    renewed_at_ms BIGINT NOT NULL,
    last_holder VARCHAR(200),
    previous_holder VARCHAR(200),
    handed_over INTEGER NOT NULL DEFAULT 0
)"""


class LeaseStore:
    """Acquire, renew, release and check account leases (one instance per node; peewee gives
    each thread its own connection)."""

    def __init__(self, db: peewee.Database, settings: LeaseSettings) -> None:
        self.db = db
        self.settings = settings
        now = now_ms_sql(db)
        p = db.param
        self._acquire_sql = (
            f"INSERT INTO leases ({_COLUMNS}, last_holder, handed_over) "
            f"VALUES ({p}, {p}, 1, {now} + {p}, {now}, {p}, 0) "
            "ON CONFLICT (account) DO UPDATE SET owner = excluded.owner, "
            "epoch = leases.epoch + 1, expires_at_ms = excluded.expires_at_ms, "
            "renewed_at_ms = excluded.renewed_at_ms, previous_holder = leases.last_holder, "
            "last_holder = excluded.owner, "
            "handed_over = CASE WHEN leases.owner IS NULL THEN 1 ELSE 0 END "
            f"WHERE leases.owner IS NULL OR leases.expires_at_ms + {p} < {now} "
            f"RETURNING {_COLUMNS}, previous_holder, handed_over")
        self._renew_sql = (
            f"UPDATE leases SET expires_at_ms = {now} + {p}, renewed_at_ms = {now} "
            f"WHERE account = {p} AND owner = {p} AND epoch = {p} AND expires_at_ms > {now} "
            f"RETURNING {_COLUMNS}")
        self._release_sql = (
            f"UPDATE leases SET owner = NULL, expires_at_ms = {now} "
            f"WHERE account = {p} AND owner = {p} AND epoch = {p}")
        self._check_sql = (
            "UPDATE leases SET epoch = epoch "
            f"WHERE account = {p} AND owner = {p} AND epoch = {p} AND expires_at_ms > {now}")
        self._read_sql = f"SELECT {_COLUMNS} FROM leases WHERE account = {p}"
        self._all_sql = f"SELECT {_COLUMNS}, {now} FROM leases ORDER BY account"
        self._takeable_sql = (
            f"SELECT owner, expires_at_ms + {p} + 1 - {now}, epoch, renewed_at_ms "
            f"FROM leases WHERE account = {p}")

    def create_table(self) -> None:
        self._run(lambda: _created_once(lambda: self.db.execute_sql(_SCHEMA)))

    def acquire(self, account: str, owner: str) -> Lease | None:
        """Take the account if nobody holds it, or its lease expired more than the takeover
        grace ago; returns the new lease (epoch + 1) or None when someone else holds it."""
        params = (account, owner, self.settings.ttl_ms, owner, self.settings.takeover_grace_ms)
        row = self._one(self._acquire_sql, params)
        return None if row is None else _lease(row)

    def renew(self, lease: Lease) -> Lease | None:
        """Extend the caller's lease by the TTL; None when it is no longer the caller's
        (expired, taken over or released), which is final: acquire again for a new epoch."""
        params = (self.settings.ttl_ms, lease.account, lease.owner, lease.epoch)
        row = self._one(self._renew_sql, params)
        return None if row is None else _lease(row)

    def release(self, lease: Lease) -> bool:
        """Give the account up now (after the caller stopped acting on it); True if it was
        still the caller's. The epoch stays, so the next holder gets epoch + 1."""
        return self._count(self._release_sql, (lease.account, lease.owner, lease.epoch)) == 1

    def check(self, account: str, epoch: int, owner: str) -> None:
        """Raise `LeaseLost` unless `owner` still holds `account` at `epoch`. Call it inside the
        commit transaction (see module doc); outside one it proves nothing about a later
        commit, so that is refused."""
        if not self.db.in_transaction():
            raise RuntimeError("LeaseStore.check must run inside the commit's transaction")
        if self._count(self._check_sql, (account, owner, epoch)) != 1:
            raise LeaseLost(account, epoch, owner)

    @contextmanager
    def fenced(self, lease: Lease) -> Iterator[None]:
        """A transaction that commits only if `lease` is still valid when it starts writing:
        `with store.fenced(lease): <writes>` raises `LeaseLost` (and rolls back) otherwise, or
        `LeaseStoreUnavailable` when the database cannot be reached (nothing was written; the
        dead connection is dropped so the next attempt opens a fresh one)."""
        txn = self.db.atomic()
        try:
            txn.__enter__()
        except peewee.PeeweeException as exc:
            self._drop_connection()
            raise LeaseStoreUnavailable(f"lease database: {_first_line(exc)}") from exc
        try:
            self.check(lease.account, lease.epoch, lease.owner)
        except BaseException as exc:
            self._abandon(txn, exc)
            if isinstance(exc, peewee.PeeweeException):
                raise LeaseStoreUnavailable(f"lease database: {_first_line(exc)}") from exc
            raise
        try:
            yield
        except BaseException as exc:
            txn.__exit__(type(exc), exc, exc.__traceback__)  # rolls back, never swallows
            raise
        else:
            txn.__exit__(None, None, None)

    def current(self, account: str) -> Lease | None:
        """The account's lease row as the database has it (owner None: released)."""
        row = self._one(self._read_sql, (account,), write=False)
        if row is None or row[1] is None:
            return None
        return _lease(row)

    def all_leases(self) -> tuple[int, list[Lease]]:
        """(database clock in ms, every held lease by account) for status views: a lease's
        age is now - renewed_at_ms, it is live while now < expires_at_ms."""
        rows = self._run(lambda: self.db.execute_sql(self._all_sql).fetchall())
        if not rows:
            return self.db_now_ms(), []
        return int(rows[0][5]), [_lease(r) for r in rows if r[1] is not None]

    def takeover_in_s(self, account: str) -> float:
        """Seconds (database clock) until `acquire` can take the account: 0 when it can now
        (acquire needs now > expires_at + grace, hence the + 1 ms)."""
        return self.takeover_view(account)[0]

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        """(`takeover_in_s`, the holder's row as (owner, epoch, renewed_at_ms) or None when
        nobody holds the account): one read for a keeper waiting to acquire."""
        row = self._one(self._takeable_sql, (self.settings.takeover_grace_ms, account),
                        write=False)
        if row is None or row[0] is None:
            return 0.0, None
        return max(int(row[1]), 0) / 1000, (str(row[0]), int(row[2]), int(row[3]))

    def db_now_ms(self) -> int:
        row = self._one(f"SELECT {now_ms_sql(self.db)}", (), write=False)
        assert row is not None
        return int(row[0])

    # ---- plumbing ------------------------------------------------------------------------

    def _one(self, sql: str, params: tuple[Any, ...], *, write: bool = True) -> Any:
        def work() -> Any:
            if not write:
                return self.db.execute_sql(sql, params).fetchone()
            with self.db.atomic():
                return self.db.execute_sql(sql, params).fetchone()
        return self._run(work)

    def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        def work() -> int:
            with self.db.atomic():
                return int(self.db.execute_sql(sql, params).rowcount)
        return self._run(work)

    def _run(self, work: Any) -> Any:
        if self.db.in_transaction():  # inside the caller's transaction: let the caller handle it
            return work()
        try:
            return work()
        except peewee.PeeweeException as exc:
            self._drop_connection()
            raise LeaseStoreUnavailable(f"lease database: {_first_line(exc)}") from exc

    def _abandon(self, txn: Any, exc: BaseException) -> None:
        """Roll back a transaction whose fencing check did not pass (or could not run)."""
        try:
            txn.__exit__(type(exc), exc, exc.__traceback__)
        except peewee.PeeweeException:
            pass  # the connection is dead: the server rolls back on its own
        if isinstance(exc, peewee.PeeweeException):
            self._drop_connection()

    def _drop_connection(self) -> None:
        """After an error the connection may be dead; the next call opens a fresh one."""
        if self.db.in_transaction():
            return
        try:
            self.db.close()
        except peewee.PeeweeException:
            self.db.dispose()


def _lease(row: tuple[Any, ...]) -> Lease:
    """A lease from its row; an acquisition's row also says who held it before and whether
    that holder released it (a hand-over) or let it expire (a takeover)."""
    previous = str(row[5]) if len(row) > 6 and row[5] is not None else None
    return Lease(account=str(row[0]), owner=str(row[1]), epoch=int(row[2]),
                 expires_at_ms=int(row[3]), renewed_at_ms=int(row[4]),
                 previous_owner=previous, handed_over=len(row) > 6 and bool(row[6]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_REGISTRY_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cluster_nodes (
    node VARCHAR(200) NOT NULL PRIMARY KEY,
    pid BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    accounts VARCHAR(4000) NOT NULL,
    version VARCHAR(200) NOT NULL DEFAULT '',
    ready INTEGER NOT NULL DEFAULT 1,
    configured VARCHAR(4000) NOT NULL DEFAULT ''
)""",
    """CREATE TABLE IF NOT EXISTS cluster_takeovers (
    account VARCHAR(64) NOT NULL,
    epoch BIGINT NOT NULL,
    node VARCHAR(200) NOT NULL,
    previous_owner VARCHAR(200),
    kind VARCHAR(20) NOT NULL,
    acquired_ms BIGINT NOT NULL,
    ready_ms BIGINT NOT NULL,
    PRIMARY KEY (account, epoch)
)""",
)


FORGET_MS = 3_600_000
"""A node row not beaten for this long (a node killed without leaving) is deleted; until then
`bot.py cluster` shows it as stale. Takeovers keep their own journal (cluster_takeovers)."""


class ClusterRegistry:
    """Which nodes are alive (a heartbeat row each, on the database clock) and the journal of
    takeovers: what balancing reads and `bot.py cluster` shows."""

    def __init__(self, db: peewee.Database, version: str = "",
                 configured: list[str] | None = None) -> None:
        """`version`: the code this process runs (runtime.wiring.running_version), written with
        each heartbeat so `bot.py cluster` shows what every node runs (incident 12);
        `configured`: the node's configured accounts (balancing assumes every node's are the
        same, cluster/balance.py `AccountListWatch`)."""
        self.db = db
        self.version = version
        self.configured = ",".join(sorted(configured or []))
        now = now_ms_sql(db)
        p = db.param
        # a node id can be configured (cluster.node_id): the same row then belongs to a new
        # process after a restart, whose pid, start and version replace the old ones (its first
        # beat sets the start: a container's bot is pid 1 on every start)
        beat = (
            "INSERT INTO cluster_nodes (node, pid, started_ms, seen_ms, accounts, version, ready, "
            f"configured) VALUES ({p}, {p}, {now}, {now}, {p}, {p}, {p}, {p}) ON CONFLICT (node) "
            "DO UPDATE SET seen_ms = excluded.seen_ms, accounts = excluded.accounts, "
            "pid = excluded.pid, version = excluded.version, ready = excluded.ready, "
            "configured = excluded.configured")
        self._first_beat_sql = beat + ", started_ms = excluded.started_ms"
        self._beat_sql = beat
        self._beaten = False
        self._nodes_sql = (f"SELECT node, pid, started_ms, seen_ms, accounts, {now}, version, "
                           "ready, configured FROM cluster_nodes ORDER BY node")
        self._leave_sql = f"DELETE FROM cluster_nodes WHERE node = {p}"
        self._forget_sql = f"DELETE FROM cluster_nodes WHERE seen_ms < {now} - {p}"
        self._takeover_sql = (
            "INSERT INTO cluster_takeovers (account, epoch, node, previous_owner, kind, "
            f"acquired_ms, ready_ms) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {now}) "
            "ON CONFLICT (account, epoch) DO NOTHING")
        self._history_sql = (
            "SELECT account, epoch, node, previous_owner, kind, acquired_ms, ready_ms "
            f"FROM cluster_takeovers ORDER BY ready_ms DESC, account LIMIT {p}")
        self._last_takeover_sql = (
            "SELECT account, epoch, node, previous_owner, kind, acquired_ms, ready_ms "
            "FROM cluster_takeovers WHERE kind = 'takeover' ORDER BY ready_ms DESC, account "
            "LIMIT 1")

    def create_tables(self) -> None:
        def work() -> None:
            with self.db.atomic():
                for sql in _REGISTRY_SCHEMA:
                    self.db.execute_sql(sql)
                self._add_columns()
        _guarded(self.db, lambda: _created_once(work))

    def _add_columns(self) -> None:
        """A registry created by an earlier release gets the later columns (version: '' until
        a row beats; ready: 1, as older nodes never say otherwise; configured: '', unknown)."""
        cursor = self.db.execute_sql("SELECT * FROM cluster_nodes WHERE 1 = 0")
        have = {d[0] for d in cursor.description}
        for name, ddl in (("version", "VARCHAR(200) NOT NULL DEFAULT ''"),
                          ("ready", "INTEGER NOT NULL DEFAULT 1"),
                          ("configured", "VARCHAR(4000) NOT NULL DEFAULT ''")):
            if name not in have:  # (IF NOT EXISTS: PostgreSQL, where two nodes may start at
                # once; SQLite has no cluster of processes to race)
                guard = "IF NOT EXISTS " if isinstance(self.db, peewee.PostgresqlDatabase) else ""
                self.db.execute_sql(f"ALTER TABLE cluster_nodes ADD COLUMN {guard}{name} {ddl}")

    def heartbeat(self, node: str, pid: int, accounts: list[str], ready: bool = True) -> None:
        """`ready` False: the node's account starts are failing (cluster/start_backoff.py), so
        balancing does not count it as a node that can take a share."""
        sql = self._beat_sql if self._beaten else self._first_beat_sql
        params = (node, pid, ",".join(accounts), self.version, int(ready), self.configured)
        _guarded(self.db, lambda: self._write((sql, params)))
        self._beaten = True
        try:  # its own transaction: tidying must never cost a beat (the next beat tries again)
            _guarded(self.db, lambda: self._write((self._forget_sql, (FORGET_MS,))))
        except LeaseStoreUnavailable:
            pass

    def leave(self, node: str) -> None:
        _guarded(self.db, lambda: self._write((self._leave_sql, (node,))))

    def nodes(self) -> tuple[int, list[dict[str, Any]]]:
        """(database clock ms, one dict per registered node: node, pid, started_ms, seen_ms,
        accounts, version, ready, configured (None: unknown)); a node is live while now -
        seen_ms is within the lease TTL."""
        rows = _guarded(self.db, lambda: self.db.execute_sql(self._nodes_sql).fetchall())
        if not rows:
            now_row = _guarded(
                self.db, lambda: self.db.execute_sql(f"SELECT {now_ms_sql(self.db)}").fetchone())
            return int(now_row[0]), []
        return int(rows[0][5]), [
            {"node": str(r[0]), "pid": int(r[1]), "started_ms": int(r[2]), "seen_ms": int(r[3]),
             "accounts": [a for a in str(r[4]).split(",") if a], "version": str(r[6] or ""),
             "ready": r[7] is None or bool(r[7]),
             "configured": [a for a in str(r[8] or "").split(",") if a] or None}
            for r in rows]

    def record_takeover(self, lease: Lease, kind: str) -> None:
        """Journal an acquisition once the account runs again (ready_ms: database clock)."""
        params = (lease.account, lease.epoch, lease.owner, lease.previous_owner, kind,
                  lease.renewed_at_ms)
        _guarded(self.db, lambda: self._write((self._takeover_sql, params)))

    def takeovers(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = _guarded(self.db,
                        lambda: self.db.execute_sql(self._history_sql, (limit,)).fetchall())
        return [dict(zip(_TAKEOVER_KEYS, r, strict=True)) for r in rows]

    def last_takeover(self) -> dict[str, Any] | None:
        """The latest acquisition of an expired lease (kind 'takeover'), however many
        hand-overs and first starts came after it (those fill `takeovers`)."""
        row = _guarded(self.db,
                       lambda: self.db.execute_sql(self._last_takeover_sql).fetchone())
        return None if row is None else dict(zip(_TAKEOVER_KEYS, row, strict=True))

    def _write(self, *statements: Any) -> None:
        with self.db.atomic():
            for sql, params in statements:
                self.db.execute_sql(sql, params)


_CREATE_TRIES = 3


def _created_once(create: Any) -> Any:
    """Run `create` (CREATE TABLE IF NOT EXISTS ...), again after a concurrent creator won:
    on PostgreSQL the statement waits for a creator whose transaction is still open and then
    fails on a catalog index (pg_type's unique name) instead of finding the table, so nodes
    started at once on a fresh database refused to start. Run again, it finds the table."""
    for attempt in range(1, _CREATE_TRIES + 1):
        try:
            return create()
        except peewee.IntegrityError:
            if attempt == _CREATE_TRIES:
                raise
    return None


_TAKEOVER_KEYS = ("account", "epoch", "node", "previous_owner", "kind", "acquired_ms",
                  "ready_ms")


def _guarded(db: peewee.Database, work: Any) -> Any:
    """Run `work`; a database error becomes LeaseStoreUnavailable (one line, connection
    dropped so the next call opens a fresh one)."""
    try:
        return work()
    except peewee.PeeweeException as exc:
        try:
            db.close()
        except peewee.PeeweeException:
            pass
        raise LeaseStoreUnavailable(f"cluster database: {_first_line(exc)}") from exc


def lease_check_in(db: peewee.Database, lease: Lease) -> None:
    """`LeaseStore.check` on another database object's connection (the repository's, inside its
    commit transaction, when the account's storage is the cluster database): raise `LeaseLost`
    unless `lease` is still the account's and unexpired on the database clock."""
    p = db.param
    sql = ("UPDATE leases SET epoch = epoch "
           f"WHERE account = {p} AND owner = {p} AND epoch = {p} "
           f"AND expires_at_ms > {now_ms_sql(db)}")
    if db.execute_sql(sql, (lease.account, lease.owner, lease.epoch)).rowcount != 1:
        raise LeaseLost(lease.account, lease.epoch, lease.owner)
