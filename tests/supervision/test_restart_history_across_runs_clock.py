"""A stored restart history read back by the next run of the bot (supervision/restart_store.py):
times stored ahead of a wall clock that stepped back count as now, and a crash loop already
told is not told again.

Mutation audit (helper t): reading a stored time ahead of the clock as that far in the future
(no `max(..., 0)`), or reading `loop_told` back as False, failed no test.

Real actors, supervisor, SQLite and paper exchange; each run is a new supervisor on the same
database with a monotonic clock of its own origin (a new process). BTC's restore fails at every
start (a repository given to the constructor)."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from storage.repository import Repository
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from tests.support.clock import ManualClock
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class BrokenRestore(Repository):
    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == BTC:
            raise RuntimeError("a bug in BTC's restore")
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


class Run:
    """One process of the bot: its own supervisor and monotonic clock, the same database."""

    def __init__(self, tmp_path: Any, wall: ManualClock, n: int, policy: RestartPolicy) -> None:
        h = Harness(tmp_path, [BTC, ETH], clock=wall, repository=BrokenRestore)
        self.mono = ManualClock(start=10_000.0 * n)
        sup = h.supervise_with(h.supervisor(
            policy=policy, heartbeat_interval_s=0.0625, heartbeat_timeout_s=3600, clock=wall,
            monotonic=self.mono), fenced=True)
        self.h, self.sup = h, sup
        self.btc = sup.children[BTC]
        self.base = self.btc.restarts  # earlier runs' restarts (stored)

    def start(self) -> None:
        """Start the bot; BTC's start fails (no time passes: no restart follows)."""
        self.sup.start()
        self.settled(0)
        wait_until(lambda: self.sup.children[ETH].state is ChildState.RUNNING,
                   message="ETH runs")

    def settled(self, restarts: int) -> ChildState:
        """BTC's failure after its `restarts`-th restart of this run is handled: backing off
        (its restart scheduled) or quarantined."""
        btc = self.btc
        wait_until(lambda: btc.restarts - self.base == restarts
                   and btc.last_failure is not None
                   and ((btc.state is ChildState.BACKING_OFF and btc.restart_at is not None)
                        or btc.state is ChildState.QUARANTINED),
                   timeout=30, message=f"BTC failed after restart {restarts}")
        return btc.state

    def fail_again(self, after_s: float, restarts: int) -> ChildState:
        """`after_s` pass on this run's clock (past the backoff): BTC restarts and fails."""
        self.mono.advance(after_s)
        return self.settled(restarts)

    def crash_loop_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.h.alerts.sent if a["kind"] == "crash_loop" and a["symbol"] == BTC]

    def stop(self) -> None:
        self.h.stop()  # the service manager restarts the bot


def test_failures_stored_ahead_of_a_clock_set_back_leave_the_window_in_time(tmp_path):
    """The host's clock is set back an hour while the bot is down (NTP, a VM restored): the
    earlier run's failure, stored an hour "ahead", counts as now and leaves the 600 s window
    600 s later, not an hour later. Read as an hour ahead it kept the window from moving, and a
    symbol failing once every 10 minutes was escalated (quarantined, its position closed)."""
    policy = RestartPolicy(max_restarts=2, period_s=600, backoff_initial_s=4, backoff_max_s=60,
                           stable_after_s=300)
    wall = ManualClock(start=1_800_000_000.0)
    run = Run(tmp_path, wall, 1, policy)
    try:
        run.start()
        assert run.btc.state is ChildState.BACKING_OFF
    finally:
        run.stop()
    wall.advance(-3600.0)  # set back an hour while the bot is down
    run = Run(tmp_path, wall, 2, policy)
    try:
        run.start()  # its 2nd failure within the window (max_restarts 2): restarted
        assert run.btc.state is ChildState.BACKING_OFF
        state = run.fail_again(601.0, 1)  # both earlier failures are > 600 s old now
        assert state is ChildState.BACKING_OFF, (
            "BTC failed once 601 s after two failures, with max_restarts 2 in 600 s, and was "
            f"escalated: {state}; history {list(run.btc.history.failures)} at {run.mono()}")
        assert list(run.btc.history.failures) == [run.mono()]
        assert not run.sup.escalations
    finally:
        run.stop()


def test_a_crash_loop_told_in_an_earlier_run_is_not_told_again(tmp_path):
    """A crash loop (failing every 40 s: too slow to escalate with 2 in 60 s, never running
    300 s) is told once; the bot restarted by its service manager keeps the same loop going,
    and a person was told again at each start."""
    policy = RestartPolicy(max_restarts=2, period_s=60, backoff_initial_s=4, backoff_max_s=8,
                           stable_after_s=300)
    wall = ManualClock(start=1_800_000_000.0)
    run = Run(tmp_path, wall, 1, policy)
    try:
        run.start()
        assert run.fail_again(40.0, 1) is ChildState.BACKING_OFF
        assert not run.crash_loop_alerts()
        assert run.fail_again(40.0, 2) is ChildState.BACKING_OFF  # 3 in a row: a crash loop
        assert len(run.crash_loop_alerts()) == 1, run.h.alerts.sent
        wait_until(lambda: run.sup.records.pending(BTC) == 0, timeout=30,
                   message="BTC's history stored")
    finally:
        run.stop()
    wall.advance(40.0)  # the bot is restarted 40 s later: the loop goes on
    run = Run(tmp_path, wall, 2, policy)
    try:
        run.start()
        assert run.btc.state is ChildState.BACKING_OFF  # 2 in the last 60 s: not escalated
        assert run.btc.history.consecutive == 4  # the loop is the same one
        assert run.crash_loop_alerts() == [], (
            "the crash loop told in the earlier run was told again: "
            f"{run.crash_loop_alerts()}")
    finally:
        run.stop()
