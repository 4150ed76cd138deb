"""A node that cannot stop an account cleanly never releases its lease: a stop or close that
raises, or actors still stuck (possibly mid-request) when the stop timed out, leave the lease
to expire, so the next holder waits expiry + the takeover grace as after a dead node (a
released lease is taken at once). Before, a raising stop skipped the bookkeeping and the
keeper renewed the lease forever for an account nobody ran. Real SQLite lease tables, real
node and keeper threads; the accounts are fakes given to the node's constructor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from loguru import logger

from cluster import Lease, LeaseStore, open_database
from cluster.keeper import LeaseKeeper
from cluster.node import ClusterNode, StartAbandoned
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST
from tests.support.waiting import wait_until

STUCK = ["BTC/USDT:USDT"]


@dataclass
class Account:
    """A running account whose stop fails in the way `how` says."""

    how: str
    stop_calls: int = 0

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        self.stop_calls += 1
        if self.how == "stop raises":
            raise RuntimeError("feed thread did not stop")
        return STUCK if self.how == "actors stuck" else []

    def close(self) -> None:
        if self.how == "close raises":
            raise OSError("storage already gone")


@dataclass
class Starter:
    how: str
    abandon_first: bool = False
    leases: list[Lease] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, account: str, lease: Lease, keeper: LeaseKeeper) -> Account:
        with self.lock:
            self.leases.append(lease)
            first = len(self.leases) == 1
        if first and self.abandon_first:
            raise StartAbandoned("start failed and BTC/USDT:USDT did not stop")
        return Account(self.how)


@dataclass
class Cluster:
    path: Path
    made: list[ClusterNode] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def store(self) -> LeaseStore:
        store = LeaseStore(open_database(str(self.path)), FAST)
        store.create_table()
        return store

    def registry(self) -> ClusterRegistry:
        registry = ClusterRegistry(open_database(str(self.path)))
        registry.create_tables()
        return registry

    def node(self, accounts: list[str], starter: Starter) -> ClusterNode:
        node = ClusterNode(node_id="node-1", accounts=accounts, store=self.store(),
                           registry=self.registry(), settings=FAST, start_account=starter,
                           logger=logger, announce=lambda account, message, data: True,
                           balance_interval_s=0.2)
        self.made.append(node.start())
        return node


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path / "leases.sqlite")
    sink = logger.add(made.lines.append, format="{message}", level="WARNING")
    yield made
    for node in made.made:
        node.stop()
    logger.remove(sink)


def take_when_free(store: LeaseStore, registry: ClusterRegistry, account: str) -> Lease:
    """Node-2 (heartbeating, so node-1's share stays one account) takes `account` as soon as
    the database lets it; the row it replaced must still name node-1 (not released)."""
    def attempt() -> Lease | None:
        registry.heartbeat("node-2", 2, [])
        before = store.current(account)
        taken = store.acquire(account, "node-2")
        if taken is not None:
            assert before is not None and before.owner == "node-1", "the lease was released"
            assert taken.renewed_at_ms > before.expires_at_ms + FAST.takeover_grace_ms
        return taken

    lease = wait_until(attempt, timeout=10, interval=0.02, message=f"node-2 takes {account}")
    assert lease is not None
    return lease


@pytest.mark.parametrize("how", ["stop raises", "close raises", "actors stuck"])
def test_an_account_handed_over_without_a_clean_stop_is_left_to_expire(
        cluster: Cluster, how: str) -> None:
    node = cluster.node(["a", "b"], Starter(how))
    wait_until(lambda: sorted(node.held()) == ["a", "b"], timeout=10, message="both run")
    taker, registry = cluster.store(), cluster.registry()
    registry.heartbeat("node-2", 2, [])  # two live nodes: node-1 hands "b" over
    lease = take_when_free(taker, registry, "b")
    assert lease.epoch == 2 and not lease.handed_over and lease.previous_owner == "node-1"
    assert sorted(node.held()) == ["a"]
    unclean = [line for line in cluster.lines if line.startswith("b: did not stop cleanly")]
    assert len(unclean) == 1 and "its lease is left to expire" in unclean[0]
    assert any(line.startswith("b: not releasing lease epoch 1") for line in cluster.lines)


def test_a_node_stopping_with_stuck_actors_leaves_their_leases_to_expire(
        cluster: Cluster) -> None:
    node = cluster.node(["a"], Starter("actors stuck"))
    wait_until(lambda: "a" in node.held(), timeout=10, message="a runs")
    cluster.made.remove(node)
    node.stop()
    taker, registry = cluster.store(), cluster.registry()
    held = taker.current("a")
    assert held is not None and held.owner == "node-1"  # not released
    assert taker.acquire("a", "node-2") is None
    lease = take_when_free(taker, registry, "a")
    assert not lease.handed_over


def test_a_start_abandoned_with_stuck_actors_is_not_released(cluster: Cluster) -> None:
    starter = Starter("clean", abandon_first=True)
    node = cluster.node(["a"], starter)
    wait_until(lambda: "a" in node.held(), timeout=10, message="a runs at the second try")
    first, second = starter.leases
    assert second.epoch == first.epoch + 1 and second.previous_owner == "node-1"
    assert not second.handed_over  # it expired: the abandoned epoch was never released
    assert second.renewed_at_ms > first.expires_at_ms + FAST.takeover_grace_ms

