"""The restart history (backoff, crash loop, escalation) survives a restart of the bot.

Found by review: it lived in memory only. A bot restarted by its service manager after each
crash started every symbol from nothing, so a symbol failing in every run was restarted for
ever with the first backoff and never escalated.

Real actors, supervisor, SQLite and paper exchange; each run is a new supervisor on the same
database with a monotonic clock of its own origin (a new process), the wall clock moving on
between runs. BTC's restore fails at every start (a repository given to the constructor)."""

from __future__ import annotations

from typing import Any

import pykka
import pytest
from loguru import logger

from storage.repository import Repository
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from tests.support.clock import ManualClock
from tests.support.harness import Harness
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BACKOFF = 4.0
PERIOD = 600.0


class BrokenRestore(Repository):
    broken = [True]

    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == BTC and self.broken[0]:
            raise RuntimeError("a bug in BTC's restore")
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    BrokenRestore.broken[0] = True
    yield
    pykka.ActorRegistry.stop_all(block=False)


class Run:
    """One process of the bot: its own supervisor and monotonic clock, the same database."""

    def __init__(self, tmp_path: Any, wall: ManualClock, n: int) -> None:
        h = Harness(tmp_path, [BTC, ETH], clock=wall, repository=BrokenRestore)
        self.mono = ManualClock(start=10_000.0 * n)
        self.lines: list[str] = []
        self._sink = logger.add(lambda m: self.lines.append(m.record["message"]),
                                level="WARNING")
        sup = h.supervise_with(h.supervisor(
            policy=RestartPolicy(max_restarts=2, period_s=PERIOD, backoff_initial_s=BACKOFF,
                                 backoff_max_s=60, stable_after_s=300),
            heartbeat_interval_s=0.0625, heartbeat_timeout_s=3600, clock=wall,
            monotonic=self.mono), fenced=True)
        self.h, self.sup = h, sup
        self.btc = sup.children[BTC]

    def first_failure(self) -> ChildState:
        """Start the bot; BTC's start fails once (no time passes: no restart follows)."""
        self.sup.start()
        # _fail sets last_failure first and the state last (restart_at after it): wait for the
        # state it leaves (its backoff scheduled, or quarantined), never STARTING
        wait_until(lambda: self.btc.last_failure is not None
                   and (self.btc.restart_at is not None
                        or self.btc.state is ChildState.QUARANTINED),
                   message="BTC's start failed")
        wait_until(lambda: self.sup.children[ETH].state is ChildState.RUNNING,
                   message="ETH runs")
        return self.btc.state

    def backoff(self) -> float:
        assert self.btc.restart_at is not None
        return self.btc.restart_at - self.mono()

    def stop(self) -> None:
        self.h.stop()  # the service manager restarts the bot
        logger.remove(self._sink)


def test_a_symbol_failing_in_every_run_escalates(tmp_path):
    wall = ManualClock(start=1_800_000_000.0)
    for n, backoff in ((1, BACKOFF), (2, 2 * BACKOFF)):
        run = Run(tmp_path, wall, n)
        try:
            assert run.first_failure() is ChildState.BACKING_OFF
            assert run.backoff() == backoff  # the backoff grows from run to run
        finally:
            run.stop()
        wall.advance(30.0)
    run = Run(tmp_path, wall, 3)
    try:
        state = run.first_failure()
        assert state is ChildState.QUARANTINED, (
            "BTC failed in each of 3 runs within the restart period (max_restarts 2) and was "
            f"not escalated: {state}, failure {run.btc.last_failure}")
        # QUARANTINED is set before the escalation's close, list entry and alert (_on_escalation)
        wait_until(lambda: run.sup.escalations, message="BTC's escalation listed")
        assert run.sup.escalations[-1]["symbol"] == BTC
        assert run.sup.children[ETH].state is ChildState.RUNNING
    finally:
        run.stop()


def test_failures_older_than_the_period_do_not_count(tmp_path):
    wall = ManualClock(start=1_800_000_000.0)
    for n in (1, 2):
        run = Run(tmp_path, wall, n)
        try:
            assert run.first_failure() is ChildState.BACKING_OFF
        finally:
            run.stop()
        wall.advance(PERIOD)  # the bot stayed down longer than the period
    run = Run(tmp_path, wall, 3)
    try:
        assert run.first_failure() is ChildState.BACKING_OFF
        assert run.backoff() == BACKOFF  # so long without failing: stable, backoff reset
    finally:
        run.stop()


def test_a_resume_clears_the_stored_history(tmp_path):
    wall = ManualClock(start=1_800_000_000.0)
    for n in (1, 2, 3):
        run = Run(tmp_path, wall, n)
        try:
            run.first_failure()
            if n == 3:
                assert run.btc.state is ChildState.QUARANTINED
                BrokenRestore.broken[0] = False  # a person fixed it and resumes: it runs
                # as `bot.py resume` does (runtime/controls.py): once the quarantine is stored
                # (the supervisor refuses a resume that waits for it longer than 1 s)
                wait_until(lambda run=run: run.sup.records.pending(BTC) == 0, timeout=30,
                           message="BTC's quarantine stored")
                run.sup.resume(BTC, by="test")
                btc = run.btc
                wait_until(lambda btc=btc: btc.state is ChildState.RUNNING,
                           message="the resumed symbol runs")
        finally:
            run.stop()
        wall.advance(30.0)
    BrokenRestore.broken[0] = True  # it fails again in the next run: its first failure since
    run = Run(tmp_path, wall, 4)
    try:
        assert run.first_failure() is ChildState.BACKING_OFF
        assert run.backoff() == BACKOFF
    finally:
        run.stop()


def test_an_unreadable_stored_history_is_its_symbols_alone(tmp_path):
    wall = ManualClock(start=1_800_000_000.0)
    run = Run(tmp_path, wall, 1)
    try:
        run.first_failure()
    finally:
        run.stop()
    run = Run(tmp_path, wall, 2)
    run.h.repo.set_meta(f"restart_history:{ETH}", "{not json")  # a hand edit
    run.stop()
    run = Run(tmp_path, wall, 3)
    try:
        run.first_failure()
        assert run.backoff() == 2 * BACKOFF  # BTC's history read back
        assert any(f"restart_history:{ETH}" in line and "cannot be read" in line
                   for line in run.lines), run.lines
    finally:
        run.stop()


def test_histories_are_read_back_by_their_exact_key_on_postgresql(pg_url):  # noqa: F811
    """LIKE reads "_" as any character, and PostgreSQL's ILIKE ignores case: only the exact
    prefix names a symbol's history (a real PostgreSQL server, BOT_TEST_PG_URL)."""
    from supervision.restart_policy import RestartHistory
    from supervision.restart_store import dump, stored_histories

    repo = Repository(url=pg_url, schema="bot_main")
    try:
        history = RestartHistory()
        history.on_failure(RestartPolicy(max_restarts=5, period_s=PERIOD, backoff_initial_s=1,
                                         backoff_max_s=8, stable_after_s=300), 500.0)
        stored = dump(history, wall_now=1_800_000_000.0, mono_now=500.0)
        repo.set_meta(f"restart_history:{BTC}", stored)
        repo.set_meta(f"restartXhistory:{ETH}", stored)  # not a history: another key
        repo.set_meta(f"RESTART_HISTORY:{ETH}", stored)
        read = stored_histories(repo, [BTC, ETH], 1_800_000_010.0, 20.0, logger)
        assert set(read) == {BTC}
        assert list(read[BTC].failures) == [10.0] and read[BTC].consecutive == 1
    finally:
        repo.close()
