"""A taker's own-clock wait covers the holder's takeover grace, not only its own.

Each lease row records its holder's grace (its exchange request timeout) and the database check
waits the longer of the holder's and the taker's. The taker's second wait, on its own monotonic
clock (so that a database clock stepped forward cannot cut the holder's time short), used the
taker's own grace only: with the database clock stepped and a taker configured with a shorter
exchange timeout than the holder, the taker acquired the account while the holder's last
request could still be in flight. Found by review (a sibling of the per-holder grace fix).
Real SQLite lease table; the clock step is written into the row, as in
test_lease_db_clock_step.py; the taker's monotonic clock is injected and moved by the test."""

from __future__ import annotations

from pathlib import Path

from cluster import Lease, LeaseKeeper, LeaseSettings, LeaseStore
from tests.cluster.leases_support import FAST, make_store, wait_acting
from tests.support.waiting import wait_until

STEP_MS = 100_000
HOLDER = LeaseSettings(ttl_s=FAST.ttl_s, request_timeout_s=3.0,
                       safety_margin_s=FAST.safety_margin_s)
"""The holder's exchange timeout is six times the taker's (FAST: 0.5 s)."""


class Counting:
    """The taker's store, counting its looks and acquisitions."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.looks = self.acquires = 0

    def acquire(self, account: str, owner: str) -> Lease | None:
        self.acquires += 1
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int, int] | None]:
        self.looks += 1
        return self.inner.takeover_view(account)


def test_a_stepped_database_clock_does_not_cut_a_longer_holder_grace_short(
        tmp_path: Path) -> None:
    path = str(tmp_path / "leases.sqlite")
    holder = make_store(path, HOLDER)
    held = holder.acquire("alpha", "node-a")
    assert held is not None
    holder.db.execute_sql("UPDATE leases SET expires_at_ms = expires_at_ms - ?, "
                          "renewed_at_ms = renewed_at_ms - ?", (STEP_MS, STEP_MS))
    assert holder.takeover_in_s("alpha") == 0.0  # the database would hand it over now
    store, clock = Counting(make_store(path)), [1000.0]
    taker = LeaseKeeper(store=store, account="alpha", node_id="node-b", settings=FAST,
                        monotonic=lambda: clock[0])
    taker.start()
    try:
        # its second look began: the first one's answer was taken, at clock 1000
        wait_until(lambda: store.looks >= 2, message="the taker's first look at the row")
        # past ttl + the taker's own grace since it first saw the row, short of ttl + the
        # holder's grace: the holder's last request may still be in flight
        clock[0] += FAST.ttl_s + FAST.request_timeout_s + 0.5
        looks = store.looks
        wait_until(lambda: store.looks >= looks + 2 or store.acquires,
                   message="two looks after the move (or an acquisition)")
        assert store.acquires == 0, "taken within ttl + its own grace, not the holder's"
        assert taker.acting_lease() is None
        clock[0] += HOLDER.request_timeout_s
        taken = wait_acting(taker, "node-b takes alpha after the holder's grace")
        assert taken.epoch == held.epoch + 1 and not taken.handed_over
    finally:
        taker.stop(release=True)
