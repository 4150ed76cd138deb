"""`bot.py cluster` names the last takeover (a node died, another took its account over), however
many hand-overs (balancing, graceful stops) and first starts were journaled after it. Real
PostgreSQL."""

from __future__ import annotations

from cluster.lease import Lease, LeaseSettings
from cluster.view import cluster_view, render
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from storage.leases import LeaseStore

SETTINGS = LeaseSettings()


def test_the_last_takeover_is_shown_after_many_hand_overs(pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), SETTINGS)
    store.create_table()
    registry = ClusterRegistry(store.db)
    registry.create_tables()
    # a node died: "zeta" was taken over; then a rolling restart handed 12 accounts around
    registry.record_takeover(Lease(account="zeta", owner="node-b", epoch=7, expires_at_ms=0,
                                   renewed_at_ms=1, previous_owner="node-a"), "takeover")
    for i in range(12):
        registry.record_takeover(Lease(account=f"acct{i:02d}", owner="node-c", epoch=3,
                                       expires_at_ms=0, renewed_at_ms=1,
                                       previous_owner="node-b", handed_over=True), "hand-over")
    view = cluster_view(store, registry, SETTINGS)
    last = view["last_takeover"]
    assert last is not None, render(view)
    assert (last["account"], last["epoch"], last["node"], last["previous_owner"]) == (
        "zeta", 7, "node-b", "node-a")
    assert "last takeover: zeta epoch 7 by node-b from node-a" in render(view)
