"""A restart is never lost to the database: the supervisor counts each restart in storage, and
when that write failed (a cluster node's PostgreSQL not answering within its 10 s deadline,
seen in a CI run of the zombie test) the supervisor thread logged "supervisor error" with the
child's restart already unscheduled: the account's actor stayed stopped on the node that held
its lease, and nothing managed it until the node stopped. Real supervisor, actors and SQLite;
the repository's restart count fails once through its own class."""

from __future__ import annotations

import peewee

from storage.repository import Repository
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug, CrashOnFirstPrice
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class CountFailsOnce(Repository):
    failed: list[str] = []

    def count_restart(self, symbol: str) -> None:
        if not self.failed:
            self.failed.append(symbol)
            raise peewee.OperationalError("the database server did not answer within 10s")
        super().count_restart(symbol)


def test_a_restart_whose_count_cannot_be_written_still_happens(tmp_path, lines):
    CountFailsOnce.failed = []
    strategy = CrashOnFirstPrice()
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, repository=CountFailsOnce,
                policy=RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        first = h.child(BTC).ref
        h.poll()  # the first price: the actor crashes
        wait_until(lambda: CountFailsOnce.failed == [BTC], message="the count failed")
        wait_until(lambda: h.child(BTC).state.value == "running" and h.child(BTC).ref is not first,
                   message="the actor restarted although its restart was not counted")
        assert h.child(BTC).restarts == 1
        wait_until(lambda: any("the restart count not stored" in line for line in lines),
                   message="the restart count's failure logged")
        assert not any("supervisor error" in line for line in lines)
    finally:
        h.stop()


class RecordsFail(Repository):
    """The database fails the supervisor's escalation and kill-switch records."""

    def quarantine(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise peewee.OperationalError("the database server did not answer within 10s")

    def set_meta(self, key: str, value: str) -> None:
        if key == "kill_switch":
            raise peewee.OperationalError("the database server did not answer within 10s")
        super().set_meta(key, value)


class AlwaysCrash:
    name = "always-crash"

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        raise ActorBug("bug on every price")


def test_an_escalation_whose_records_cannot_be_written_still_alerts_and_blocks(tmp_path, lines):
    """Before, the failed quarantine write ended the escalation before its alert and emergency
    close (a crash loop from a failing database is exactly when that happens), and the kill
    switch's write came before its alert and the actors' BlockEntries."""
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: AlwaysCrash(), repository=RecordsFail,
                kill_switch_escalations=0,
                policy=RestartPolicy(max_restarts=1, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        for _ in range(5):  # a new price each round: the running actor crashes on it
            wait_until(lambda: h.child(BTC).state.value in ("running", "quarantined"),
                       message="running or quarantined")
            if h.child(BTC).state.value == "quarantined":
                break
            restarts = h.child(BTC).restarts
            h.clock.advance(1.0)
            h.poll()
            wait_until(lambda r=restarts: h.child(BTC).restarts > r
                       or h.child(BTC).state.value == "quarantined", message="a crash")
        assert h.child(BTC).state.value == "quarantined"
        wait_until(lambda: [a["kind"] for a in h.alerts.sent] == ["escalation", "kill_switch"],
                   message="the escalation's and the kill switch's alerts")
        assert h.sup.entries_blocked()
        # the records are written off the supervisor's thread (supervision/record_keeper.py)
        wait_until(lambda: any("the escalation not stored" in line for line in lines),
                   message="the escalation's failure logged")
        wait_until(lambda: any("the kill switch not stored" in line for line in lines),
                   message="the kill switch's failure logged")
    finally:
        h.stop()
