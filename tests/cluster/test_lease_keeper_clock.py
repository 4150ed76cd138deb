"""may_act() runs out on the node's monotonic clock even while the keeper thread hangs inside a
renewal: a store (real SQLite underneath) whose renew blocks until the test lets it go, and a
monotonic clock the test moves by hand."""

from __future__ import annotations

import threading
from pathlib import Path

from cluster import Lease, LeaseKeeper
from storage.leases import LeaseStore
from tests.cluster.leases_support import FAST, make_store
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until


class HangingStore:
    """Delegates to a real store; while `hang` is set, renew blocks until `release_gate`."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.hang = threading.Event()
        self.blocked = threading.Event()
        self.release_gate = threading.Event()
        self.renewals = 0

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if self.hang.is_set():
            self.blocked.set()
            self.release_gate.wait(30)
            self.blocked.clear()
            self.hang.clear()
        self.renewals += 1
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        return self.inner.takeover_view(account)


def test_may_act_runs_out_by_the_local_clock_while_renewal_hangs(tmp_path: Path) -> None:
    clock = ManualClock(start=1000.0)
    store = HangingStore(make_store(str(tmp_path / "leases.sqlite")))
    keeper = LeaseKeeper(store=store, account="alpha", node_id="node-a", settings=FAST,
                         monotonic=clock)
    keeper.start()
    try:
        wait_until(keeper.may_act, timeout=30, message="acquired")
        store.hang.set()
        wait_until(store.blocked.is_set, timeout=30, message="keeper blocked inside renew")
        # every successful call so far was sent at 1000.0: deadline 1000 + 1.5 - 0.4 = 1001.1
        clock.advance(1.0)
        assert keeper.may_act()
        clock.advance(0.2)
        assert not keeper.may_act() and keeper.acting_lease() is None
        assert store.blocked.is_set()  # the keeper thread is still stuck: the clock decided
        renewals_before = store.renewals
        store.release_gate.set()
        wait_until(lambda: store.renewals > renewals_before, timeout=30, message="late answer")
        # a late answer counts from when it was SENT (1000.0, already past); a renewal sent
        # after the clock moved (1001.2) gives the right to act back
        wait_until(keeper.may_act, timeout=30, message="next renewal restores may_act")
        lease = keeper.acting_lease()
        assert lease is not None and lease.epoch == 1
    finally:
        keeper.stop(release=True)
    assert not keeper.may_act()
