"""A bot outside the cluster is refused an account whose node's lease ended less than the
takeover grace ago, as a node would be.

A node that takes an account over waits the lease's expiry plus the takeover grace (the longest
exchange request timeout: a request the old holder sent just before it stopped has reached the
exchange or failed by then). Found by review: a single bot on the same storage looked only at
whether the lease had expired, so one started in that grace (a node killed, the bot started by
hand or by its service manager right after) restored and reconciled the account while the dead
node's last request could still land. Real PostgreSQL."""

from __future__ import annotations

import pytest

from cluster import LeaseSettings, LeaseStore, open_database
from storage.pg_lock import LeasedToNode, SchemaLock
from tests.support.waiting import wait_until

GRACE = LeaseSettings(ttl_s=1.0, request_timeout_s=600.0, safety_margin_s=0.3)
"""A lease that expires a second after it is taken, with a long takeover grace after it."""


def test_a_bot_is_refused_an_account_within_its_takeover_grace(pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), GRACE)
    store.create_table()
    lease = store.acquire("main", "node-x-1234-abcd")
    assert lease is not None
    wait_until(lambda: store.db_now_ms() > lease.expires_at_ms + 100, timeout=10,
               message="the lease expired (database clock)")
    lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=0, lease_account="main")
    with pytest.raises(LeasedToNode) as refused:
        lock.acquire()
        lock.release()  # (the code before: taken; given back so the test ends)
    assert "node-x-1234-abcd" in str(refused.value)
    assert f"epoch {lease.epoch}" in str(refused.value)
    assert "takeover grace" in str(refused.value)
    assert store.release(lease)  # released (a node that stopped cleanly): the bot starts
    lock.acquire()
    lock.release()
