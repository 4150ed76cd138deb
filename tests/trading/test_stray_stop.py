"""A closed position's stop never protects the next position (review 3, defect 1).

When a position closes, its stop is cancelled; when that cancel fails (a timeout, a 429) the
stop stays open in the state while the symbol is flat. It belongs to the closed position: it is
never counted as the stop of the next one, and every reconciliation asks the exchange to cancel
it again. Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import CancelOrder, PlaceOrder
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
)
from trading.model import Order, OrderPurpose, OrderStatus, Phase, Side, SymbolState


class Core:
    """decide() with a clock; remembers the last decision."""

    def __init__(self) -> None:
        self.core = SymbolCore(make_rules(cooldown_after_loss_s=0.0))
        self.state = SymbolState(symbol=self.core.rules.symbol)
        self.now = 1000.0
        self.last: Decision = Decision(state=self.state)

    def send(self, event) -> Decision:
        self.now += 1
        self.last = self.core.decide(self.state, event, self.now)
        self.state = self.last.state
        return self.last

    def placed(self, purpose: OrderPurpose) -> list[Order]:
        return [c.order for c in self.last.commands
                if isinstance(c, PlaceOrder) and c.order.purpose is purpose]

    def cancels(self) -> list[str | None]:
        return [c.client_order_id for c in self.last.commands if isinstance(c, CancelOrder)]

    def fill(self, order: Order, price: str) -> Decision:
        return self.send(OrderFilled(client_order_id=order.client_order_id,
                                     exchange_id="x" + order.client_order_id, filled=order.amount,
                                     average=D(price), fee=D(0)))

    def accept(self, order: Order) -> Decision:
        return self.send(OrderAccepted(client_order_id=order.client_order_id,
                                       exchange_id="x" + order.client_order_id))

    def open(self, side: Side, price: str = "100") -> Order:
        """Open a position at `price`; returns its acknowledged stop."""
        self.send(PriceTicked(price=D(price)))
        self.send(SignalRaised(side=side))
        (entry,) = self.placed(OrderPurpose.ENTRY)
        self.fill(entry, price)
        (stop,) = self.placed(OrderPurpose.STOP)
        self.accept(stop)
        return stop

    def close_with_cancel_lost(self, stop: Order, price: str = "100") -> None:
        """Close the position; the cancel of its stop fails (no OrderCanceled comes back)."""
        self.send(SignalRaised(side=None, reason="exit"))
        (close,) = self.placed(OrderPurpose.CLOSE)
        self.fill(close, price)
        assert self.state.phase is Phase.FLAT and stop.client_order_id in self.cancels()
        left = self.state.order(stop.client_order_id)
        assert left is not None and left.status is OrderStatus.OPEN  # still open in the state


def long_closed_then_short() -> tuple[Core, Order, Order]:
    c = Core()
    s0 = c.open(Side.LONG)
    c.close_with_cancel_lost(s0)
    s1 = c.open(Side.SHORT)
    return c, s0, s1


def test_the_closed_positions_stop_is_not_the_next_positions_stop():
    c, s0, s1 = long_closed_then_short()
    active = c.state.active_stop()
    assert active is not None and active.client_order_id == s1.client_order_id
    assert [o.client_order_id for o in c.state.live_orders(OrderPurpose.STOP)] == [
        s1.client_order_id]


def test_the_new_positions_stop_canceled_on_the_exchange_is_placed_again():
    c, s0, s1 = long_closed_then_short()
    c.send(OrderCanceled(client_order_id=s1.client_order_id))
    assert c.state.needs_stop, "the short's stop is gone; the long's stop does not protect it"
    (again,) = c.placed(OrderPurpose.STOP)  # placed again in the cancel's own decision
    assert again.side == "buy" and again.position_id == c.state.position.position_id


def test_the_new_positions_stop_rejected_is_retried():
    c = Core()
    s0 = c.open(Side.LONG)
    c.close_with_cancel_lost(s0)
    c.send(SignalRaised(side=Side.SHORT))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    c.fill(entry, "100")
    (s1,) = c.placed(OrderPurpose.STOP)
    c.send(OrderFailed(client_order_id=s1.client_order_id, error="rate limited"))
    assert c.state.needs_stop and c.state.phase is Phase.OPEN
    c.now += c.core.rules.risk.stop_retry_s
    c.send(PriceTicked(price=D("100.1")))
    (again,) = c.placed(OrderPurpose.STOP)  # the long's stop never stood in for it
    assert again.side == "buy"


def test_a_price_through_the_new_positions_stop_closes_when_only_the_old_stop_rests():
    c, s0, s1 = long_closed_then_short()
    c.send(OrderCanceled(client_order_id=s1.client_order_id))
    c.send(PriceTicked(price=D("105")))  # 5 % above the short's 101.0 stop
    assert c.placed(OrderPurpose.CLOSE), "the short must be closed: no buy stop rests anywhere"
    assert c.state.phase is Phase.CLOSING


def _snapshot(c: Core, position: ExchangePosition | None) -> Reconciled:
    orders = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                               exchange_id=o.exchange_id, status="open",
                                               filled=D(0), average=None, fee=D(0))
              for o in c.state.orders}
    return Reconciled(position=position, orders=orders, price=D(100))


def test_reconciliation_cancels_the_leftover_stop_while_flat():
    c = Core()
    s0 = c.open(Side.LONG)
    c.close_with_cancel_lost(s0)
    c.send(_snapshot(c, None))
    assert c.cancels() == [s0.client_order_id]
    assert "OrphanCanceled" in [j.type for j in c.last.journal]


def test_reconciliation_cancels_the_leftover_stop_and_keeps_the_new_one():
    c, s0, s1 = long_closed_then_short()
    pos = c.state.position
    c.send(_snapshot(c, ExchangePosition(side=Side.SHORT, contracts=pos.contracts,
                                         entry_price=pos.entry_price)))
    assert c.cancels() == [s0.client_order_id]
    assert not c.state.needs_stop and c.state.active_stop().client_order_id == s1.client_order_id


def test_a_stop_of_the_closed_position_acknowledged_late_is_cancelled_not_adopted():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    c.send(SignalRaised(side=Side.LONG))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    c.fill(entry, "100")
    (s0,) = c.placed(OrderPurpose.STOP)  # its acknowledgement is slow
    c.send(SignalRaised(side=None, reason="exit"))
    (close,) = c.placed(OrderPurpose.CLOSE)
    c.fill(close, "100")
    s1 = c.open(Side.SHORT)
    stop_price = c.state.stop_price
    c.accept(s0)  # the long's stop is acknowledged only now, while the short is open
    assert c.cancels() == [s0.client_order_id]
    assert c.state.stop_price == stop_price  # the short's stop level is unchanged
    assert c.state.active_stop().client_order_id == s1.client_order_id
