"""The cluster registry: which nodes are alive, and the journal of takeovers.

A heartbeat row per node (cluster_nodes) and one row per account acquisition once the account
runs again (cluster_takeovers), both on the database clock: what balancing reads and
`bot.py cluster` shows. Split out of storage/leases.py, which keeps the leases themselves.
"""

from __future__ import annotations

from typing import Any

import peewee

from cluster.lease import Lease, LeaseStoreUnavailable
from cluster.node_id_claim import in_use, live_holder
from storage.cluster_database import now_ms_sql
from storage.leases import created_once, first_line

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
                 configured: list[str] | None = None, claim_ttl_ms: int | None = None) -> None:
        """`version`: the code this process runs (runtime.wiring.running_version), written with
        each heartbeat so `bot.py cluster` shows what every node runs (incident 12);
        `configured`: the node's configured accounts (balancing assumes every node's are the
        same, cluster/balance.py `AccountListWatch`); `claim_ttl_ms`: the node id is
        configured (`cluster.node_id`), so the first beat takes its row only when no live node
        beats under it (cluster/node_id_claim.py: its `claim` only looks, and two processes
        started at once both found the id free), else raises NodeIdInUse."""
        self.db = db
        self._claim_ttl_ms = claim_ttl_ms
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
        # the row of a node that is not live (cluster/balance.py `fresh`): older than the TTL,
        # or more than the TTL ahead of the database clock
        self._claim_beat_sql = (
            f"{self._first_beat_sql} WHERE cluster_nodes.seen_ms < {now} - {p} "
            f"OR cluster_nodes.seen_ms > {now} + {p} RETURNING node")
        self._beat_sql = beat
        self._beaten = False
        self._nodes_sql = _nodes_sql(now, _LATER_COLUMNS)
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
        _guarded(self.db, lambda: created_once(work))

    def read_as_it_is(self) -> None:
        """For `bot.py cluster`, an operator's look that must change nothing (and may run with a
        role that can only read): a registry of an earlier release is read as it is, a later
        column it lacks read as its default, instead of added by `create_tables` (found by
        review: the command altered the live cluster's table, waiting on a node's open
        transaction for the ACCESS EXCLUSIVE lock, and a read-only role was refused). No
        registry at all (only leases): no nodes and no takeovers."""
        def columns() -> set[str] | None:
            if not self.db.table_exists("cluster_nodes"):
                return None
            cursor = self.db.execute_sql("SELECT * FROM cluster_nodes WHERE 1 = 0")
            return {d[0] for d in cursor.description}
        have = _guarded(self.db, columns)
        if have is None:
            none = "SELECT 1 WHERE 1 = 0"
            self._nodes_sql, self._last_takeover_sql = none, none
            self._history_sql = f"{none} LIMIT {self.db.param}"
            return
        self._nodes_sql = _nodes_sql(now_ms_sql(self.db), have)

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
        if not self._beaten and self._claim_ttl_ms is not None:
            self._claim_beat(node, params, self._claim_ttl_ms)
        else:
            _guarded(self.db, lambda: self._write((sql, params)))
        self._beaten = True
        try:  # its own transaction: tidying must never cost a beat (the next beat tries again)
            _guarded(self.db, lambda: self._write((self._forget_sql, (FORGET_MS,))))
        except LeaseStoreUnavailable:
            pass

    def _claim_beat(self, node: str, params: tuple[Any, ...], ttl_ms: int) -> None:
        def work() -> Any:
            with self.db.atomic():
                return self.db.execute_sql(self._claim_beat_sql,
                                           (*params, ttl_ms, ttl_ms)).fetchone()
        if _guarded(self.db, work) is None:  # another process beats under this id
            raise in_use(node, live_holder(self, node, ttl_ms))

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


_LATER_COLUMNS = {"version": "''", "ready": "1", "configured": "''"}
"""The columns added after the registry's first release, each with the value an earlier
release's row means (`_add_columns` gives them the same defaults)."""


def _nodes_sql(now: str, have: Any) -> str:
    """The nodes' read, a later column the table lacks (not in `have`) read as its default."""
    later = ", ".join(c if c in have else f"{d} AS {c}" for c, d in _LATER_COLUMNS.items())
    return (f"SELECT node, pid, started_ms, seen_ms, accounts, {now}, {later} "
            "FROM cluster_nodes ORDER BY node")


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
        raise LeaseStoreUnavailable(f"cluster database: {first_line(exc)}") from exc
