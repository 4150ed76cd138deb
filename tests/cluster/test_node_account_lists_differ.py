"""Balancing gives each node ceil(its accounts / live nodes): it assumes every node has the
same account list. Two nodes whose configs differ each say so once (naming the other node and
the accounts only one of them has), not on every heartbeat. Real SQLite lease and registry
tables, real node, keeper and heartbeat threads."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from cluster import LeaseStore, open_database
from cluster.node import ClusterNode
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST, start_idle
from tests.support.waiting import wait_until


def make_node(path: str, node_id: str, accounts: list[str]) -> ClusterNode:
    store = LeaseStore(open_database(path), FAST)
    store.create_table()
    registry = ClusterRegistry(open_database(path), configured=accounts)
    registry.create_tables()
    return ClusterNode(node_id=node_id, accounts=accounts, store=store, registry=registry,
                       settings=FAST, start_account=start_idle, logger=logger,
                       announce=lambda *_: True, balance_interval_s=0.1)


def test_nodes_with_different_account_lists_say_so_once(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING",
                      filter=lambda r: "configured with other accounts" in r["message"])
    path = str(tmp_path / "cluster.sqlite")
    a = make_node(path, "node-a", ["a0", "a1", "a2"])
    b = make_node(path, "node-b", ["a0", "a1", "b9"])
    a.start()
    b.start()
    try:
        told = wait_until(lambda: len(lines) >= 2 and sorted(lines), timeout=10,
                          message="both nodes see the other's list")
        beats = ClusterRegistry(open_database(path)).nodes
        first = {r["node"]: r["seen_ms"] for r in beats()[1]}
        wait_until(lambda: all(r["seen_ms"] > first[r["node"]] + 500 for r in beats()[1]),
                   timeout=10, message="several more heartbeats of each node")
        assert sorted(lines) == told
        assert told == [
            "cluster: node node-a is configured with other accounts than this node node-b "
            "(only there: a2; only here: b9): balancing assumes every node has the same "
            "accounts, so some may be held by no node; give every node the same config",
            "cluster: node node-b is configured with other accounts than this node node-a "
            "(only there: b9; only here: a2): balancing assumes every node has the same "
            "accounts, so some may be held by no node; give every node the same config"]
    finally:
        a.stop()
        b.stop()
        logger.remove(sink)


def test_nodes_with_the_same_list_say_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING",
                      filter=lambda r: "configured with other accounts" in r["message"])
    path = str(tmp_path / "cluster.sqlite")
    nodes = [make_node(path, f"node-{i}", ["a0", "a1"]) for i in (1, 2)]
    for node in nodes:
        node.start()
    try:
        wait_until(lambda: len(nodes[0].held()) + len(nodes[1].held()) == 2, timeout=10,
                   message="both accounts held")
        # each node compared the lists: holding both accounts may come before one node even
        # beat, and "nothing said" means nothing only after each node's beat read both rows
        # (a beat reads the rows and compares after it wrote its own; beats are in sequence)
        beats = ClusterRegistry(open_database(path)).nodes
        wait_until(lambda: len(beats()[1]) == 2, timeout=30, message="both nodes beat")
        for _ in range(2):  # the beat after both rows, then one more: the first one's check ran
            since = {r["node"]: r["seen_ms"] for r in beats()[1]}
            wait_until(lambda s=since: all(r["seen_ms"] > s[r["node"]] for r in beats()[1]),
                       timeout=30, message="one more heartbeat of each node")
        assert lines == []
    finally:
        for node in nodes:
            node.stop()
        logger.remove(sink)
