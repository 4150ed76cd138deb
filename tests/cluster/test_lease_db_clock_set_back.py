"""The database clock set back (NTP correcting a server that ran ahead, a VM restored) while a
lease's holder is dead. Found by review: the row's expiry lay an hour ahead of the set-back
clock, so no node could take the account for that hour (nobody trading it, its positions
managed by nobody) although nothing held it. A live holder's next renewal brings its row back
in line (renewed_at = the database's now), so a row more than the TTL ahead that a keeper has
seen unchanged for ttl + grace on its own monotonic clock is a dead holder's: the keeper takes
it, as it takes an expired one. A live holder keeps its lease. Real SQLite and PostgreSQL, real
keeper threads; the set-back is written into the row (the same as the clock going back)."""

from __future__ import annotations

import time
from pathlib import Path

from cluster import LeaseKeeper, LeaseSettings, LeaseStore
from tests.cluster.leases_support import FAST, make_store, wait_acting
from tests.support.waiting import wait_until

HOUR_MS = 3_600_000


def set_back(store: LeaseStore, ms: int) -> None:
    p = store.db.param
    store.db.execute_sql(f"UPDATE leases SET expires_at_ms = expires_at_ms + {p}, "
                         f"renewed_at_ms = renewed_at_ms + {p}", (ms, ms))


def check_dead_holder_taken(url: str) -> None:
    holder = make_store(url)
    held = holder.acquire("alpha", "node-a")  # then node-a dies
    assert held is not None
    set_back(holder, HOUR_MS)
    taker = LeaseKeeper(store=make_store(url), account="alpha", node_id="node-b",
                        settings=FAST)
    began = time.monotonic()
    taker.start()
    try:
        taken = wait_acting(taker, "node-b takes alpha", timeout=15)
        assert time.monotonic() - began >= FAST.ttl_s + FAST.request_timeout_s
        assert taken.epoch == held.epoch + 1 and not taken.handed_over
        assert taken.previous_owner == "node-a"
    finally:
        taker.stop(release=True)


def test_a_dead_holders_lease_is_taken_after_the_clock_was_set_back_sqlite(
        tmp_path: Path) -> None:
    check_dead_holder_taken(str(tmp_path / "leases.sqlite"))


def test_a_dead_holders_lease_is_taken_after_the_clock_was_set_back_postgres(
        pg_url: str) -> None:
    check_dead_holder_taken(pg_url)


SLOW = LeaseSettings(ttl_s=6.0, request_timeout_s=1.0, safety_margin_s=1.0)
"""Renewals every 2 s against a taker's wait of 7 s: a loaded machine cannot stall the holder's
renewal past the taker's wait."""


def test_a_live_holder_keeps_its_lease_after_the_clock_was_set_back(tmp_path: Path) -> None:
    path = str(tmp_path / "leases.sqlite")
    holder = LeaseKeeper(store=make_store(path, SLOW), account="alpha", node_id="node-a",
                         settings=SLOW).start()
    observer = make_store(path, SLOW)
    taker = None
    try:
        held = wait_acting(holder, "node-a takes alpha")
        set_back(observer, HOUR_MS)
        taker = LeaseKeeper(store=make_store(path, SLOW), account="alpha", node_id="node-b",
                            settings=SLOW).start()
        began = time.monotonic()
        wait_until(lambda: (r := observer.current("alpha")) is not None
                   and r.renewed_at_ms <= observer.db_now_ms(), timeout=10,
                   message="node-a renews its row back in line")
        wait_until(lambda: time.monotonic() - began > SLOW.ttl_s + SLOW.request_timeout_s + 1,
                   timeout=30, message="past the taker's wait")
        assert holder.acting_lease() is not None and holder.acting_lease().epoch == held.epoch
        assert taker.acting_lease() is None
        current = observer.current("alpha")
        assert current is not None and current.owner == "node-a"
    finally:
        if taker is not None:
            taker.stop(release=False)
        holder.stop(release=True)
