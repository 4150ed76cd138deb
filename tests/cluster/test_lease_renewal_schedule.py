"""The keeper renews a third of the TTL after the previous renewal was SENT (the deadline counts
from the send too), so slow answers do not add up: with answers 0.4 s late (ttl 1.5 s, margin
0.4 s) the old schedule, ttl/3 after each answer, let the local deadline pass on the second
renewal while the lease in the database was still valid. Real SQLite underneath; the latency
is a jump of the keeper's own clock, not a sleep."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cluster import Lease, LeaseKeeper, LeaseSettings
from storage.leases import LeaseStore
from tests.cluster.leases_support import FAST, make_store
from tests.support.waiting import wait_until


class SteppedClock:
    """The monotonic clock plus an offset the test moves forward (a call's latency)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


class LateAnswers:
    """The real store; each renewal answers `latency_s` after it was sent (keeper's clock).
    Notes, as each answer arrives, whether the keeper could still act then."""

    def __init__(self, inner: LeaseStore, clock: SteppedClock, latency_s: float) -> None:
        self.inner, self.clock, self.latency_s = inner, clock, latency_s
        self.keeper: LeaseKeeper | None = None
        self.acting_at_answer: list[bool] = []

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        self.clock.advance(self.latency_s)
        assert self.keeper is not None
        self.acting_at_answer.append(self.keeper.may_act())
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        return self.inner.takeover_view(account)


def test_slow_renewals_do_not_let_the_local_deadline_pass(tmp_path: Path) -> None:
    clock = SteppedClock()
    inner = make_store(str(tmp_path / "leases.sqlite"))
    # a renewal may answer up to ttl - margin - ttl/3 = 0.6 s late; 0.4 s twice in a row
    # made the old schedule miss its deadline (0.4 + 0.5 + 0.4 > 1.1)
    store = LateAnswers(inner, clock, latency_s=0.4)
    keeper = LeaseKeeper(store=store, account="alpha", node_id="node-a", settings=FAST,
                         monotonic=clock)
    store.keeper = keeper
    keeper.start()
    try:
        wait_until(lambda: len(store.acting_at_answer) >= 6, timeout=10,
                   message="six renewals answered")
        assert all(store.acting_at_answer[:6]), store.acting_at_answer
        lease = inner.current("alpha")
        assert lease is not None and lease.epoch == 1  # never lost, never re-acquired
    finally:
        keeper.stop(release=True)


def test_the_margin_must_leave_two_renewal_periods() -> None:
    LeaseSettings(ttl_s=3.0, safety_margin_s=1.0)  # the README defaults: exactly ttl/3
    LeaseSettings(ttl_s=0.6, request_timeout_s=0.1, safety_margin_s=0.2)
    with pytest.raises(ValueError, match="safety_margin_s: must be > 0 and <= 1/3 of ttl_s"):
        LeaseSettings(ttl_s=3.0, safety_margin_s=1.5)
