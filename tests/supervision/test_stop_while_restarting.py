"""A graceful stop waits for an actor that is being restarted, as for one starting.

`Supervisor.stop` told BlockEntries to and stopped only the actors running or starting: one in
the middle of its restart (`restarting`: restoring and reconciling in on_start) was neither
told nor waited for, nor named among the stuck ones. The bot then closed the database and the
exchange and released its locks while that actor was still reconciling (its last commits
failing on a stopped writer, no final line), and a hung restart was never reported as stuck.
Real supervisor, actors and SQLite; the restarted actor's start is held in its exchange call."""

from __future__ import annotations

import threading
from typing import Any

from supervision.restart_policy import RestartPolicy
from tests.support.crashing import CrashOnFirstPrice
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Gate:
    """Once armed, the next call waits until released."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *_: Any) -> None:
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.release.wait(30), "never released"


def test_stop_names_an_actor_held_in_its_restart_and_stops_it_after(tmp_path):
    gate = Gate()
    box: dict[str, FaultyExchange] = {}

    def wrap(paper: Any) -> FaultyExchange:
        box["fx"] = fx = FaultyExchange(paper)
        fx.before["fetch_positions"] = gate
        return fx

    strategy = CrashOnFirstPrice()
    h = Harness(tmp_path, [BTC], wrap=wrap, strategy_for=lambda s: strategy,
                policy=RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        first = h.child(BTC).ref
        gate.armed = True
        h.poll()  # the actor crashes; its restart's reconciliation is held
        assert gate.entered.wait(30), "the restart never reconciled"
        child = h.child(BTC)
        # the new actor's thread can reach the gate before the supervisor has stored its ref
        wait_until(lambda: child.ref is not first, message="the restarted actor's ref stored")
        assert child.state.value == "restarting"
        second = child.ref
        stuck = h.sup.stop(timeout_s=0.5)
        assert stuck == [BTC]  # held in its start: reported, not passed over
        gate.release.set()
        wait_until(lambda: not second.is_alive(), message="the restarted actor stopped")
    finally:
        gate.release.set()
        h.stop()
