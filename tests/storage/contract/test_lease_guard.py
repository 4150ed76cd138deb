"""PostgreSQL only: the commit guard as the cluster uses it. The account's lease (storage/leases.py,
table in the database's public schema) is checked inside every commit transaction on the
repository's own connection: once another node took the account over, the old holder's
commit is refused and leaves nothing."""

from __future__ import annotations

from typing import Any

import pytest

from cluster.lease import LeaseLost
from storage import queries
from storage.leases import LeaseStore
from tests.cluster.leases_support import FAST, make_store
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_concurrency import commit
from tests.storage.contract.test_state import SYM
from tests.support.waiting import wait_until


def test_a_node_that_lost_its_lease_cannot_commit(pg_backend: Backend):
    node_a, node_b = make_store(pg_backend.url), make_store(pg_backend.url)
    lease = node_a.acquire("main", "node-a")
    assert lease is not None and lease.epoch == 1
    checks: list[int] = []

    def guard(db: Any) -> None:  # the repository's connection, inside the commit transaction
        checks.append(lease.epoch)
        LeaseStore(db, FAST).check(lease.account, lease.epoch, lease.owner)

    repo = pg_backend.open("main", commit_guard=guard)
    inc = repo.claim(SYM)
    repo.record(SYM, "Note", {"by": "a", "i": 1}, correlation_id="a1")
    taken = wait_until(lambda: node_b.acquire("main", "node-b"), timeout=15,
                       message="node b takes the expired lease")
    assert taken.epoch == 2
    with pytest.raises(LeaseLost):
        repo.record(SYM, "Note", {"by": "a", "i": 2}, correlation_id="a2")
    with pytest.raises(LeaseLost):
        commit(repo, inc, 5)  # passes its incarnation fence, refused by the lease
    assert [e["data"]["i"] for e in repo.read(queries.events, SYM, "Note")] == [1]
    assert repo.read(queries.actor_rows)[SYM].order_seq == 0
    assert len(checks) >= 4
