"""Builders for the lease tests: fast lease timings, stores on a URL, keepers, a recorder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import peewee
import pytest

from cluster import Lease, LeaseKeeper, LeaseSettings, LeaseStore, open_database
from cluster.keeper import LeaseChanged
from config.loader import load_settings
from config.settings import Settings
from runtime.cluster_node import node_settings
from runtime.node_accounts import NodeAccount, NodeAccounts
from storage.cluster_registry import ClusterRegistry
from tests.exchange.paper_server.server_support import API_KEY, API_SECRET, ServerProcess
from tests.support.waiting import wait_until

# Fast timings so a takeover takes ~2 s: renew every 0.5 s, stop acting 0.4 s before expiry,
# take over 0.5 s after it.
FAST = LeaseSettings(ttl_s=1.5, request_timeout_s=0.5, safety_margin_s=0.4)


@contextmanager
def node_on_the_paper_server(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             account: str, symbol: str) -> Iterator[Settings]:
    """The shared paper server (a real process) and the loaded settings of a live cluster node
    trading `account` on `symbol` there through ccxt's bybit (its keys in EPOCH_KEY and
    EPOCH_SECRET), storage on `pg_url`; the server stopped after."""
    monkeypatch.setenv("EPOCH_KEY", API_KEY)
    monkeypatch.setenv("EPOCH_SECRET", API_SECRET)
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    try:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[bot]\nmode = "live"\naccount = "{account}"\n[symbols]\nlist = ["{symbol}"]\n'
            f'[exchange]\nid = "bybit"\napi_url = "{server.base_url}"\n'
            'api_key_env = "EPOCH_KEY"\napi_secret_env = "EPOCH_SECRET"\n'
            '[logging]\nconsole = false\n'
            f'[storage]\nurl = "{pg_url}"\n[cluster]\nenabled = true\n')
        yield load_settings(path)
    finally:
        server.stop()


@dataclass
class EpochAccount:
    """An account runtime a node started under its keeper's lease `first`."""

    store: LeaseStore
    keeper: LeaseKeeper
    first: Lease
    account: NodeAccount


@contextmanager
def account_under_an_epoch(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           symbol: str) -> Iterator[EpochAccount]:
    """Account "main" trading `symbol` on the shared paper server (node_on_the_paper_server),
    started by NodeAccounts (PostgreSQL storage, the ccxt bybit gateway) under the first lease
    epoch of node-a's real keeper, running; the account stopped and closed after."""
    with node_on_the_paper_server(pg_url, tmp_path, monkeypatch, "main", symbol) as settings:
        store = make_store(pg_url)
        keeper = make_keeper(store, "node-a", account="main")
        with running(keeper):
            first = wait_acting(keeper, "node-a acquires", timeout=10)
            start = NodeAccounts(settings, node_settings(settings), tmp_path / "data", pg_url)
            account = start("main", first, keeper)
            try:
                # its first reconciliation done: an order the test places afterwards is not
                # met by that reconciliation (a CI run saw it cancel the test's order as an
                # orphan under the still valid epoch, before the epoch ended)
                wait_until(account.ready, timeout=30, message="the account reconciled")
                yield EpochAccount(store, keeper, first, account)
            finally:
                account.stop()
                account.close()


def end_the_epoch(held: EpochAccount) -> None:
    """The lease `held.first` ends under its keeper (released behind its back); the keeper
    acquires the account again by itself, at the next epoch, while the account runtime of the
    old epoch still runs."""
    assert held.store.release(held.first)
    wait_until(lambda: (lease := held.keeper.acting_lease()) is not None
               and lease.epoch > held.first.epoch, timeout=15,
               message="the keeper holding a newer epoch")


class IdleAccount:
    """What a node starts for an account in tests that need no more: ready at once, its stop
    stuck on nothing."""

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def start_idle(account: str, lease: Lease, keeper: LeaseKeeper) -> IdleAccount:
    """A node's start_account that starts an IdleAccount."""
    return IdleAccount()


def lease_tables(url: str,
                 settings: LeaseSettings = FAST) -> tuple[LeaseStore, ClusterRegistry]:
    """The real lease store (requests bounded at 1 s) and cluster registry, tables made."""
    store = LeaseStore(open_database(url, network_timeout_s=1.0), settings)
    store.create_table()
    registry = ClusterRegistry(open_database(url))
    registry.create_tables()
    return store, registry


