"""A SystemExit or KeyboardInterrupt raised inside one symbol's actor is that actor's failure.

Found by review: pykka answers a BaseException that is not an Exception, raised in a handler (a
library's `sys.exit`, a stray KeyboardInterrupt out of a bug), by stopping EVERY actor of the
process (`ActorRegistry.stop_all`): one symbol's bug stopped every symbol of every account,
each then restarted from storage by the supervisor (trading, trailing and closing nothing
meanwhile). Raised in `on_start` (the restore and reconciliation), it escaped pykka's start
handling: the actor's thread ended without stopping the actor or reporting, and the symbol
stayed "starting" for ever, never restarted, its mailbox growing. Raised in `on_stop` (its
"stopped" line), it stopped every actor too, and whoever waited for that stop waited for ever.
An actor thread never gets
a real process shutdown this way (signals reach the main thread, runtime/shutdown.py), so the
actor turns it into its own failure. Real supervisor, real pykka actors, SQLite and the paper
exchange."""

from __future__ import annotations

import dataclasses

from actors.cores import OneWayCore
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class RaiseWhenArmed:
    name = "raise-when-armed"

    def __init__(self, armed: list[BaseException | None]) -> None:
        self.armed = armed

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        exc, self.armed[0] = self.armed[0], None
        if exc is not None:
            raise exc
        return None


def _contained(tmp_path, exc: BaseException) -> None:
    armed: list[BaseException | None] = [None]
    h = Harness(tmp_path, [BTC, ETH],
                strategy_for=lambda s: RaiseWhenArmed(armed) if s == BTC else NoSignals())
    h.start()
    try:
        first = {s: h.child(s).ref for s in (BTC, ETH)}
        armed[0] = exc
        h.poll()
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running"
                   and h.child(BTC).ref is not first[BTC], message="BTC restarted")
        assert h.child(BTC).last_failure["where"] == "handler"
        assert type(exc).__name__ in h.child(BTC).last_failure["error"]
        h.idle(ETH)  # the other symbol's actor was never stopped
        assert h.child(ETH).ref is first[ETH] and first[ETH].is_alive()
        assert h.child(ETH).restarts == 0 and h.child(ETH).last_failure is None
    finally:
        h.stop()


def test_a_system_exit_in_one_actor_stops_no_other(tmp_path):
    _contained(tmp_path, SystemExit("a library called sys.exit"))


def test_a_keyboard_interrupt_in_one_actor_stops_no_other(tmp_path):
    _contained(tmp_path, KeyboardInterrupt())


def test_a_system_exit_while_starting_is_a_failed_start_and_restarted(tmp_path):
    raised: list[bool] = []

    def wrap(paper):  # noqa: ANN001, ANN202
        faulty = FaultyExchange(paper)

        def exit_once(name, args, kwargs):  # noqa: ANN001, ANN202
            if not raised and BTC in (args[0] if args else kwargs.get("symbols") or []):
                raised.append(True)
                raise SystemExit("a library called sys.exit")

        faulty.before["fetch_positions"] = exit_once
        return faulty

    h = Harness(tmp_path, [BTC, ETH], wrap=wrap)
    h.start(wait=False)
    try:
        wait_until(lambda: raised and h.child(BTC).restarts == 1
                   and h.child(BTC).state.value == "running", message="BTC restarted")
        assert h.child(BTC).last_failure["where"] == "on_start"
        assert "SystemExit" in h.child(BTC).last_failure["error"]
        wait_until(lambda: h.child(ETH).state.value == "running", message="ETH running")
        h.idle(ETH)
        assert h.child(ETH).restarts == 0
    finally:
        h.stop()


class ExitsInItsStopLine(OneWayCore):
    """The one-way core whose summary (the actor's "stopped" line) raises SystemExit once."""

    armed: list[bool] = [False]

    def summary(self, state):  # noqa: ANN001, ANN201
        if self.armed[0]:
            self.armed[0] = False
            raise SystemExit("a library called sys.exit")
        return super().summary(state)


def test_a_system_exit_while_stopping_stops_no_other_actor(tmp_path):
    h = Harness(tmp_path, [BTC, ETH])
    h.deps = dataclasses.replace(
        h.deps, core_for=lambda s: ExitsInItsStopLine(h.core_for(s)) if s == BTC
        else h.core_for(s))
    h.start()
    try:
        first = {s: h.child(s).ref for s in (BTC, ETH)}
        ExitsInItsStopLine.armed[0] = True
        first[BTC].stop(block=False)  # nobody asked the supervisor: it restarts BTC
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running",
                   message="BTC restarted")
        h.idle(ETH)  # the other symbol's actor was never stopped
        assert h.child(ETH).ref is first[ETH] and first[ETH].is_alive()
        assert h.child(ETH).restarts == 0
    finally:
        ExitsInItsStopLine.armed[0] = False
        h.stop()
