"""Orders that end partly filled (review 3, defects 2 and 3): an entry whose rest expires or is
cancelled leaves an open, protected position; a close whose rest expires is sent again, bounded
by max_close_attempts. Pure core, driven through `decide`."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import CancelOrder, Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    Reconciled,
    SignalRaised,
    TimerFired,
)
from trading.model import Order, OrderPurpose, OrderStatus, Phase, Side, SymbolState


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


def assert_part_protected(c: Core) -> Order:
    """The filled part of an entry still open has its stop, placed in the same decision."""
    assert c.state.phase is Phase.ENTERING and c.state.position is not None
    (stop,) = c.placed(OrderPurpose.STOP)
    assert stop.amount == c.state.position.contracts and stop.stop_price == D("99.0")
    return stop


def test_an_entry_whose_rest_expires_after_a_partial_report_opens_and_is_protected():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.report(entry, "0.5", complete=True)  # the venue expired the rest: nothing new filled
    assert c.state.phase is Phase.OPEN and "PositionOpened" in c.journal()
    assert c.placed(OrderPurpose.STOP) == []  # the part's stop covers it all already
    assert [o.client_order_id for o in c.state.live_orders(OrderPurpose.STOP)] == [
        stop.client_order_id]
    assert c.state.position.contracts == D("0.5") and c.state.trailing is not None


def test_an_entry_cancelled_after_a_partial_fill_gets_stop_trailing_stop_and_take_profit():
    c = Core(take_profit_pct=D("2"))
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(OrderCanceled(client_order_id=entry.client_order_id))
    assert c.state.phase is Phase.OPEN and "PositionOpened" in c.journal()
    assert c.state.protected() and c.state.trailing is not None
    assert c.state.take_profit_price == D("102.0")


def test_the_stop_of_an_entry_still_open_grows_with_each_part():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.2", complete=False)
    first = assert_part_protected(c)
    c.report(entry, "0.5", complete=False)  # the first stop is still pending: one at a time
    assert c.placed(OrderPurpose.STOP) == []
    c.send(OrderAccepted(client_order_id=first.client_order_id, exchange_id="x2"))
    (second,) = c.placed(OrderPurpose.STOP)  # its acknowledgement covers what filled since
    assert second.amount == D("0.5") and second.replaces == first.client_order_id
    c.send(OrderAccepted(client_order_id=second.client_order_id, exchange_id="x3"))
    assert first.client_order_id in [x.client_order_id for x in c.last.commands
                                     if not isinstance(x, PlaceOrder)]  # the old one goes
    c.report(entry, "1", complete=True)
    (last,) = c.placed(OrderPurpose.STOP)
    assert last.amount == D("1") and last.replaces == second.client_order_id
    assert c.state.phase is Phase.OPEN


def test_an_entry_that_ends_higher_raises_the_part_stop_to_the_whole_entry_s_level():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)  # 0.5 at 100: a stop at 99.0
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(entry, "1", complete=True, price="102")  # average 102: 0.5 more at 104
    (moved,) = c.placed(OrderPurpose.STOP)
    assert moved.amount == D("1") and moved.stop_price == D("100.9")  # 102 less 1 %


def test_a_refused_stop_of_an_entry_still_open_is_retried_with_its_backoff():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderFailed(client_order_id=stop.client_order_id, error="refused"))
    assert c.state.needs_stop and c.state.next_stop_at > c.now
    band = c.core.quiet_band(c.state)  # the actor's price shortcut: quiet only until the retry
    assert band is not None and band.contains(D(100), c.now)
    assert not band.contains(D(100), c.state.next_stop_at)
    c.send(PriceTicked(price=D(100)), at=c.state.next_stop_at)
    (again,) = c.placed(OrderPurpose.STOP)
    assert again.amount == D("0.5") and c.state.phase is Phase.ENTERING


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


def test_a_reconciliation_that_finds_the_entry_filled_in_part_protects_the_part():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    found = {entry.client_order_id: ExchangeOrder(
        client_order_id=entry.client_order_id, exchange_id="x1", status="open",
        filled=D("0.3"), average=D(100), fee=D(0))}
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("0.3"),
                                                entry_price=D(100)),
                      orders=found, price=D(100)))
    stop = assert_part_protected(c)
    assert stop.amount == D("0.3")


def test_the_rest_of_an_entry_that_fills_after_its_part_was_stopped_out_is_protected():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.5", complete=True, price="99")  # the part is stopped out
    assert c.state.phase is Phase.FLAT and c.state.position is None
    assert entry.client_order_id in [x.client_order_id for x in c.last.commands
                                     if not isinstance(x, PlaceOrder)]  # the rest is cancelled
    c.report(entry, "0.7", complete=False, price="99")  # ...but 0.2 more filled before that
    pos = c.state.position
    assert pos is not None and pos.contracts == D("0.2") and c.state.phase is Phase.ENTERING
    assert pos.position_id != entry.client_order_id  # the closed one's row keeps its P&L
    (again,) = c.placed(OrderPurpose.STOP)
    assert again.amount == D("0.2") and again.position_id == pos.position_id
    c.send(OrderCanceled(client_order_id=entry.client_order_id))
    assert c.state.phase is Phase.OPEN and c.state.position.contracts == D("0.2")


def test_a_stop_filled_in_part_before_its_acknowledgement_is_the_resting_stop():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (stop,) = c.placed(OrderPurpose.STOP)
    c.report(stop, "0.3", complete=False, price="99")  # no acknowledgement came first
    rest = c.state.order(stop.client_order_id)
    assert rest is not None and rest.status is OrderStatus.OPEN
    assert c.state.active_stop() == rest and c.state.stop_price == stop.stop_price
    assert c.state.protected() and c.state.position.contracts == D("0.7")


def test_an_entry_filled_in_part_before_its_acknowledgement_is_cancelled_at_a_stop_out():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)  # the create's answer: part filled, no ack
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.5", complete=True, price="99")
    assert c.state.phase is Phase.FLAT
    assert entry.client_order_id in [x.client_order_id for x in c.last.commands
                                     if isinstance(x, CancelOrder)], "the rest may still fill"


def test_a_reconciliation_that_lists_the_rest_of_an_open_entry_before_its_lookup_waits():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))

    def answer(order, filled: str) -> ExchangeOrder:
        return ExchangeOrder(client_order_id=order.client_order_id, exchange_id="x",
                             status="open", filled=D(filled), average=D(100), fee=D(0))

    lagging = {entry.client_order_id: answer(entry, "0.5"), stop.client_order_id: answer(stop, "0")}
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D(1),
                                                entry_price=D(100)),
                      orders=lagging, price=D(100)))
    assert c.state.position.contracts == D("0.5") and "PositionResizeWaits" in c.journal()
    c.report(entry, "1", complete=True)
    assert c.state.position.contracts == D(1), "the rest of the entry was booked twice"


def test_a_larger_position_still_listed_at_the_next_reconciliation_is_followed_and_covered():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    lagging = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x", status="open", filled=o.filled,
        average=D(100), fee=D(0)) for o in (entry, stop)}
    lagging[entry.client_order_id] = replace(lagging[entry.client_order_id], filled=D("0.5"))
    listed = ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100))
    c.send(Reconciled(position=listed, orders=lagging, price=D(100)))
    assert c.state.position.contracts == D("0.5")
    c.send(Reconciled(position=listed, orders=lagging, price=D(100)))  # still: followed
    assert c.state.position.contracts == D(1) and "PositionResized" in c.journal()
    (grown,) = c.placed(OrderPurpose.STOP)
    assert grown.amount == D(1) and grown.replaces == stop.client_order_id
