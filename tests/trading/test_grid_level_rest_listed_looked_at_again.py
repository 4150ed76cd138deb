"""Hedge grid, sibling of tests/trading/test_entry_rest_listed_looked_at_again.py: a level of a
leg that closed before the level's cancel landed fills into a new position there, and the
position list shows it before the level's report, its lookup still open with nothing filled.
Not adopted (its report books it: test_grid_acknowledged_open_not_adopted.py), but the "open"
answer settled it: the listed leg waited without a stop for the report or the next periodic
reconciliation. The level is now in doubt: looked at again within 5 s, an alert if it lasts."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading import order_evidence as oe
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_level_listed_before_its_report_is_looked_at_again():
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    assert not b.state.long.is_open
    answers = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id, status="open",
        filled=D(0), average=None, fee=D(0)) for o in b.state.orders}
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=level.amount,
                                          entry_price=level.price),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1), entry_price=D(100))}
    b.send(GridReconciled(positions=listed, orders=answers, price=D("99.5")))
    assert "LegAdopted" not in b.journal
    assert "OrderReportDeferred" in b.journal
    assert oe.recheck_due(b.state, b.now + oe.LOOK_AGAIN_S), \
        "the listed leg waited for the next periodic reconciliation"
    b.send(OrderFilled(client_order_id=level.client_order_id, exchange_id="xl",
                       filled=level.amount, average=level.price, fee=D("0.05"), complete=True))
    assert b.state.long.contracts == level.amount
    assert b.placed(GridKind.STOP, Side.LONG)
