"""ClusterNode in one process on a real PostgreSQL: two nodes, four accounts (accounts are
fakes injected through the node's constructor; leases, heartbeats and the takeover journal are
the real tables). The nodes split the accounts 2/2 (as evenly as the live nodes allow, reached
by the first holder releasing, never by taking), 2/1/1 on three; a node that stops releases
its accounts and the other runs all four; a lost lease stops the account without closing
it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from loguru import logger

from cluster import Lease, LeaseSettings, LeaseStore, open_database
from cluster.keeper import LeaseKeeper
from cluster.node import ClusterNode
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST, lease_tables
from tests.support.waiting import wait_until

ACCOUNTS = ["a0", "a1", "a2", "a3"]


@dataclass
class FakeAccount:
    """What the node starts: records its life; `closed_positions` stays False (a node never
    closes positions when it stops an account)."""

    name: str
    epoch: int
    stopped: bool = False
    closed_positions: bool = False

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        self.stopped = True
        return []

    def close(self) -> None:
        pass


@dataclass
class Starter:
    started: list[FakeAccount] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, account: str, lease: Lease, keeper: LeaseKeeper) -> FakeAccount:
        acct = FakeAccount(name=account, epoch=lease.epoch)
        with self.lock:
            self.started.append(acct)
        return acct


def make_node(url: str, node_id: str, starter: Starter,
              announced: list[tuple[str, str]], journaled: bool = True) -> ClusterNode:
    store, registry = lease_tables(url)

    def announce(account: str, message: str, data: dict[str, Any]) -> bool:
        announced.append((account, message))
        return journaled

    return ClusterNode(node_id=node_id, accounts=ACCOUNTS, store=store, registry=registry,
                       settings=FAST, start_account=starter, logger=logger,
                       announce=announce, balance_interval_s=0.2)


@pytest.fixture
def nodes(pg_url: str) -> Iterator[list[ClusterNode]]:
    made: list[ClusterNode] = []
    yield made
    for node in made:
        node.stop()


def node_1_runs_all(url: str, nodes: list[ClusterNode], starter: Starter,
                    announced: list[tuple[str, str]]) -> ClusterNode:
    """node-1 started (stopped by the `nodes` fixture), once it runs all four accounts."""
    first = make_node(url, "node-1", starter, announced).start()
    nodes.append(first)
    wait_until(lambda: len(first.held()) == 4, timeout=20, message="node-1 runs all four")
    return first


def test_two_nodes_split_the_accounts_and_one_takes_all_when_the_other_stops(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    announced: list[tuple[str, str]] = []
    s1, s2 = Starter(), Starter()
    first = node_1_runs_all(pg_url, nodes, s1, announced)
    second = make_node(pg_url, "node-2", s2, announced).start()
    nodes.append(second)
    wait_until(lambda: len(first.held()) == 2 and len(second.held()) == 2, timeout=30,
               interval=0.05, message="two accounts each")
    handed = [a for a in s1.started if a.stopped]
    assert len(handed) == 2 and not any(a.closed_positions for a in handed)
    assert sorted(second.held()) == sorted(a.name for a in handed)
    assert all(second.held()[a.name].lease.epoch == a.epoch + 1 for a in handed)
    registry = ClusterRegistry(open_database(pg_url))
    wait_until(lambda: {t["kind"] for t in registry.takeovers()} == {"first start", "hand-over"},
               timeout=10, message="hand-overs journaled")
    first.stop()
    nodes.remove(first)
    wait_until(lambda: len(second.held()) == 4, timeout=30, interval=0.05,
               message="node-2 runs all four after node-1 released them")
    assert announced == []  # released accounts are hand-overs, not takeovers


def test_a_lost_lease_stops_the_account_and_a_takeover_is_announced(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    announced: list[tuple[str, str]] = []
    s1, s2 = Starter(), Starter()
    first = node_1_runs_all(pg_url, nodes, s1, announced)
    # another process steals nothing: it can only take a lease that expired. Make one expire
    # by stopping node-1's renewals for a0 (its keeper, as a hung keeper thread would).
    first._keepers["a0"].stop(release=False)  # noqa: SLF001 - the fault is injected here
    second = make_node(pg_url, "node-2", s2, announced).start()
    nodes.append(second)
    wait_until(lambda: "a0" in second.held(), timeout=30, interval=0.05,
               message="node-2 takes a0 over after it expired")
    wait_until(lambda: "a0" not in first.held(), timeout=10, message="node-1 let a0 go")
    # _stop_account takes the account out of held() first and stops its handle after
    wait_until(lambda: [a.stopped for a in s1.started if a.name == "a0"] == [True],
               timeout=10, message="node-1 stopped a0 once")
    wait_until(lambda: any(acct == "a0" and "taken over by node node-2" in msg
                           for acct, msg in announced), timeout=10, message="announced")



def test_a_takeover_the_account_could_not_journal_is_not_recorded_in_the_cluster_table(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    # the account stopped again (its lease lost) before its journal had the takeover: the
    # cluster table must not have a takeover the account's journal lacks (CI's failover run
    # once found epoch 24 of acct5 in the table only)
    announced: list[tuple[str, str]] = []
    s1, s2 = Starter(), Starter()
    first = node_1_runs_all(pg_url, nodes, s1, announced)
    first._keepers["a0"].stop(release=False)  # noqa: SLF001 - the fault is injected here
    second = make_node(pg_url, "node-2", s2, announced, journaled=False).start()
    nodes.append(second)
    wait_until(lambda: any(acct == "a0" for acct, _ in announced), timeout=30, interval=0.05,
               message="node-2 took a0 over and tried to journal it")
    epoch = second.held()["a0"].lease.epoch
    wait_until(lambda: not any(t.name == "ready-a0" for t in threading.enumerate()), timeout=10,
               message="the thread that journals a0's takeover has finished")
    registry = ClusterRegistry(open_database(pg_url))
    assert not [t for t in registry.takeovers() if t["account"] == "a0"
                and t["kind"] == "takeover" and int(t["epoch"]) == epoch]

class LateRenewals:
    """The real lease store, except that while `hold` is set a renewal waits at `gate` before
    it reaches the database (a starved keeper thread or a slow answer): the node's local
    deadline passes, the lease in the database does not expire. Records what late renewals
    returned."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.hold, self.waiting, self.gate = (threading.Event(), threading.Event(),
                                              threading.Event())
        self.late: list[Lease | None] = []

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if not self.hold.is_set():
            return self.inner.renew(lease)
        self.waiting.set()
        self.gate.wait(30)
        self.hold.clear()
        renewed = self.inner.renew(lease)
        self.late.append(renewed)
        return renewed

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        return self.inner.takeover_view(account)


