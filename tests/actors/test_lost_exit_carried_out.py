"""An exit signal lost with a crashed actor's mailbox is carried out by its successor.

Found by a paper chaos run (session 45, 150 kills): every signal that reached the journal but
died with its actor's mailbox was recorded as skipped by the restarted actor, exits included.
56 exits were lost so; for 31 a position was open, which stayed open (up to 34 s) until a later
signal closed it, though its sender had been told 202 and README says an exit is carried out
however late it reaches the actor (only its own `expires_at` ends it). Now the successor carries
a lost exit out once its start has reconciled; a lost entry is still skipped (prices moved), and
so is an exit whose own `expires_at` passed meanwhile.

Real supervisor with fences, pykka actors, SQLite, the paper exchange; the actor hangs in its
strategy (not in a bounded call), so the supervisor replaces it and pykka's mailbox is lost.
"""

from __future__ import annotations

import dataclasses
import threading

from actors.messages import ExternalSignal
from actors.signal_intake import LOST
from tests.signals.support import signal_events
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


class HangsWhenAsked:
    """No signals of its own; once `hang` is set, the next price hangs the actor until
    `release` (a strategy stuck in a slow call)."""

    name = "hangs"

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.hung = threading.Event()
        self.release = threading.Event()

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.hang.is_set():
            self.hang.clear()
            self.hung.set()
            self.release.wait(30)
        return None


def _crash_with(h: Harness, strategy: HangsWhenAsked, *signals: ExternalSignal,
                later_s: float = 0.0) -> None:
    """Hang the actor, hand it `signals` (journaled SignalReceived, in its mailbox), move the
    clock `later_s`, and wait for its successor to run: the hung incarnation's mailbox is
    lost."""
    old = h.child(BTC).ref
    strategy.hang.set()
    h.poll()
    assert strategy.hung.wait(10), "the actor never hung"
    for signal in signals:
        assert h.sup.deliver_signal(BTC, signal)
    h.clock.advance(later_s)
    wait_until(lambda: h.child(BTC).ref is not old and h.child(BTC).state.value == "running",
               timeout=20, message="the successor running")


def _harness(tmp_path, strategy: HangsWhenAsked) -> Harness:  # noqa: ANN001
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, heartbeat_interval_s=0.05,
                heartbeat_timeout_s=0.3)
    h.deps = dataclasses.replace(h.deps, fences=h.sup.fences, busy=h.sup.busy)
    return h


def test_a_lost_exit_closes_the_position_and_a_lost_entry_is_skipped(tmp_path) -> None:  # noqa: ANN001
    strategy = HangsWhenAsked()
    h = _harness(tmp_path, strategy)
    h.start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: h.view(BTC).protected, message="BTC long and protected")
        _crash_with(h, strategy,
                    ExternalSignal(side=None, signal_id="x1", reason="signal:http"),
                    ExternalSignal(side=Side.SHORT, signal_id="e1", reason="signal:http",
                                   expires_at=h.clock() + 30))
        wait_until(lambda: h.exchange_position(BTC) is None, timeout=20,
                   message="the lost exit closed BTC")
        wait_until(lambda: signal_events(h, BTC, "SignalHandled", "x1"), message="x1 handled")
        [handled] = signal_events(h, BTC, "SignalHandled", "x1")
        assert handled["data"]["reason"] == f"{LOST}; carried out after the restart", handled
        assert signal_events(h, BTC, "SignalSkipped", "x1") == []
        [skipped] = signal_events(h, BTC, "SignalSkipped", "e1")
        assert skipped["data"]["reason"] == LOST, skipped
        assert signal_events(h, BTC, "SignalHandled", "e1") == []
        assert h.exchange_stops(BTC) == []  # the closed position's stop went with it
        assert h.repo.unhandled_signals(BTC) == []
    finally:
        strategy.release.set()
        h.stop()


def test_a_lost_exit_whose_own_expiry_passed_is_skipped(tmp_path) -> None:  # noqa: ANN001
    strategy = HangsWhenAsked()
    h = _harness(tmp_path, strategy)
    h.start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: h.view(BTC).protected, message="BTC long and protected")
        _crash_with(h, strategy, ExternalSignal(side=None, signal_id="x2", reason="signal:http",
                                                expires_at=h.clock() + 5),
                    later_s=10)  # the successor starts after the exit's own expiry
        wait_until(lambda: signal_events(h, BTC, "SignalSkipped", "x2"), message="x2 skipped")
        [skipped] = signal_events(h, BTC, "SignalSkipped", "x2")
        assert skipped["data"]["reason"] == f"{LOST}; it expired meanwhile", skipped
        assert h.exchange_position(BTC) is not None and h.view(BTC).protected
    finally:
        strategy.release.set()
        h.stop()
