"""A node stops an account whose lease lapsed while it is busy starting another account.

Found by review: the lapse check ran on the node thread between events only, and an account's
start (restore, open, reconcile) runs on that thread too, for seconds on a big account and up to
its database deadlines when the database hangs, which is exactly when leases lapse. For that
whole time an account whose renewal hung kept running on a lapsed lease: its sends and commits
were refused, so its actors failed again and again (crash loops, escalations, alerts) instead of
being stopped within the 0.1 s the README promises. Real PostgreSQL leases; the accounts are
fakes injected through the node's constructor, one of whose starts is held open."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from loguru import logger

from cluster import Lease, LeaseSettings, LeaseStore, open_database
from cluster.keeper import LeaseKeeper
from cluster.node import ClusterNode
from cluster.start_backoff import StartBackoff
from storage.cluster_registry import ClusterRegistry
from tests.support.waiting import wait_until

SETTINGS = LeaseSettings(ttl_s=3.0, request_timeout_s=0.5, safety_margin_s=1.0)


@dataclass
class Account:
    name: str
    stopped: threading.Event = field(default_factory=threading.Event)

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        self.stopped.set()
        return []

    def close(self) -> None:
        pass


class HungRenewals:
    """The real lease store, except that once `hang` is set the renewals of `account` wait at
    `gate` (a connection that is acknowledged and never answered)."""

    def __init__(self, inner: LeaseStore, account: str) -> None:
        self.inner, self.account = inner, account
        self.hang, self.gate = threading.Event(), threading.Event()

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        if lease.account == self.account and self.hang.is_set():
            self.gate.wait(30)
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        return self.inner.takeover_view(account)


class Starter:
    """w0 starts at once; w1 only once w0 runs (before that its start fails and is retried),
    and then its start stays open until `release` is set."""

    def __init__(self) -> None:
        self.w0: Account | None = None
        self.w1_starting, self.release = threading.Event(), threading.Event()

    def __call__(self, account: str, lease: Lease, keeper: LeaseKeeper) -> Account:
        if account == "w0":
            self.w0 = Account(account)
            return self.w0
        if self.w0 is None:
            raise RuntimeError("w1 starts after w0 in this test")
        self.w1_starting.set()
        self.release.wait(60)
        return Account(account)


@pytest.fixture
def parts(pg_url: str) -> Iterator[tuple[HungRenewals, Starter, list[ClusterNode]]]:
    store = HungRenewals(LeaseStore(open_database(pg_url, network_timeout_s=1.0), SETTINGS),
                         "w0")
    store.inner.create_table()
    starter, made = Starter(), []
    yield store, starter, made
    store.gate.set()
    starter.release.set()
    for node in made:
        node.stop()


def test_a_lapsed_account_is_stopped_while_another_account_starts(
        pg_url: str, parts: tuple[HungRenewals, Starter, list[ClusterNode]]) -> None:
    store, starter, made = parts
    registry = ClusterRegistry(open_database(pg_url))
    registry.create_tables()
    node = ClusterNode(node_id="node-busy", accounts=["w0", "w1"], store=store,
                       registry=registry, settings=SETTINGS, start_account=starter,
                       logger=logger, announce=lambda *_: True, balance_interval_s=0.2,
                       start_backoff=StartBackoff(initial_s=0.05, max_s=0.1))
    made.append(node.start())
    wait_until(starter.w1_starting.is_set, timeout=20, message="w0 runs and w1's start began")
    assert starter.w0 is not None and "w0" in node.held()
    store.hang.set()  # w0's next renewal never answers: its lease lapses within the TTL
    wait_until(starter.w0.stopped.is_set, timeout=SETTINGS.ttl_s + 5, interval=0.02,
               message="w0 stopped on its lapsed lease while w1's start still runs")
    assert not starter.release.is_set()  # w1's start was still running all along
    assert "w0" not in node.held()
