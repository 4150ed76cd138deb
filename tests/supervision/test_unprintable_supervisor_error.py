"""An error whose text cannot be read does not end the supervisor's thread.

Found by review: the supervisor's thread logs any error of a round ("supervisor error: {}")
and goes on, but formatting that line called str() on the error: an exception whose __str__
raises (a library's broken error class, out of the status hook, an alert, the emergency close)
raised again inside the handler and ended the thread. Every actor of the account then went
without heartbeats, restarts and periodic reconciliations, with one traceback on stderr. Now
the line names such an error by its type. Real supervisor, actors, SQLite, paper exchange; the
heartbeat hook (a constructor argument, set before the start) raises once."""

from __future__ import annotations

from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no text for this error")


def test_an_unprintable_error_in_a_round_leaves_the_supervisor_running(tmp_path):
    h = Harness(tmp_path, [BTC])
    beats: list[int] = []

    def on_heartbeat() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise Unprintable()

    h.sup.on_heartbeat = on_heartbeat
    h.start(wait=False)  # the first round's hook raises before the actor's start is handled
    try:
        wait_until(lambda: len(beats) >= 3 and h.child(BTC).state.value == "running",
                   message="the supervisor beating on, the actor running")
        h.idle(BTC)
    finally:
        h.stop()
