"""The node's run loop (runtime/cluster_node.py `_serve`: protections, status, controls per held
account) works from the list of accounts it took at the start of its round, while the node
thread may hand one of them over meanwhile (here: for balance, a second node joined). Found by
review: the round then met a stopped or closed account; the status and controls steps logged
an AssertionError traceback for it, and a `bot.py signal` queued for it was marked "skipped:
the actor is stopped" (its actors had just stopped for the hand-over) instead of staying
queued for the node that takes the account over.

Two real nodes on PostgreSQL (leases, registry, the account's storage), the account a real
AccountRuntime on the shared paper server; the test thread is the run loop, holding the list
it took before the hand-over. The node's hand-over is held after the account's actors stopped
(before its close) by the handle its `start_account` returns (injected by constructor)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from cluster import LeaseSettings, LeaseStore, open_database
from cluster.keeper import LeaseKeeper
from cluster.lease import Lease
from cluster.node import ClusterNode
from config.loader import load_settings
from config.settings import Settings
from runtime.account import AccountRuntime
from runtime.cluster_node import _serve, node_settings
from runtime.node_accounts import NodeAccount, NodeAccounts
from runtime.runner import Bot
from storage import control
from storage.cluster_registry import ClusterRegistry
from storage.models import ControlRow
from storage.opening import open_repository
from tests.exchange.paper_server.server_support import API_KEY, API_SECRET, ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"
LEASES = LeaseSettings(ttl_s=6.0, request_timeout_s=1.0, safety_margin_s=1.5)
"""Slow enough that a loaded machine never lets a lease lapse by itself."""


@dataclass
class Other:
    """The node's second account (the first by name: balancing hands `main` over); its stop,
    on the node thread, returns only once `go_on` is set."""

    stopping: threading.Event
    go_on: threading.Event

    def ready(self) -> bool:
        return True

    def stop(self) -> list[str]:
        self.stopping.set()
        assert self.go_on.wait(60), "the test never let the node thread go on"
        return []

    def close(self) -> None:
        pass


class Holding(NodeAccount):
    """The real account; its stop returns (so the node closes it) only once `go_on` is set."""

    def __init__(self, handle: NodeAccount, stopped: threading.Event,
                 go_on: threading.Event) -> None:
        super().__init__(handle.runtime, handle.keeper)
        self.stopped, self.go_on = stopped, go_on

    def stop(self) -> list[str]:
        stuck = super().stop()
        self.stopped.set()
        assert self.go_on.wait(60), "the test never let the hand-over go on"
        return stuck


@dataclass
class Starts:
    real: NodeAccounts
    stopped: threading.Event = field(default_factory=threading.Event)
    go_on: threading.Event = field(default_factory=threading.Event)
    runtimes: list[AccountRuntime] = field(default_factory=list)
    other_stopping: threading.Event = field(default_factory=threading.Event)
    other_go_on: threading.Event = field(default_factory=threading.Event)

    def __call__(self, account: str, lease: Lease, keeper: LeaseKeeper) -> Any:
        if account != "main":
            return Other(self.other_stopping, self.other_go_on)
        handle = Holding(self.real(account, lease, keeper), self.stopped, self.go_on)
        self.runtimes.append(handle.runtime)
        return handle


class Round:
    """The run loop's round over a list of accounts it took before."""

    def __init__(self, accounts: list[AccountRuntime]) -> None:
        self.taken = list(accounts)

    def accounts(self) -> list[AccountRuntime]:
        return self.taken


@dataclass
class Cluster:
    settings: Settings
    pg_url: str
    data: Path
    nodes: list[ClusterNode] = field(default_factory=list)
    starts: list[Starts] = field(default_factory=list)

    def node(self, name: str) -> tuple[ClusterNode, Starts]:
        starts = Starts(NodeAccounts(self.settings, node_settings(self.settings),
                                     self.data / name, self.pg_url))
        store = LeaseStore(open_database(self.pg_url, network_timeout_s=2.0), LEASES)
        store.create_table()
        registry = ClusterRegistry(open_database(self.pg_url))
        registry.create_tables()
        node = ClusterNode(node_id=name, accounts=["aa", "main"], store=store,
                           registry=registry, settings=LEASES, start_account=starts,
                           logger=logger, announce=lambda *_: True, balance_interval_s=0.2)
        self.nodes.append(node.start())
        self.starts.append(starts)
        return node, starts

    def queue_signal(self) -> int:
        """As `bot.py signal main BTC exit` queues it on PostgreSQL (runtime/cli.py)."""
        a = self.settings
        repo = open_repository(a.storage, path=Path(a.storage.path), account="main")
        try:
            return control.request(repo, "signal", BTC, side="exit",
                                   expires_at=time.time() + control.SIGNAL_TTL_S)
        finally:
            repo.close()

    def control_row(self, cid: int) -> tuple[float | None, str | None]:
        a = self.settings
        repo = open_repository(a.storage, path=Path(a.storage.path), account="main")
        try:
            row = repo.read(lambda: ControlRow.get_by_id(cid))
            return row.done_at, row.result
        finally:
            repo.close()


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    monkeypatch.setenv("ROUND_KEY", API_KEY)
    monkeypatch.setenv("ROUND_SECRET", API_SECRET)
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\nmode = "live"\naccount = "main"\n[symbols]\nlist = ["{BTC}"]\n'
        f'[exchange]\nid = "bybit"\napi_url = "{server.base_url}"\napi_key_env = "ROUND_KEY"\n'
        'api_secret_env = "ROUND_SECRET"\n[logging]\nconsole = false\n'
        f'[storage]\nurl = "{pg_url}"\n[cluster]\nenabled = true\n')
    made = Cluster(load_settings(path), pg_url, tmp_path / "data")
    try:
        yield made
    finally:
        for starts in made.starts:
            starts.go_on.set()
            starts.other_go_on.set()
        for node in made.nodes:
            node.stop()
        server.stop()


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """Every ERROR line, with its traceback when it has one."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR",
                      format="{message}\n{exception}")
    yield lines
    logger.remove(sink)


def run_loop(cluster: Cluster, data: Path) -> Bot:
    """The node process's run loop (`bot.py run`): its status and controls steps."""
    data.mkdir(parents=True, exist_ok=True)
    bot = Bot(cluster.settings, data)
    bot.stop_event = threading.Event()  # its own: the process-wide one is the test run's
    return bot


