"""The lease check inside every commit of a node's account (the repository's commit guard).

Called by the repository's writer inside each commit's transaction, after the unit's writes and
before the commit: it raises `LeaseLost` (the unit rolls back) unless this node may still act
on the account. Two checks:
- the node's own deadline (LeaseKeeper.acting_lease: monotonic clock, stops before expiry even
  when the database or the keeper thread hangs);
- when the account's storage is the cluster's PostgreSQL database, the lease row itself, by a
  conditional UPDATE in the same transaction (storage.leases: it takes the row lock, so a
  takeover waits for this commit and this commit fails after a takeover: never interleaved).
  An account on SQLite (nodes sharing one machine) has only the first check.
"""

from __future__ import annotations

import peewee

from cluster.keeper import LeaseHolder
from cluster.lease import LeaseLost
from storage.leases import lease_check_in


class CommitFence:
    """`Repository(commit_guard=CommitFence(keeper, in_database=...))`."""

    def __init__(self, keeper: LeaseHolder, *, in_database: bool) -> None:
        self._keeper = keeper
        self._in_database = in_database

    def __call__(self, db: peewee.Database) -> None:
        lease = self._keeper.acting_lease()
        if lease is None:
            last = self._keeper.last_lease()
            raise LeaseLost(self._keeper.account, last.epoch if last else 0,
                            self._keeper.node_id)
        if self._in_database:
            lease_check_in(db, lease)

    def __repr__(self) -> str:  # shows in a failed commit's log line
        return f"CommitFence({self._keeper.account})"
