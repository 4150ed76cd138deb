"""How a node starts its accounts: the commit fence checks the lease row inside every commit
when the accounts' storage is the leases' database however the two URLs are spelled (before,
a raw string comparison silently fell back to the node's own deadline); and a start that
fails part-way stops what it started, and says so when something would not stop."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cluster.node import StartAbandoned
from config.loader import load_settings
from runtime.cluster_node import database_url
from runtime.cluster_node import node_settings as for_node
from runtime.node_accounts import NodeAccount, NodeAccounts, start_runtime
from runtime.round_gate import AccountLeft, RoundGate
from storage.cluster_database import same_postgres_database
from tests.cluster.test_node_settings import config

SAME = [
    ("postgresql://bot@db-host:5432/bot", "postgres://bot@db-host:5432/bot"),
    ("postgresql://bot@db-host:5432/bot", "postgresql://bot@db-host/bot"),
    ("postgresql://bot@db-host:5432/bot", "postgresql://bot@DB-HOST:5432/bot/"),
    ("postgresql://bot:secret@db-host/bot?sslmode=require&connect_timeout=3",
     "postgresql://bot@db-host/bot?connect_timeout=3&sslmode=require"),
    ("postgresql://bot@db-host/bot", "postgresql:///bot?host=db-host&user=bot&port=5432"),
    ("postgresql://bot@db-host", "postgresql://bot@db-host:5432/bot"),  # database = user
]
DIFFERENT = [
    ("postgresql://bot@db-host:5432/bot", "postgresql://bot@db-host:5433/bot"),
    ("postgresql://bot@db-host/bot", "postgresql://bot@other-host/bot"),
    ("postgresql://bot@db-host/bot", "postgresql://bot@db-host/bot2"),
    ("postgresql://bot@db-host/bot", "postgresql://admin@db-host/bot"),
    ("postgresql://bot@db-host/bot", "/var/lib/bot/leases.sqlite"),
    ("", "postgresql://bot@db-host/bot"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_spellings_of_one_database_are_the_same_and_others_are_not(a: str, b: str) -> None:
    assert same_postgres_database(a, b) and same_postgres_database(b, a)
    for c, d in DIFFERENT:
        assert not same_postgres_database(c, d) and not same_postgres_database(d, c)


def fence_in_database(tmp_path: Path, storage: str, leases: str) -> bool:
    path = config(tmp_path, storage=f'[storage]\nurl = "{storage}"',
                  cluster=f'database_url = "{leases}"' if leases else "")
    s = load_settings(path)
    return NodeAccounts(s, for_node(s), tmp_path / "data", database_url(s)).fence_in_database


def test_the_commit_fence_runs_in_the_database_when_storage_is_the_leases_database(
        tmp_path: Path) -> None:
    leases = "postgresql://bot@db-host:5432/bot/"
    assert fence_in_database(tmp_path, "postgres://bot@db-host/bot", leases)
    assert fence_in_database(tmp_path, "postgresql://bot@db-host/bot", "")
    assert not fence_in_database(tmp_path, "postgresql://bot@db-host/bot",
                                 "postgresql://bot@db-host/leases")


@dataclass
class Runtime:
    """An AccountRuntime stand-in: `fail` names the steps that raise."""

    fail: tuple[str, ...]
    stuck: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    sup: None = None
    name: str = "a0"
    repo: None = None
    round: RoundGate = field(default_factory=RoundGate)
    stopped: threading.Event = field(default_factory=threading.Event)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise ConnectionError(f"{name} failed")

    def open(self) -> None:
        self._step("open")

    def build(self) -> None:
        self._step("build")

    def start(self) -> None:
        self._step("start")

    def stop(self) -> list[str]:
        self._step("stop")
        self.stopped.set()
        return self.stuck

    def close(self) -> None:
        self.calls.append("close")


def test_a_start_failing_part_way_stops_what_it_started() -> None:
    runtime = Runtime(fail=("start",))
    with pytest.raises(ConnectionError, match="start failed"):
        start_runtime(runtime)
    assert runtime.calls == ["open", "build", "start", "stop", "close"]
    not_started = Runtime(fail=("open",))
    with pytest.raises(ConnectionError):
        start_runtime(not_started)
    assert not_started.calls == ["open", "close"]  # nothing to stop


def test_a_start_that_leaves_actors_stuck_is_abandoned() -> None:
    runtime = Runtime(fail=("start",), stuck=["BTC/USDT:USDT"])
    with pytest.raises(StartAbandoned, match="BTC/USDT:USDT"):
        start_runtime(runtime)
    assert runtime.calls[-1] == "close"
    stop_fails = Runtime(fail=("start", "stop"))
    with pytest.raises(StartAbandoned, match="stop raised ConnectionError"):
        start_runtime(stop_fails)
    assert stop_fails.calls[-1] == "close"



def test_accounts_on_one_venue_share_its_polling_budget_on_a_node(tmp_path: Path) -> None:
    """Found by review: a single bot gives each of its live accounts on one venue its part of
    the REST polling budget for the fallback of the venue's streams (`feed_sharers`); a node,
    whose accounts pay one budget in its one process too, gave each the whole of it, so when
    the venue's streams dropped for all of them at once their REST fallbacks together polled
    twice (N times) what the venue allows."""
    from cluster.keeper import EpochKeeper
    from cluster.lease import Lease
    from runtime.exchanges import rest_poll_interval
    from tests.cluster.test_node_settings import ACCOUNTS

    path = tmp_path / "config.toml"
    path.write_text(ACCOUNTS.replace('stop_mode = "bot"\n', "").replace(
        'id = "bybit"\n', 'id = "bybit"\npoll_interval_s = 0.1\n'))
    s = load_settings(path)
    accounts = for_node(s)
    starter = NodeAccounts(s, accounts, tmp_path / "data", database_url(s))
    lease = Lease(account="alpha", owner="node-a", epoch=1, expires_at_ms=0, renewed_at_ms=0)
    runtime = starter.runtime("alpha", lease, EpochKeeper(None, lease))  # type: ignore[arg-type]
    assert runtime.feed_sharers == 2
    alone = rest_poll_interval(accounts[0])
    assert rest_poll_interval(accounts[0], runtime.feed_sharers) > alone


def test_an_account_stops_only_after_the_run_loops_step_under_way_ends() -> None:
    """The node stops an account (lease lost, hand-over, node stopping) while the run loop's
    status, protections or controls step may be under way on it. Mutation audit (gap N05):
    `NodeAccount.stop` not waiting for that step (`gate.wait_steps`) survived every test
    naming the module: the actors then stopped under the step, so a protections pass ran
    beside the stop's `guard.catch_up` (both could count the same new fills) and a queued
    `bot.py signal` met stopped actors and was marked skipped instead of staying queued for
    the next owner. Real threads and RoundGate; the runtime is injected. The step holds until
    the actors stop or 5 s pass, so a stop that does not wait is seen at once."""
    runtime = Runtime(fail=())
    entered = threading.Event()

    def step() -> None:
        with runtime.round.step():
            entered.set()
            runtime.stopped.wait(5)
            runtime.calls.append("step ended")

    stepping = threading.Thread(target=step, name="run-loop")
    stepping.start()
    assert entered.wait(30)
    stopper = threading.Thread(target=NodeAccount(runtime).stop, name="node")
    stopper.start()
    stopper.join(60)
    stepping.join(60)
    assert not stopper.is_alive() and not stepping.is_alive()
    assert runtime.calls == ["step ended", "stop"]
    with pytest.raises(AccountLeft), runtime.round.step():
        pass  # and a later step does not run at all
