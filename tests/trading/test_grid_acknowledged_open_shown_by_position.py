"""Hedge grid, sibling of the one-way fix
(tests/trading/test_acknowledged_entry_shown_by_position.py): a leg's opening order (a market
order) acknowledged by the venue, whose lookup lags the position list (open with nothing
filled, or not found once), while the exchange already lists the leg. The grid waited for the
order's own report (or a second not-found lookup) with the listed leg and no stop of ours. It
is booked from the listed position now, as a pending one was, and its stop is placed in the
same reconciliation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


@pytest.mark.parametrize("lookup", ["open, nothing filled", "not found"])
def test_an_acknowledged_opening_order_shown_by_the_position_is_protected_at_once(lookup):
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    short_open = opens[Side.SHORT]
    b.accept(short_open)
    listed = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id, status="open",
        filled=D(0), average=None, fee=D(0))
        for o in b.state.orders
        if lookup != "not found" or o.client_order_id != short_open.client_order_id}
    b.send(GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1),
                                               entry_price=D(100)),
                   Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1),
                                                entry_price=D("100.1"))},
        orders=listed, price=D(100)))
    short = b.state.short
    assert short.is_open, "the listed short leg was left without a stop, not booked"
    assert short.contracts == D(1) and short.position_id == short_open.client_order_id
    assert b.placed(GridKind.STOP, Side.SHORT)
    b.send(OrderFilled(client_order_id=short_open.client_order_id, exchange_id="xs",
                       filled=D(1), average=D("100.1"), fee=D("0.05"), complete=True))
    assert b.state.short.contracts == D(1), "the same fill was added to the leg twice"