def late_renewing_node(url: str, nodes: list[ClusterNode], node_id: str, account: str,
                       **kwargs: Any) -> tuple[ClusterNode, LateRenewals, int]:
    """A node (`kwargs`: its start_account, announce...) running `account` alone on leases of
    6 s whose renewals the test can hold back: started (stopped by the `nodes` fixture), the
    account running, then one renewal held until the node stopped the account at its local
    deadline (the lease in the database not expired). Returns the node, its store (release
    the renewal with `gate`) and the epoch the account ran at."""
    slow = LeaseSettings(ttl_s=6.0, request_timeout_s=0.5, safety_margin_s=2.0)
    inner, registry = lease_tables(url, slow)
    store = LateRenewals(inner)
    node = ClusterNode(node_id=node_id, accounts=[account], store=store, registry=registry,
                       settings=slow, logger=logger, balance_interval_s=0.2, **kwargs)
    nodes.append(node.start())
    wait_until(lambda: account in node.held(), timeout=20, message=f"{account} runs")
    epoch = node.held()[account].lease.epoch
    store.hold.set()
    wait_until(store.waiting.is_set, timeout=10, message="a renewal is held back")
    wait_until(lambda: account not in node.held(), timeout=10, interval=0.02,
               message=f"the node stops {account} once its local deadline passed")
    return node, store, epoch


