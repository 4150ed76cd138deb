"""Lease expiry is decided on the database clock; if that clock steps forward, a live holder's
row looks expired at once. A keeper waiting to take the account therefore also waits until it
has seen the holder's row unchanged for ttl + grace on its own monotonic clock (the holder,
whose renewals the stepped database now refuses, stops acting well within that). A row nobody
holds is still taken at once. Real SQLite; the clock step is written into the row (the same
as the database clock running 100 s ahead of it)."""

from __future__ import annotations

import time
from pathlib import Path

from cluster import LeaseKeeper
from tests.cluster.leases_support import FAST, make_store, wait_acting

STEP_MS = 100_000


def test_a_database_clock_step_does_not_cut_the_holders_time_short(tmp_path: Path) -> None:
    path = str(tmp_path / "leases.sqlite")
    holder = make_store(path)
    held = holder.acquire("alpha", "node-a")
    assert held is not None
    holder.db.execute_sql("UPDATE leases SET expires_at_ms = expires_at_ms - ?, "
                          "renewed_at_ms = renewed_at_ms - ?", (STEP_MS, STEP_MS))
    assert holder.takeover_in_s("alpha") == 0.0  # the database would hand it over now
    taker = LeaseKeeper(store=make_store(path), account="alpha", node_id="node-b",
                        settings=FAST)
    began = time.monotonic()
    taker.start()
    try:
        taken = wait_acting(taker, "node-b takes alpha", timeout=10)
        waited = time.monotonic() - began
        assert waited >= FAST.ttl_s + FAST.request_timeout_s
        assert taken.epoch == held.epoch + 1 and not taken.handed_over
    finally:
        taker.stop(release=True)
    # released (nobody holds it): the next keeper takes it without waiting. Its monotonic
    # clock stands still, so a keeper that waited any time on it would never take it (a
    # bound on the real time taken failed when a loaded machine stalled the start)
    frozen = time.monotonic()
    again = LeaseKeeper(store=make_store(path), account="alpha", node_id="node-c",
                        settings=FAST, monotonic=lambda: frozen)
    again.start()
    try:
        taken = wait_acting(again, "node-c takes the released alpha", timeout=10)
        assert taken.handed_over
    finally:
        again.stop(release=True)
