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
    handed_over INTEGER NOT NULL DEFAULT 0,
    grace_ms BIGINT NOT NULL DEFAULT 0
)"""

_GRACE_COLUMN = "grace_ms BIGINT NOT NULL DEFAULT 0"
"""The holder's takeover grace (its exchange request timeout, `LeaseSettings.takeover_grace_ms`):
a taker waits the longer of its own and this one after expiry. Found by review: each node
waited its own, so a node configured with a shorter cluster.exchange_timeout_ms than the holder
took the account over while the holder's last request could still be in flight. A row of an
earlier release holds 0 (the taker's own grace, as before)."""


class LeaseStore:
    """Acquire, renew, release and check account leases (one instance per node; peewee gives
    each thread its own connection)."""

    def __init__(self, db: peewee.Database, settings: LeaseSettings) -> None:
        self.db = db
        self.settings = settings
        now = now_ms_sql(db)
        p = db.param
        grace = f"CASE WHEN leases.grace_ms > {p} THEN leases.grace_ms ELSE {p} END"
        self._acquire_sql = (
            f"INSERT INTO leases ({_COLUMNS}, last_holder, handed_over, grace_ms) "
            f"VALUES ({p}, {p}, 1, {now} + {p}, {now}, {p}, 0, {p}) "
            "ON CONFLICT (account) DO UPDATE SET owner = excluded.owner, "
            "epoch = leases.epoch + 1, expires_at_ms = excluded.expires_at_ms, "
            "renewed_at_ms = excluded.renewed_at_ms, previous_holder = leases.last_holder, "
            "last_holder = excluded.owner, grace_ms = excluded.grace_ms, "
            "handed_over = CASE WHEN leases.owner IS NULL THEN 1 ELSE 0 END "
            f"WHERE leases.owner IS NULL OR leases.expires_at_ms + {grace} < {now} "
            f"OR leases.renewed_at_ms > {now} + {p} "  # AHEAD: see `acquire`
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
            f"SELECT owner, CASE WHEN renewed_at_ms > {now} + {p} THEN 0 ELSE "
            f"expires_at_ms + {grace.replace('leases.', '')} + 1 - {now} END, epoch, "
            f"renewed_at_ms, grace_ms FROM leases WHERE account = {p}")

    def create_table(self) -> None:
        self._run(lambda: created_once(lambda: self.db.execute_sql(_SCHEMA)))
        self._run(self._add_grace_column)

    def _add_grace_column(self) -> None:
        """A leases table of an earlier release gets `grace_ms` (IF NOT EXISTS on PostgreSQL,
        where nodes may start at once); another application's table named leases is left as
        it is."""
        cursor = self.db.execute_sql("SELECT * FROM leases WHERE 1 = 0")
        have = {d[0] for d in cursor.description}
        if "grace_ms" not in have and {"epoch", "expires_at_ms", "renewed_at_ms"} <= have:
            guard = "IF NOT EXISTS " if isinstance(self.db, peewee.PostgresqlDatabase) else ""
            self.db.execute_sql(f"ALTER TABLE leases ADD COLUMN {guard}{_GRACE_COLUMN}")

    def exists(self) -> bool:
        """Whether the database has the leases table (a node has run against it)."""
        return bool(self._run(lambda: self.db.table_exists("leases")))

    def acquire(self, account: str, owner: str) -> Lease | None:
        """Take the account if nobody holds it, or its lease expired more than the takeover
        grace ago; returns the new lease (epoch + 1) or None when someone else holds it.

        Also a row renewed more than the TTL AHEAD of the database clock: the clock was set
        back since, and a live holder's next renewal (within TTL/3) brings its row back in
        line, so the keeper, which takes it only once it has seen it unchanged for ttl + grace
        on its own clock, takes a dead holder's (found by review: it stayed out of reach for
        as long as the clock was set back, the account traded by no node)."""
        grace, ttl = self.settings.takeover_grace_ms, self.settings.ttl_ms
        params = (account, owner, ttl, owner, grace, grace, grace, ttl)
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
            raise LeaseStoreUnavailable(f"lease database: {first_line(exc)}") from exc
        try:
            self.check(lease.account, lease.epoch, lease.owner)
        except BaseException as exc:
            self._abandon(txn, exc)
            if isinstance(exc, peewee.PeeweeException):
                raise LeaseStoreUnavailable(f"lease database: {first_line(exc)}") from exc
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

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int, int] | None]:
        """(`takeover_in_s`, the holder's row as (owner, epoch, renewed_at_ms, grace_ms) or None
        when nobody holds the account): one read for a keeper waiting to acquire."""
        grace = self.settings.takeover_grace_ms
        params = (self.settings.ttl_ms, grace, grace, account)
        row = self._one(self._takeable_sql, params, write=False)
        if row is None or row[0] is None:
            return 0.0, None
        return max(int(row[1]), 0) / 1000, (str(row[0]), int(row[2]), int(row[3]), int(row[4]))

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
            raise LeaseStoreUnavailable(f"lease database: {first_line(exc)}") from exc

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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_CREATE_TRIES = 3


def created_once(create: Any) -> Any:
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
