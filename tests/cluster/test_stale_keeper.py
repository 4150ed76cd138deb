"""A lease keeper replaced while its renewal hangs must not act on the account afterwards.

The node replaces an account's keeper (a failed start, a lost lease, a hand-over) by stopping
it and starting a new one; the stop waits for the keeper's thread only ttl + 5 s, so a renewal
hung on a dead connection outlives it. When that renewal finally fails, the old thread reported
'unreachable' and the node stopped the account, although it was running by then under the new
keeper's epoch. Real SQLite lease tables, real node and keeper threads; the store's hang is a
wrapper given to the node's constructor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from loguru import logger

from cluster import Lease, LeaseStore, LeaseStoreUnavailable, open_database
from cluster.keeper import LeaseKeeper
from cluster.node import ClusterNode
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST
from tests.support.waiting import wait_until


class HangingStore:
    """The real lease store, except that once armed, the next renewal hangs until `let_go`,
    then fails as an unreachable database does."""

    def __init__(self, store: LeaseStore) -> None:
        self.store = store
        self.armed = threading.Event()
        self.hanging = threading.Event()
        self.let_go = threading.Event()

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.store.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if self.armed.is_set():
            self.armed.clear()
            self.hanging.set()
            self.let_go.wait(30)
            raise LeaseStoreUnavailable("server closed the connection unexpectedly")
        return self.store.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.store.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        return self.store.takeover_view(account)


@dataclass
class Account:
    lease: Lease
    stopped: bool = False

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        self.stopped = True
        return []

    def close(self) -> None:
        pass


@dataclass
class Starter:
    """Fails the first start once the keeper's renewal hangs, so the node replaces that keeper
    while its thread is stuck in the renewal."""

    store: HangingStore
    accounts: list[Account] = field(default_factory=list)

    def __call__(self, account: str, lease: Lease, keeper: LeaseKeeper) -> Account:
        if not self.accounts and not self.store.let_go.is_set() and lease.epoch == 1:
            self.store.armed.set()
            assert self.store.hanging.wait(10), "the keeper's renewal never started"
            self.accounts.append(Account(lease, stopped=True))
            raise RuntimeError("restore failed")
        made = Account(lease)
        self.accounts.append(made)
        return made


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(seen.append, format="{message}", level="WARNING")
    yield seen
    logger.remove(sink)


def test_a_replaced_keepers_late_failure_does_not_stop_the_account(
        tmp_path: Path, lines: list[str]) -> None:
    path = str(tmp_path / "leases.sqlite")
    store = LeaseStore(open_database(path), FAST)
    store.create_table()
    registry = ClusterRegistry(open_database(path))
    registry.create_tables()
    hanging = HangingStore(store)
    starter = Starter(hanging)
    node = ClusterNode(node_id="node-1", accounts=["a"], store=hanging, registry=registry,
                       settings=FAST, start_account=starter, logger=logger,
                       announce=lambda account, message, data: None, balance_interval_s=0.2)
    node.start()
    try:
        # the failed start replaced the hung keeper (its stop waited ttl + 5 s for it)
        wait_until(lambda: "a" in node.held(), timeout=20, message="a runs at the second try")
        running = node.held()["a"]
        assert running.lease.epoch == 2 and not starter.accounts[-1].stopped
        hanging.let_go.set()  # the old keeper's renewal fails now, long after its stop
        said = wait_until(
            lambda: [line.strip() for line in lines
                     if line.startswith(("a: ignored", "a: lease lost"))],
            timeout=10, message="the node's answer to the old keeper's late failure")
        assert said == ["a: ignored 'unreachable' from the replaced lease keeper of epoch 1"]
        assert node.held()["a"] is running and not starter.accounts[-1].stopped
        current = store.current("a")
        assert current is not None and current.epoch == 2 and current.owner == "node-1"
    finally:
        hanging.let_go.set()
        node.stop()
