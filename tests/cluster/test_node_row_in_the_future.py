"""A node's heartbeat row further in the future than the lease TTL (a bad row, or the database's
clock set back since a node that is now dead wrote it) does not count as a live node. Found by
review: `now - seen_ms` was negative, so the row read as fresh until the database clock caught
up with it: for an hour ahead, an hour of a dead node counted as live (the live nodes' share
halved, leaving accounts held by no node), `bot.py cluster` showing it live, and a restart
under its configured node id refused as 'in use by a live node'. Now such a row is not live,
said in one line by each node and shown as AHEAD. Real SQLite registry and lease tables, real
node with its keeper and heartbeat threads."""

from __future__ import annotations

import re
from pathlib import Path

from loguru import logger

from cluster import LeaseStore, open_database
from cluster.balance import NodeSeen, live_nodes
from cluster.node import ClusterNode
from cluster.node_id_claim import claim
from cluster.view import cluster_view, render
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST, start_idle
from tests.support.waiting import wait_until

HOUR_MS = 3_600_000


def ghost(path: str, node: str, accounts: list[str]) -> ClusterRegistry:
    """A node that beat an hour ahead of the database clock, then died."""
    registry = ClusterRegistry(open_database(path), configured=accounts)
    registry.create_tables()
    registry.heartbeat(node, 999, [])
    p = registry.db.param
    registry.db.execute_sql(f"UPDATE cluster_nodes SET seen_ms = seen_ms + {p} WHERE node = {p}",
                            (HOUR_MS, node))
    return registry


def test_a_row_far_ahead_is_not_a_live_node() -> None:
    seen = [NodeSeen(node="ghost", age_ms=-HOUR_MS), NodeSeen(node="near", age_ms=-500)]
    assert live_nodes(seen, "me", stale_after_ms=2000) == 2  # near and me


def test_the_cluster_view_shows_a_row_ahead_as_not_live(tmp_path: Path) -> None:
    path = str(tmp_path / "cluster.sqlite")
    store = LeaseStore(open_database(path), FAST)
    store.create_table()
    registry = ghost(path, "node-ghost", ["a0"])
    [row] = cluster_view(store, registry, FAST)["nodes"]
    assert (row["node"], row["live"], row["ahead"]) == ("node-ghost", False, True)
    assert "node-ghost  pid 999  AHEAD of the database clock" in render(cluster_view(
        store, registry, FAST))
    assert store.acquire("a0", "node-ghost") is not None
    p = store.db.param
    store.db.execute_sql(f"UPDATE leases SET renewed_at_ms = renewed_at_ms + {p}, "
                         f"expires_at_ms = expires_at_ms + {p}", (HOUR_MS, HOUR_MS))
    view = cluster_view(store, registry, FAST)
    assert view["leases"][0]["ahead"] is True
    # an hour ahead, less the moments since the update (a loaded machine: -3599.9 s once)
    shown = re.search(r"a0  owner node-ghost  epoch 1  renewed (-[0-9.]+)s ago  AHEAD of the "
                      r"database clock", render(view))
    assert shown is not None and -3600.0 <= float(shown.group(1)) <= -3590.0, render(view)


def test_a_restart_under_its_node_id_is_not_refused_by_a_row_ahead(tmp_path: Path) -> None:
    registry = ghost(str(tmp_path / "cluster.sqlite"), "fixed-id", ["a0"])
    waits: list[float] = []
    claim(registry, "fixed-id", FAST.ttl_ms, pause=waits.append)  # raised NodeIdInUse
    assert waits == []


def test_a_node_counts_a_row_ahead_out_and_says_so_once(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING",
                      filter=lambda r: "ahead of the database clock" in r["message"])
    path = str(tmp_path / "cluster.sqlite")
    ghost(path, "node-ghost", ["a0", "a1"])
    store = LeaseStore(open_database(path), FAST)
    store.create_table()
    registry = ClusterRegistry(open_database(path), configured=["a0", "a1"])
    node = ClusterNode(node_id="node-a", accounts=["a0", "a1"], store=store, registry=registry,
                       settings=FAST, start_account=start_idle, logger=logger,
                       announce=lambda *_: True, balance_interval_s=0.1)
    node.start()
    try:
        wait_until(lambda: sorted(node.held()) == ["a0", "a1"], timeout=20,
                   message="this node, the only live one, holds both accounts")
        beats = ClusterRegistry(open_database(path)).nodes
        for _ in range(2):  # more beats, each reading the ghost's row again
            since = {r["node"]: r["seen_ms"] for r in beats()[1]}
            wait_until(lambda s=since: [r["seen_ms"] > s[r["node"]] for r in beats()[1]
                                        if r["node"] == "node-a"] == [True],
                       timeout=20, message="one more heartbeat of node-a")
        assert sorted(node.held()) == ["a0", "a1"]
        ahead = re.match(r"cluster: node node-ghost's last heartbeat is ([0-9.]+)s ahead",
                         lines[0]) if len(lines) == 1 else None
        # an hour, less the moments since the ghost's row was written (the node's start)
        assert ahead is not None and 3590.0 <= float(ahead.group(1)) <= 3600.0, lines
    finally:
        node.stop()
        logger.remove(sink)
