"""The commit fence asks the keeper whether the node may act NOW (its local deadline), not which
lease it last held: on an account whose storage is not the leases' database (nodes sharing one
machine, `cluster.shared_dir`) that deadline is the only check in the commit (README, Cluster:
"the lease check in the commit is then only the node's own deadline").

Mutation audit X (issue 13): CommitFence taking `keeper.last_lease()` instead of
`keeper.acting_lease()` failed no test, because the existing test's stand-in keeper returns the
same value for both. With it, a node whose renewals hang past its deadline went on committing
to the account's SQLite database while another node could take the account over and trade it:
the stale node's state written into the new owner's database.

A real LeaseKeeper on real PostgreSQL leases (its renewals made to hang, its monotonic clock
injected and moved by hand) and a real SQLite repository with the fence as its commit guard."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cluster import Lease, LeaseKeeper, LeaseLost
from cluster.commit_fence import CommitFence
from storage.leases import LeaseStore
from storage.repository import Repository
from tests.cluster.leases_support import FAST, make_store
from tests.cluster.test_commit_fence import notes
from tests.storage.contract.test_concurrency import SYM, commit
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until


class HungRenewals:
    """The real store; once `hang` is set every renewal blocks (the database stops answering)."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.hang, self.blocked, self.gate = threading.Event(), threading.Event(), threading.Event()

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if self.hang.is_set():
            self.blocked.set()
            self.gate.wait(30)
            return None
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int, int] | None]:
        return self.inner.takeover_view(account)


def test_a_node_past_its_deadline_cannot_commit_to_its_sqlite_account(
        pg_url: str, tmp_path: Path) -> None:
    clock = ManualClock(start=1000.0)
    store = HungRenewals(make_store(pg_url))
    keeper = LeaseKeeper(store=store, account="main", node_id="node-a", settings=FAST,
                         monotonic=clock)
    keeper.start()
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal",
                      commit_guard=CommitFence(keeper, in_database=False))
    try:
        wait_until(keeper.may_act, timeout=30, message="acquired")
        inc = repo.claim(SYM)
        commit(repo, inc, 1)
        store.hang.set()
        wait_until(store.blocked.is_set, timeout=30, message="renewal hangs")
        clock.advance(FAST.ttl_s)  # past every deadline: sent + ttl - margin
        assert not keeper.may_act()
        assert keeper.last_lease() is not None  # the keeper still knows which lease it had
        with pytest.raises(LeaseLost, match="node-a no longer holds account main"):
            commit(repo, inc, 2)
        assert notes(repo) == [1]  # the refused commit left nothing
    finally:
        store.gate.set()
        repo.close()
        keeper.stop(release=True)
