"""Orders that end partly filled (review 3, defects 2 and 3): an entry whose rest expires or is
cancelled leaves an open, protected position; a close whose rest expires is sent again, bounded
by max_close_attempts. Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    PriceTicked,
    SignalRaised,
    TimerFired,
)
from trading.model import Order, OrderPurpose, Phase, Side, SymbolState


class Core:
    def __init__(self, **risk) -> None:
        self.core = SymbolCore(make_rules(**risk))
        self.state = SymbolState(symbol=self.core.rules.symbol)
        self.now = 1000.0
        self.last: Decision = Decision(state=self.state)

    def send(self, event, at: float | None = None) -> Decision:
        self.now = self.now + 0.1 if at is None else at
        self.last = self.core.decide(self.state, event, self.now)
        self.state = self.last.state
        return self.last

    def placed(self, purpose: OrderPurpose) -> list[Order]:
        return [c.order for c in self.last.commands
                if isinstance(c, PlaceOrder) and c.order.purpose is purpose]

    def report(self, order: Order, filled: str, complete: bool, price: str = "100") -> Decision:
        return self.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x1",
                                     filled=D(filled), average=D(price), fee=D(0),
                                     complete=complete))

    def entry(self) -> Order:
        self.send(PriceTicked(price=D(100)))
        self.send(SignalRaised(side=Side.LONG))
        (entry,) = self.placed(OrderPurpose.ENTRY)
        assert entry.amount == D("1")
        return entry

    def journal(self) -> list[str]:
        return [j.type for j in self.last.journal]


def assert_opened_and_protected(c: Core) -> None:
    assert c.state.phase is Phase.OPEN and c.state.position is not None
    assert "PositionOpened" in c.journal()
    (stop,) = c.placed(OrderPurpose.STOP)
    assert stop.amount == c.state.position.contracts and stop.stop_price == D("99.0")
    assert c.state.trailing is not None


def test_an_entry_whose_rest_expires_after_a_partial_report_opens_and_is_protected():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    assert c.state.phase is Phase.ENTERING
    c.report(entry, "0.5", complete=True)  # the venue expired the rest: nothing new filled
    assert_opened_and_protected(c)
    assert c.state.position.contracts == D("0.5")


def test_an_entry_cancelled_after_a_partial_fill_gets_stop_trailing_stop_and_take_profit():
    c = Core(take_profit_pct=D("2"))
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    c.send(OrderCanceled(client_order_id=entry.client_order_id))
    assert_opened_and_protected(c)
    assert c.state.take_profit_price == D("102.0")


def _closing(c: Core) -> Order:
    """A long of 1 open and protected; an exit signal sends a close of 1."""
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(SignalRaised(side=None, reason="exit"))
    (close,) = c.placed(OrderPurpose.CLOSE)
    return close


def test_a_close_whose_rest_expires_is_sent_again_for_the_remainder():
    c = Core()
    close = _closing(c)
    c.report(close, "0.4", complete=True)  # filled 0.4 of 1, the rest expired
    assert c.state.phase is Phase.CLOSING and c.state.position.contracts == D("0.6")
    assert c.state.next_close_at is not None
    assert c.state.next_close_at <= c.now + c.core.rules.risk.close_backoff_max_s
    c.send(TimerFired(), at=c.state.next_close_at)
    (again,) = c.placed(OrderPurpose.CLOSE)
    assert again.amount == D("0.6")


def test_a_close_reported_partly_then_done_with_nothing_new_is_sent_again():
    c = Core()
    close = _closing(c)
    c.report(close, "0.4", complete=False)
    c.report(close, "0.4", complete=True)  # the rest expired: no new fill in this report
    assert c.state.next_close_at is not None
    c.send(TimerFired(), at=c.state.next_close_at)
    assert [o.amount for o in c.placed(OrderPurpose.CLOSE)] == [D("0.6")]


def test_closes_that_keep_ending_partly_filled_escalate_after_max_close_attempts():
    c = Core()  # max_close_attempts = 3
    close = _closing(c)
    escalations = []
    left = D(1)
    for _ in range(6):
        left -= D("0.1")
        c.report(close, "0.1", complete=True)
        escalations += [x for x in c.last.commands if isinstance(x, Escalate)]
        if c.state.next_close_at is None:
            break
        c.send(TimerFired(), at=c.state.next_close_at)
        (close,) = c.placed(OrderPurpose.CLOSE)
        assert close.amount == left
    assert len(escalations) == 1 and c.state.quarantined
    assert c.state.close_attempts == 3


def test_a_stop_that_fills_only_in_part_is_replaced_for_the_remainder():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.3", complete=True, price="99")  # the rest of the stop expired
    assert c.state.phase is Phase.OPEN and c.state.position.contracts == D("0.7")
    assert c.state.needs_stop
    (again,) = c.placed(OrderPurpose.STOP)  # in the same decision, not at the next price
    assert again.amount == D("0.7")
