"""Defect 1: a fill reported on the live path (create, lookup, cancel answers) without the
venue's average is not booked at a made-up price (0, a stop's trigger, a limit price that is
no proof): the answer reports no fill, the order stays as it is and reconciliation (which
applies `order_evidence.fill_average` and looks again) or a later report books it."""

from __future__ import annotations

from decimal import Decimal as D

from actors.command_executor import CommandExecutor
from actors.order_results import canceled_events, events_for, exchange_order, tells_fills
from exchange.records import Fee, VenueOrder, VenueOrderStatus
from trading.commands import PlaceOrder
from trading.events import OrderFilled
from trading.model import Order, OrderPurpose

SYM = "BTC/USDT:USDT"


def answer(*, status=VenueOrderStatus.CLOSED, average=None, price=None, trigger=None,
           filled="1") -> VenueOrder:
    return VenueOrder(id="x1", client_order_id="c1", symbol=SYM, side="sell", type="market",
                      status=status, amount=D(1), filled=D(filled), average=average,
                      price=price, trigger_price=trigger, fee=Fee(cost=D("0.05"), currency="USDT"))


def fills(events) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


def test_a_market_fill_without_an_average_is_not_booked_at_zero():
    assert fills(events_for("c1", answer(), pending=True)) == []


def test_a_stop_fill_without_an_average_is_not_booked_at_its_trigger():
    stop = answer(price=D(49500), trigger=D(49500))
    assert fills(events_for("c1", stop, pending=False)) == []
    partly = answer(status=VenueOrderStatus.OPEN, price=D(49500), trigger=D(49500),
                    filled="0.5")
    assert fills(events_for("c1", partly, pending=False)) == []


def test_a_cancel_answer_without_an_average_tells_no_fills():
    limit = answer(status=VenueOrderStatus.CANCELED, price=D(100), filled="0.5")
    assert not tells_fills(limit)
    assert fills(canceled_events("c1", answer(average=D(101), filled="0.5"))) != []


def test_a_fill_with_the_venues_average_is_booked_at_it():
    (filled,) = fills(events_for("c1", answer(average=D(101), price=D(100)), pending=True))
    assert filled.average == D(101) and filled.fee == D("0.05") and filled.complete


class Venue:
    def __init__(self, result: VenueOrder) -> None:
        self.result = result

    def create_order(self, symbol, type, side, amount, price=None, params=None):
        return self.result


def test_the_executor_books_no_fill_from_a_create_answer_without_an_average():
    executor = CommandExecutor(SYM, Venue(answer()), on_escalate=lambda s, e: None, log=None)
    order = Order(client_order_id="c1", purpose=OrderPurpose.CLOSE, side="sell", amount=D(1),
                  reduce_only=True)
    assert fills(executor.execute(PlaceOrder(order=order))) == []


def test_a_stop_fill_carries_the_trigger_the_venue_tells():
    """The stop's level as the venue has it reaches the core with its fill (a move in place
    whose answer was lost left the books at the old level: trading/order_reports.py
    `_at_venue_level`), on the report path and the reconciliation path alike."""
    stop = answer(average=D(49480), trigger=D(49500))
    (filled,) = fills(events_for("c1", stop, pending=False))
    assert filled.trigger_price == D(49500)
    assert exchange_order(stop).trigger_price == D(49500)
    assert exchange_order(answer(average=D(101))).trigger_price is None
