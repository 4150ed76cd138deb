"""An IllegalTransition inside a real actor is a crash the supervisor handles: restart from
storage, then quarantine when it keeps happening, with the transition named in the status.

The bug is injected through the harness's core factory (constructor injection): a core that
keeps a filled stop among the live orders. The real reconciliation then reports the stop as
resting, and the real `on_accepted` check refuses `filled -> open`."""

from __future__ import annotations

from typing import Any

from dataclasses import replace

from actors.messages import Reconcile
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import Event, Reconciled
from trading.model import OrderPurpose, OrderStatus, Side, SymbolState

SYM = "BTC/USDT:USDT"


class FinalStopKeptLive(SymbolCore):
    """A handler bug: on reconciliation, the live stop is marked filled but left in place."""

    def decide(self, state: SymbolState, event: Event, now: float,
               admit: Any = None) -> Decision[SymbolState]:
        if isinstance(event, Reconciled):
            orders = tuple(replace(o, status=OrderStatus.FILLED)
                           if o.purpose is OrderPurpose.STOP else o for o in state.orders)
            state = replace(state, orders=orders)
        return super().decide(state, event, now, admit=admit)


class BuggyHarness(Harness):
    def core_for(self, symbol: str) -> SymbolCore:
        return FinalStopKeptLive(super().core_for(symbol).rules)


def test_illegal_transition_crashes_the_actor_and_ends_in_quarantine(tmp_path):
    h = BuggyHarness(tmp_path, [SYM]).start()
    try:
        h.poll()
        assert h.signal(SYM, Side.LONG)
        wait_until(lambda: h.exchange_stops(SYM), message="the exchange stop resting")
        h.idle(SYM)
        assert h.child(SYM).state.value == "running" and h.child(SYM).restarts == 0
        # each restart reconciles from storage and meets the same bug again
        h.child(SYM).ref.tell(Reconcile(reason="test"))
        wait_until(lambda: h.child(SYM).state.value == "quarantined", timeout=20,
                   message="quarantined after repeated crashes")
        failure = h.child(SYM).last_failure
        assert failure["where"] == "on_start"  # the first crash was in the handler, then each
        # restart reconciled from storage and met the same bug
        assert failure["error"].startswith("IllegalTransition: order main-")
        assert failure["error"].endswith(": filled -> open")
        assert h.child(SYM).restarts >= 1
        # the escalation's emergency close (the supervisor's one path) took the position off;
        # until it did, the exchange stop stayed: never a position without protection
        wait_until(lambda: h.exchange_position(SYM) is None or h.exchange_stops(SYM),
                   message="closed by the emergency path, or still protected")
    finally:
        h.stop()