def test_an_account_stopped_for_a_late_renewal_runs_again_under_a_new_epoch(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """Seen in the 20-kill run under load: the node stopped an account whose renewal was late,
    the renewal then succeeded, and the keeper held the lease for an account nobody ran (no
    other node could take it): the account was never managed again."""
    starter = Starter()
    node, store, first_epoch = late_renewing_node(
        pg_url, nodes, "node-late", "late0", start_account=starter,
        announce=lambda account, message, data: None)
    store.gate.set()
    wait_until(lambda: store.late, timeout=10, message="the late renewal answered")
    assert store.late[0] is not None  # it succeeded: the database lease had not expired
    wait_until(lambda: "late0" in node.held()
               and node.held()["late0"].lease.epoch > first_epoch,
               timeout=20, interval=0.05, message="late0 runs again under a new epoch")
    runs = [a for a in starter.started if a.name == "late0"]
    assert [a.stopped for a in runs] == [True, False] and runs[1].epoch > runs[0].epoch


def test_an_account_whose_start_fails_is_tried_again_with_a_growing_delay(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """A failed start gives the lease back; the keeper acquired it again at once, so a start
    that fails fast (a newer schema during a rolling upgrade) ran ~50 times a second, each
    logged with its traceback. Now the node waits 1 s, then 2 s, ... before it takes the
    account again, and a start that succeeds runs the account as usual."""
    import time

    attempts: list[float] = []
    started = Starter()

    def start(account: str, lease: Lease, keeper: LeaseKeeper) -> FakeAccount:
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise RuntimeError("database schema version 99 is newer than this bot")
        return started(account, lease, keeper)

    store, registry = lease_tables(pg_url)
    node = ClusterNode(node_id="node-1", accounts=["a0"], store=store, registry=registry,
                       settings=FAST, start_account=start, logger=logger,
                       announce=lambda *_: True, balance_interval_s=0.2).start()
    nodes.append(node)
    wait_until(lambda: "a0" in node.held(), timeout=30, interval=0.05,
               message="a0 runs after two failed starts")
    assert len(attempts) == 3, f"{len(attempts)} start attempts"
    assert attempts[1] - attempts[0] >= 1.0 and attempts[2] - attempts[1] >= 2.0


def test_a_live_node_that_cannot_start_accounts_does_not_keep_one_from_running(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """Node-2 beats but every start of its fails (no credentials there, say). Balancing counted
    it: node-1 handed it one of two accounts, node-2 gave it back, and node-1, at its share of
    one, never took it again: that account ran nowhere for as long as node-2 lived. Now a node
    whose starts are failing beats `ready` = false, is not counted, and node-1 runs both."""
    failures: list[str] = []

    def cannot(account: str, lease: Lease, keeper: LeaseKeeper) -> FakeAccount:
        failures.append(account)
        raise RuntimeError("exchange bybit: environment variable(s) not set")

    def node(node_id: str, start: Any) -> ClusterNode:
        store, registry = lease_tables(pg_url)
        return ClusterNode(node_id=node_id, accounts=["a0", "a1"], store=store,
                           registry=registry, settings=FAST, start_account=start,
                           logger=logger, announce=lambda *_: True, balance_interval_s=0.2)

    first = node("node-1", Starter()).start()
    nodes.append(first)
    wait_until(lambda: len(first.held()) == 2, timeout=20, message="node-1 runs both")
    second = node("node-2", cannot).start()
    nodes.append(second)
    wait_until(lambda: failures, timeout=20, message="node-2 was handed an account")
    wait_until(lambda: len(first.held()) == 2, timeout=20, interval=0.05,
               message="node-1 runs both again while node-2's starts fail")
    view = ClusterRegistry(open_database(pg_url)).nodes()[1]
    assert {r["node"]: r["ready"] for r in view}["node-1"] is True


def test_an_account_stopped_for_a_lapsed_lease_is_alerted_once(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """Found by review: an account stopped because the node's lease lapsed (the database did
    not answer: a PostgreSQL restart, a cut network) was told by ERROR lines only; with the
    database down every node stops every account, so nothing traded and no alert hook heard
    of it. Now one `cluster_lease_lost` alert per lapse goes through the account's hooks; a
    node stopping (or handing over) raises none."""
    alerts: list[tuple[str, str, str]] = []
    node, store, epoch = late_renewing_node(
        pg_url, nodes, "node-lapse", "lapse0", start_account=Starter(),
        announce=lambda *_: True, alert=lambda *alert: alerts.append(alert))
    assert len(alerts) == 1
    account, kind, message = alerts[0]
    assert (account, kind) == ("lapse0", "cluster_lease_lost")
    assert f"lease epoch {epoch} " in message and "node-lapse" in message
    store.gate.set()
    wait_until(lambda: "lapse0" in node.held() and node.held()["lapse0"].lease.epoch > epoch,
               timeout=20, interval=0.05, message="lapse0 runs again under a new epoch")
    node.stop()
    nodes.remove(node)
    assert len(alerts) == 1  # the node's own stop is no lapse


@dataclass
class SlowToStop(FakeAccount):
    """An account whose stop lasts until every account of the node is stopping (its actors
    finishing their current message), or `barrier`'s deadline."""

    barrier: threading.Barrier | None = None

    def stop(self) -> list[str]:
        assert self.barrier is not None
        self.barrier.wait()  # BrokenBarrierError past its timeout: an unclean stop
        self.stopped = True
        return []


def test_a_stopping_node_stops_its_accounts_at_once_not_one_after_the_other(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """Found by review: ClusterNode.stop stopped its accounts one by one, each up to its
    actors' stop bound (30 s), so a node holding several slow accounts took minutes to stop
    (a service manager's stop timeout then killed it with its leases unreleased), while a
    single bot stops its accounts in parallel (runtime/stop_accounts.py)."""
    barrier = threading.Barrier(len(ACCOUNTS), timeout=15)
    made: list[SlowToStop] = []

    def start(account: str, lease: Lease, keeper: LeaseKeeper) -> SlowToStop:
        made.append(SlowToStop(name=account, epoch=lease.epoch, barrier=barrier))
        return made[-1]

    store, registry = lease_tables(pg_url)
    node = ClusterNode(node_id="node-stop", accounts=ACCOUNTS, store=store, registry=registry,
                       settings=FAST, start_account=start, logger=logger,
                       announce=lambda *_: True).start()
    nodes.append(node)
    wait_until(lambda: len(node.held()) == len(ACCOUNTS), timeout=20, message="all four run")
    node.stop()
    nodes.remove(node)
    assert all(a.stopped for a in made) and not barrier.broken
    assert store.all_leases()[1] == []  # every lease released: each account stopped cleanly


def test_a_third_node_gets_its_share_of_four_accounts_and_the_split_stays(
        pg_url: str, nodes: list[ClusterNode]) -> None:
    """Found by a user run of the README's cluster: with 4 accounts on 3 nodes each node was
    capped at ceil(4/3) = 2, so the nodes holding 2 and 2 released nothing and the third,
    started or restarted, held no account for as long as it ran."""
    announced: list[tuple[str, str]] = []
    s1, s2, s3 = Starter(), Starter(), Starter()
    first = node_1_runs_all(pg_url, nodes, s1, announced)
    second = make_node(pg_url, "node-2", s2, announced).start()
    nodes.append(second)
    wait_until(lambda: len(first.held()) == 2 and len(second.held()) == 2, timeout=30,
               interval=0.05, message="two accounts each")
    third = make_node(pg_url, "node-3", s3, announced).start()
    nodes.append(third)
    trio = (first, second, third)
    wait_until(lambda: sorted(len(n.held()) for n in trio) == [1, 1, 2], timeout=30,
               interval=0.05, message="2, 1, 1 with the third node holding one")
    assert len(third.held()) == 1
    starts = len(s1.started) + len(s2.started) + len(s3.started)
    registry = ClusterRegistry(open_database(pg_url))
    beats = {r["node"]: r["seen_ms"] for r in registry.nodes()[1]}

    def beaten_twice_more() -> bool:  # each node wrote its heartbeat twice since (0.2 s each)
        rows = {r["node"]: r["seen_ms"] for r in registry.nodes()[1]}
        return all(rows[n] >= beats[n] + 2 * 200 for n in beats)

    wait_until(beaten_twice_more, timeout=10, interval=0.05, message="more balancing rounds")
    assert sorted(len(n.held()) for n in trio) == [1, 1, 2]  # no account moving back and forth
    assert len(s1.started) + len(s2.started) + len(s3.started) == starts
    assert sorted(a for n in trio for a in n.held()) == ACCOUNTS
    assert announced == []
