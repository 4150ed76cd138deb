"""Hedge grid: a leg's opening order filled in part, still open, already has its stop for the
part, and the stop grows with the next part (the one-way core's `protect_part` does the same).
Pins the grid's side of INCIDENTS rule 5 for partly filled entries."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _report(b: Book, order, filled: str, complete: bool) -> None:
    b.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x1",
                       filled=D(filled), average=D(100), fee=D(0), complete=complete))


def test_a_leg_opening_order_filled_in_part_is_protected_and_its_stop_grows():
    b = Book(levels=0)
    b.send(PriceTicked(price=D(100)))
    (opening,) = b.placed(GridKind.OPEN, Side.LONG)
    _report(b, opening, "0.4", complete=False)
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert stop.amount == D("0.4")
    b.accept(stop)
    assert b.state.protected(Side.LONG)
    _report(b, opening, "1", complete=True)
    (grown,) = b.placed(GridKind.STOP, Side.LONG)
    assert grown.amount == D(1) and grown.replaces == stop.client_order_id


def test_a_leg_listed_larger_by_the_rest_of_its_open_opening_order_waits_for_its_report():
    b = Book(levels=0)
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    _report(b, opens[Side.LONG], "0.4", complete=False)
    _report(b, opens[Side.SHORT], "1", complete=True)
    found = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x1", status="open", filled=o.filled,
        average=o.average, fee=o.fee) for o in b.state.orders}  # the lookups lag
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100)),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1), entry_price=D(100))}
    b.send(GridReconciled(positions=listed, orders=found, price=D(100)))
    assert b.state.long.contracts == D("0.4")
    _report(b, opens[Side.LONG], "1", complete=True)
    assert b.state.long.contracts == D(1), "the rest of the opening order was booked twice"
