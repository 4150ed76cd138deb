"""A renewal that answers late gives the node the right to act only until the time it was SENT
+ ttl - safety margin (README, Cluster: "the node may act only until (time the renewal was
*sent*) + ttl - safety margin, on its monotonic clock, so it stops before the database can let
the lease expire").

The database sets the expiry from its clock when it runs the renewal, which is at or before the
answer comes back: counted from the answer, the node's deadline moved past the expiry by the
answer's delay minus the margin. Mutation audit X (issue 13): the deadline counted from the
answer (`_settle` given the time the answer arrived) failed no test; the existing hang test
lets the late answer land after the deadline had passed, where both counts agree. With it, a
node whose renewal answers 0.6 s late (ttl 1.5 s, margin 0.4 s) kept sending for 0.2 s after
its lease had expired in the database, into the takeover grace of another node.

Real PostgreSQL under the keeper; the answer's delay is a step of the keeper's own monotonic
clock (injected through its constructor), not a sleep."""

from __future__ import annotations

import threading

from cluster import Lease, LeaseKeeper
from storage.leases import LeaseStore
from tests.cluster.leases_support import FAST, make_store
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until

_LATE_S = 0.6
"""How long after it was sent (and run by the database) the renewal's answer arrives: more
than the safety margin (0.4 s), less than ttl - margin - ttl/3 (the renewal is still in time)."""


class LateThenHung:
    """The real store. Once `late` is set: the next renewal runs in the database, then its answer
    arrives `_LATE_S` later on the keeper's clock; every renewal after it hangs (the database
    stops answering) until the test ends, so that answer is the last one the keeper gets."""

    def __init__(self, inner: LeaseStore, clock: ManualClock) -> None:
        self.inner, self.clock = inner, clock
        self.late = threading.Event()
        self.hung = threading.Event()
        self.gate = threading.Event()
        self.sent_at: float | None = None
        self.answer: Lease | None = None

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if not self.late.is_set():
            return self.inner.renew(lease)
        if self.sent_at is not None:
            self.hung.set()
            self.gate.wait(30)
            return None
        self.sent_at = self.clock()
        self.answer = self.inner.renew(lease)
        self.clock.advance(_LATE_S)
        return self.answer

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int, int] | None]:
        return self.inner.takeover_view(account)


def test_a_late_answer_counts_from_when_the_renewal_was_sent(pg_url: str) -> None:
    clock = ManualClock(start=1000.0)
    store = LateThenHung(make_store(pg_url), clock)
    keeper = LeaseKeeper(store=store, account="alpha", node_id="node-a", settings=FAST,
                         monotonic=clock)
    keeper.start()
    try:
        wait_until(keeper.may_act, timeout=30, message="acquired")
        store.late.set()
        # the next renewal blocks only after the keeper took in the late answer
        wait_until(store.hung.is_set, timeout=30, message="late answer taken in")
        assert store.answer is not None and store.sent_at is not None
        assert store.answer.expires_at_ms - store.answer.renewed_at_ms == FAST.ttl_ms
        sent = store.sent_at
        assert clock() == sent + _LATE_S
        # the database ran the renewal after it was sent, so its expiry is at least sent + ttl
        # on this clock; the node acts until sent + ttl - margin = sent + 1.1 s, not longer
        clock.advance(sent + FAST.ttl_s - FAST.safety_margin_s - 0.05 - clock())
        assert keeper.may_act()
        clock.advance(0.1)
        assert not keeper.may_act() and keeper.acting_lease() is None, (
            "still acting past (renewal sent) + ttl - margin: the deadline counted from the "
            "late answer")
    finally:
        store.gate.set()
        keeper.stop(release=True)
