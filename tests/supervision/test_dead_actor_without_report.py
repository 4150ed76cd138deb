"""An actor that died without a failure report is restarted, not shown `running` for ever.

Found by review: the supervisor learns of a crash only from the actor's own report, sent from
its `on_failure`. An exception whose `str()` raises made that `on_failure` raise before it
reported, pykka ended the actor, and the supervisor kept it `running` with no failure and no
restart: its beats met an ActorDeadError that was taken for "its failure report is on the way",
and the symbol traded, trailed and closed nothing until the bot was restarted. Now a running
actor found dead at its heartbeat, with no report for `heartbeat_timeout_s`, is a failure
(where `died`), restarted from storage. Later found by review: the report was lost because
`describe()` itself raised on such an exception; it now names the error by its type and the
report arrives (the tests below check both: the report, and a report that still never comes).
Real supervisor, pykka actors, SQLite, paper exchange."""

from __future__ import annotations

import dataclasses

from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no text for this error")


class CommitFailsWhenArmed(Repository):
    """While armed, the next commit raises an exception whose str() raises: the actor's handler
    fails with it. (These tests raised it from the strategy before a strategy's exceptions were
    contained in its symbol: actors/strategy_guard.py.)"""

    armed = [False]

    def commit(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        if self.armed[0]:
            self.armed[0] = False
            raise Unprintable()
        return super().commit(*args, **kwargs)


def test_an_unprintable_crash_is_reported_by_its_type_and_restarted(tmp_path):
    CommitFailsWhenArmed.armed[0] = False
    h = Harness(tmp_path, [BTC], repository=CommitFailsWhenArmed).start()
    try:
        first = h.child(BTC).ref
        CommitFailsWhenArmed.armed[0] = True
        assert h.signal(BTC, Side.LONG)  # its entry's commit fails
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running"
                   and h.child(BTC).ref is not first, message="restarted")
        assert h.child(BTC).last_failure["where"] == "handler"
        assert h.child(BTC).last_failure["error"] == "Unprintable: (its message cannot be read)"
        h.idle(BTC)
    finally:
        h.stop()


def test_an_actor_dead_without_a_report_is_restarted(tmp_path):
    CommitFailsWhenArmed.armed[0] = False
    h = Harness(tmp_path, [BTC], repository=CommitFailsWhenArmed, heartbeat_timeout_s=1.0)
    report = h.deps.report

    def loses_crashes(symbol, incarnation, what, error):  # noqa: ANN001, ANN202
        if what != "crashed":  # the crash's report never comes
            report(symbol, incarnation, what, error)

    h.deps = dataclasses.replace(h.deps, report=loses_crashes)
    h.start()
    try:
        first = h.child(BTC).ref
        CommitFailsWhenArmed.armed[0] = True
        assert h.signal(BTC, Side.LONG)  # its entry's commit fails
        wait_until(lambda: not first.is_alive(), message="the actor dead")
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running"
                   and h.child(BTC).ref is not first, message="restarted")
        assert h.child(BTC).last_failure["where"] == "died"
        h.idle(BTC)  # the new actor answers
    finally:
        h.stop()


class ClaimFailsOnce(Repository):
    """The first claim of an incarnation raises an exception whose str() raises: the actor's
    on_start died in its own error line, before its `start_failed` report."""

    armed = [True]

    def claim(self, symbol: str) -> int:
        if self.armed[0]:
            self.armed[0] = False
            raise Unprintable()
        return super().claim(symbol)


def test_an_unprintable_failed_start_is_reported_and_restarted(tmp_path):
    h = Harness(tmp_path, [BTC], repository=ClaimFailsOnce).start()  # waits until running
    try:
        assert h.child(BTC).restarts == 1
        assert h.child(BTC).last_failure["where"] == "on_start"
        assert h.child(BTC).last_failure["error"] == "Unprintable: (its message cannot be read)"
        h.idle(BTC)
    finally:
        h.stop()


def test_a_spawn_failing_with_an_unprintable_error_is_a_failure_like_any(tmp_path):
    """The supervisor's own text of a failure: `start()` raised out of the first spawn."""
    h = Harness(tmp_path, [BTC])
    calls: list[str] = []

    def start_actor(symbol: str):  # noqa: ANN202
        calls.append(symbol)
        if len(calls) == 1:
            raise Unprintable()
        return h._start(symbol)

    h.supervise_with(h.supervisor(start_actor=start_actor, heartbeat_timeout_s=1.0))
    try:
        h.start()  # waits until running
        child = h.child(BTC)
        assert child.restarts == 1 and child.last_failure["where"] == "spawn"
        assert child.last_failure["error"].startswith("Unprintable")
    finally:
        h.stop()
