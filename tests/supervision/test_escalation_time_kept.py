"""An escalation is stored with the time it happened, not the time its record was written.

The kill switch counts the escalations of the last `kill_switch_window_s` since a person's last
reset, in memory while the bot runs and from the escalations table after a restart (README,
Supervision). Found by review: the supervisor's escalation records (a crash loop, unreadable
state) are written by its record keeper, retried until the database takes them, and the row was
dated when the write finally succeeded. A record held back by a database outage was then
counted after a restart as if it had just happened: a symbol escalated long before the window,
or before a person reset the kill switch, counted toward the switch again. Real supervisor,
record keeper and SQLite; the wall clock is the test's, handed to both."""

from __future__ import annotations

import threading

import peewee
from loguru import logger

from storage import queries
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
WINDOW_S = 600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class EscalationsRefused(Repository):
    """The escalations table refuses writes while `down` is set (a database outage)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.down = threading.Event()
        self.tried = threading.Event()

    def add_escalation(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if self.down.is_set():
            self.tried.set()
            raise peewee.OperationalError("database is locked")
        super().add_escalation(*args, **kwargs)


def supervisor(repo: Repository, clock: Clock, symbols: list[str]) -> Supervisor:
    def start_actor(symbol: str):  # noqa: ANN202 - every start fails: it escalates at once
        raise RuntimeError(f"{symbol}: its actor cannot start")

    return Supervisor(
        symbols=symbols, start_actor=start_actor, repo=repo, clock=clock,
        policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=0.05,
        heartbeat_timeout_s=5, mailbox_max=1000, reconcile_interval_s=3600,
        kill_switch_escalations=1, kill_switch_window_s=WINDOW_S)


def test_an_escalation_written_late_is_counted_from_when_it_happened(tmp_path):
    clock = Clock(1_000_000.0)
    repo = EscalationsRefused(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    repo.down.set()
    try:
        sup = supervisor(repo, clock, [BTC])
        sup.start()  # BTC escalates now; its record waits for the database
        try:
            assert repo.tried.wait(10)
            clock.now += WINDOW_S + 100  # the outage outlasts the window
            repo.down.clear()
            assert sup.records.wait_stored(BTC, timeout_s=30)
            assert not sup.kill_switch
        finally:
            sup.stop(timeout_s=5)
        # a restart: BTC escalated before the window, so it does not count; one more symbol
        # escalating is one, within the bound (kill_switch_escalations = 1)
        clock.now += 10
        sup = supervisor(repo, clock, [ETH])
        try:
            assert [e["symbol"] for e in sup.escalations] == []
            sup.start()
            wait_until(lambda: len(sup.escalations) == 1, message="ETH escalated")
            assert not sup.kill_switch
        finally:
            sup.stop(timeout_s=5)
        rows = [e for e in repo.read(queries.escalations_since, 0.0) if e["symbol"] == BTC]
        assert [e["time"] for e in rows] == [1_000_000.0]  # as the status dump shows it
    finally:
        repo.down.clear()
        repo.close()
