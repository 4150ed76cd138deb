"""The two early returns of `lifecycle._order_done` that no decision test reached (an order of
an earlier position ending while a new one is being closed; a close ending part filled while
the symbol is quarantined, or while a newer close is live) are reachable, and each one is what
keeps a spurious close failure (and, once the attempts are used up, a second escalation: a
second emergency close) from being booked. Pinned here: removing any of these conditions fails
its test."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    OrderAccepted,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    QuarantineLifted,
    ReconcileFailed,
    SignalRaised,
)
from trading.model import OrderPurpose, Phase, Side, SymbolState


class Run:
    def __init__(self, **risk) -> None:
        self.core = SymbolCore(make_rules(**risk))
        self.now = 1000.0
        self.state = None
        self.journal: list = []
        self.commands: list = []

    def send(self, event):
        self.now += 1
        state = self.state or SymbolState(symbol=self.core.rules.symbol)
        d = self.core.decide(state, event, self.now)
        self.state, self.commands = d.state, list(d.commands)
        self.journal += [j.type for j in d.journal]
        return d

    def placed(self, purpose: OrderPurpose):
        return [c.order for c in self.commands
                if isinstance(c, PlaceOrder) and c.order.purpose is purpose]

    def filled(self, order, amount, price, complete=True):
        return self.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x",
                                     filled=D(amount), average=D(price), fee=D("0.01"),
                                     complete=complete))

    def protected_long(self):
        self.send(PriceTicked(price=D("100")))
        self.send(SignalRaised(side=Side.LONG))
        (entry,) = self.placed(OrderPurpose.ENTRY)
        self.filled(entry, "1", "100")
        (stop,) = self.placed(OrderPurpose.STOP)
        self.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s"))
        return stop


def test_an_earlier_positions_close_ending_does_not_fail_the_new_positions_close():
    run = Run()
    stop_a = run.protected_long()
    run.send(SignalRaised(side=None, reason="exit"))
    (close_a,) = run.placed(OrderPurpose.CLOSE)
    run.send(OrderAccepted(client_order_id=close_a.client_order_id, exchange_id="ca"))
    run.filled(close_a, "0.4", "101", complete=False)
    run.filled(stop_a, "0.6", "101")  # the stop closed the rest: position A is flat
    assert run.state.phase is Phase.FLAT
    assert run.state.order(close_a.client_order_id) is not None  # its cancel unanswered yet
    run.protected_long()  # position B
    run.send(SignalRaised(side=None, reason="exit"))
    (close_b,) = run.placed(OrderPurpose.CLOSE)
    run.send(OrderFailed(client_order_id=close_b.client_order_id, error="busy"))
    retry_at, failures = run.state.next_close_at, run.journal.count("CloseFailed")
    assert run.state.phase is Phase.CLOSING and retry_at is not None and failures == 1
    run.filled(close_a, "0.4", "101")  # A's close ends: nothing more filled
    assert run.journal.count("CloseFailed") == failures, "A's close failed B's close"
    assert run.state.next_close_at == retry_at


def test_a_close_ending_part_filled_after_the_symbol_escalated_escalates_nothing_more():
    run = Run(max_close_attempts=1)
    run.protected_long()
    run.send(SignalRaised(side=None, reason="exit"))
    (close,) = run.placed(OrderPurpose.CLOSE)
    run.send(ReconcileFailed(error="bug", failures=1))  # its outcome cannot be learnt
    escalations = [c for c in run.commands if isinstance(c, Escalate)]
    assert run.state.quarantined and len(escalations) == 1
    d = run.filled(close, "0.4", "99")  # the close ends part filled, the rest expired
    assert run.state.position is not None and run.state.position.contracts == D("0.6")
    assert not [c for c in d.commands if isinstance(c, Escalate)], "a second emergency close"
    assert "CloseFailed" not in run.journal


def test_a_close_ending_part_filled_while_a_newer_close_is_live_fails_nothing():
    run = Run(max_close_attempts=1)
    run.protected_long()
    run.send(SignalRaised(side=None, reason="exit"))
    (first,) = run.placed(OrderPurpose.CLOSE)
    run.send(ReconcileFailed(error="bug", failures=1))  # escalated with the close in flight
    run.send(QuarantineLifted(by="operator"))  # a person resumes: open again, attempts from 0
    run.send(SignalRaised(side=None, reason="exit"))
    (second,) = run.placed(OrderPurpose.CLOSE)
    d = run.filled(first, "0.4", "99")  # the first close ends part filled
    assert run.state.order(second.client_order_id) is not None
    assert not [c for c in d.commands if isinstance(c, Escalate)]
    assert "CloseFailed" not in run.journal and run.state.close_attempts == 1