def running_main(node: ClusterNode) -> bool:
    held = node.held().get("main")
    return held is not None and held.handle.ready()


def first_round_then_hand_over(cluster: Cluster) -> tuple[Round, Starts, ClusterNode]:
    """Node 1 runs both accounts; the run loop takes its list; node 2 joins, and node 1 hands
    `main` over (held once its actors stopped)."""
    first, starts = cluster.node("node-1")
    wait_until(lambda: running_main(first) and "aa" in first.held(), timeout=60,
               interval=0.05, message="node-1 runs both accounts")
    taken = Round(starts.runtimes)
    second, _ = cluster.node("node-2")
    wait_until(starts.stopped.is_set, timeout=60, interval=0.05,
               message="node-1 handing main over, its actors stopped")
    return taken, starts, second


def test_a_signal_met_by_a_round_while_its_account_is_handed_over_waits_for_the_new_owner(
        cluster: Cluster, tmp_path: Path, errors: list[str]) -> None:
    taken, starts, second = first_round_then_hand_over(cluster)
    cid = cluster.queue_signal()
    _serve(run_loop(cluster, tmp_path / "loop"), taken, 0)
    assert cluster.control_row(cid) == (None, None), "queued for the account's next owner"
    starts.go_on.set()
    wait_until(lambda: running_main(second), timeout=60, interval=0.05,
               message="node-2 runs main")
    _serve(run_loop(cluster, tmp_path / "loop"), Round(cluster.starts[1].runtimes), 0)
    assert cluster.control_row(cid)[1] == "delivered"
    assert [e for e in errors if "main" in e] == []


def test_a_round_meeting_an_account_closed_by_a_hand_over_skips_it_without_a_traceback(
        cluster: Cluster, tmp_path: Path, errors: list[str]) -> None:
    taken, starts, second = first_round_then_hand_over(cluster)
    starts.go_on.set()
    old = taken.taken[0]
    wait_until(lambda: old.repo is None and "main" not in cluster.nodes[0].held(), timeout=60,
               interval=0.05, message="node-1 closed main")
    cid = cluster.queue_signal()
    _serve(run_loop(cluster, tmp_path / "loop"), taken, 0)
    assert errors == []
    wait_until(lambda: running_main(second), timeout=60, interval=0.05,
               message="node-2 runs main")
    _serve(run_loop(cluster, tmp_path / "loop"), Round(cluster.starts[1].runtimes), 0)
    assert cluster.control_row(cid)[1] == "delivered"


def test_a_round_meeting_an_account_whose_lease_is_gone_says_one_line_and_leaves_its_signal(
        cluster: Cluster, tmp_path: Path, errors: list[str], pg_url: str) -> None:
    """The lease ends under a running account while the node thread is busy (stopping another
    account): until the node thread stops it, the round's controls step met every commit
    refused by the lease fence, and logged a LeaseLost traceback."""
    first, starts = cluster.node("node-1")
    wait_until(lambda: running_main(first) and "aa" in first.held(), timeout=60,
               interval=0.05, message="node-1 runs both accounts")
    taken = Round(starts.runtimes)
    leases = LeaseStore(open_database(pg_url), LEASES)
    assert leases.release(first.held()["aa"].lease)  # behind the keeper's back: it is lost
    wait_until(starts.other_stopping.is_set, timeout=30, interval=0.05,
               message="the node thread stopping aa")
    main = first.held()["main"]
    assert leases.release(main.lease)
    wait_until(lambda: not main.handle.keeper.may_act(), timeout=30, interval=0.05,
               message="main's lease seen lost")
    cid = cluster.queue_signal()
    _serve(run_loop(cluster, tmp_path / "loop"), taken, 0)
    assert [e for e in errors if "of account main" in e or e.startswith("control row")] == []
    assert cluster.control_row(cid) == (None, None), "queued for the lease's holder"
    starts.other_go_on.set()
    starts.go_on.set()  # main's own stop, next on the node thread
    wait_until(lambda: len(starts.runtimes) == 2 and running_main(first), timeout=60,
               interval=0.05, message="node-1 runs main again under a new epoch")
    _serve(run_loop(cluster, tmp_path / "loop"), Round(starts.runtimes[1:]), 0)
    assert cluster.control_row(cid)[1] == "delivered"
