"""An actor that died without a failure report is restarted, not shown `running` for ever.

Found by review: the supervisor learns of a crash only from the actor's own report, sent from
its `on_failure`. An exception whose `str()` raises made that `on_failure` raise before it
reported, pykka ended the actor, and the supervisor kept it `running` with no failure and no
restart: its beats met an ActorDeadError that was taken for "its failure report is on the way",
and the symbol traded, trailed and closed nothing until the bot was restarted. Now a running
actor found dead at its heartbeat, with no report for `heartbeat_timeout_s`, is a failure
(where `died`), restarted from storage. Real supervisor, pykka actors, SQLite, paper exchange."""

from __future__ import annotations

from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no text for this error")


class RaiseWhenArmed:
    name = "raise-when-armed"

    def __init__(self, armed: list[bool]) -> None:
        self.armed = armed

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.armed[0]:
            self.armed[0] = False
            raise Unprintable()
        return None


def test_an_actor_dead_without_a_report_is_restarted(tmp_path):
    armed = [False]
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: RaiseWhenArmed(armed)).start()
    try:
        first = h.child(BTC).ref
        armed[0] = True
        h.poll()
        wait_until(lambda: not first.is_alive(), message="the actor dead")
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running"
                   and h.child(BTC).ref is not first, message="restarted")
        assert h.child(BTC).last_failure["where"] == "died"
        h.idle(BTC)  # the new actor answers
    finally:
        h.stop()


class ClaimFailsOnce(Repository):
    """The first claim of an incarnation raises an exception whose str() raises: the actor's
    on_start dies in its own error line, before its `start_failed` report."""

    armed = [True]

    def claim(self, symbol: str) -> int:
        if self.armed[0]:
            self.armed[0] = False
            raise Unprintable()
        return super().claim(symbol)


def test_an_actor_dead_in_its_start_without_a_report_is_restarted(tmp_path):
    h = Harness(tmp_path, [BTC], repository=ClaimFailsOnce).start()  # waits until running
    try:
        assert h.child(BTC).restarts == 1
        assert h.child(BTC).last_failure["where"] == "died"
        h.idle(BTC)
    finally:
        h.stop()