def make_store(url: str, settings: LeaseSettings = FAST) -> LeaseStore:
    """A node's own store: its own Database object, so its own connections."""
    store = LeaseStore(open_database(url, network_timeout_s=1.0), settings)
    store.create_table()
    return store


@dataclass
class Recorder:
    """Collects a keeper's LeaseChanged reports (called from the keeper's thread)."""

    changes: list[LeaseChanged] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, change: LeaseChanged) -> None:
        with self.lock:
            self.changes.append(change)

    def reasons(self) -> list[str]:
        with self.lock:
            return [c.reason for c in self.changes]


def make_keeper(store: LeaseStore, node: str, account: str = "alpha",
                recorder: Recorder | None = None,
                monotonic: Callable[[], float] = time.monotonic) -> LeaseKeeper:
    return LeaseKeeper(store=store, account=account, node_id=node, settings=store.settings,
                       on_change=recorder, monotonic=monotonic)


class ProbeClock:
    """A keeper's monotonic clock that reads the real one, except in a thread that pinned it
    (`at`): there the keeper's may_act() answers as of the pinned moment, so a test asks
    whether the keeper would act at a given moment without waiting for it, while the
    keeper's own thread keeps the real clock."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self) -> float:
        pinned: float | None = getattr(self._local, "pinned", None)
        return time.monotonic() if pinned is None else pinned

    @contextmanager
    def at(self, moment: float) -> Iterator[None]:
        self._local.pinned = moment
        try:
            yield
        finally:
            self._local.pinned = None


def monotonic_at_db_ms(store: LeaseStore, db_ms: int, *, tightest_s: float = 0.05) -> float:
    """A monotonic moment no later than when the database clock shows `db_ms`: the database
    read its clock after `before`, so db_ms is reached at or after before + (db_ms - now).
    Read until one read took under `tightest_s` (a stall only loosens, never breaks, it)."""
    deadline = time.monotonic() + 30  # only bounds a hang
    while True:
        before = time.monotonic()
        now_ms = store.db_now_ms()
        took = time.monotonic() - before
        if took < tightest_s or time.monotonic() > deadline:
            assert took < tightest_s, f"no database clock read under {tightest_s} s in 30 s"
            return before + (db_ms - now_ms) / 1000


def create_journal(db: peewee.Database) -> None:
    """A stand-in for the bot's commit: one row per decision, written under a fence."""
    db.execute_sql("CREATE TABLE IF NOT EXISTS journal (account VARCHAR(64), epoch BIGINT, "
                   "note VARCHAR(200))")


def journal_rows(db: peewee.Database) -> list[tuple[str, int, str]]:
    rows = db.execute_sql("SELECT account, epoch, note FROM journal ORDER BY note").fetchall()
    return [(str(a), int(e), str(n)) for a, e, n in rows]


def write_journal(db: peewee.Database, account: str, epoch: int, note: str) -> None:
    p = db.param
    db.execute_sql(f"INSERT INTO journal (account, epoch, note) VALUES ({p}, {p}, {p})",
                   (account, epoch, note))


@contextmanager
def running(*keepers: LeaseKeeper) -> Iterator[None]:
    for keeper in keepers:
        keeper.start()
    try:
        yield
    finally:
        for keeper in keepers:
            keeper.stop(release=False)


def wait_acting(keeper: LeaseKeeper, message: str, timeout: float = 10) -> Lease:
    lease = wait_until(keeper.acting_lease, timeout=timeout, message=message)
    assert lease is not None
    return lease


@dataclass
class FlipRecord:
    db_now_ms: int
    row: Lease | None


def watch_first_flip(keeper: LeaseKeeper, observer: LeaseStore) -> tuple[threading.Thread,
                                                                           list[FlipRecord]]:
    """A thread that notes, on the database clock, when `keeper` first stops acting."""
    found: list[FlipRecord] = []

    def watch() -> None:
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if not keeper.may_act():
                found.append(FlipRecord(observer.db_now_ms(), observer.current(keeper.account)))
                return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, found
