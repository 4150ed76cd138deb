"""An error whose text cannot be read, or a SystemExit, does not end the supervisor's thread.

Found by review: the supervisor's thread logs any error of a round ("supervisor error: {}")
and goes on, but formatting that line called str() on the error: an exception whose __str__
raises (a library's broken error class, out of the status hook, an alert, the emergency close)
raised again inside the handler and ended the thread. Every actor of the account then went
without heartbeats, restarts and periodic reconciliations, with one traceback on stderr. Now
the line names such an error by its type. A SystemExit or KeyboardInterrupt raised there (a
library's sys.exit, a bug) ended the thread the same way; a real shutdown never arrives on it
as an exception (signals reach the main thread), so it is logged like any error of a round.
Real supervisor, actors, SQLite, paper exchange; the heartbeat hook (a constructor argument,
set before the start) raises once."""

from __future__ import annotations

import pytest

from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no text for this error")


@pytest.mark.parametrize("error", [Unprintable(), SystemExit("a library called sys.exit"),
                                   KeyboardInterrupt()], ids=["unprintable", "exit", "interrupt"])
def test_an_error_in_a_round_leaves_the_supervisor_running(tmp_path, error):
    h = Harness(tmp_path, [BTC])
    beats: list[int] = []

    def on_heartbeat() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise error

    h.sup.on_heartbeat = on_heartbeat
    h.start(wait=False)  # the first round's hook raises before the actor's start is handled
    try:
        wait_until(lambda: len(beats) >= 3 and h.child(BTC).state.value == "running",
                   message="the supervisor beating on, the actor running")
        h.idle(BTC)
    finally:
        h.stop()
