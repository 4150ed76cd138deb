"""A hedge-grid order that fills in parts at different prices: each cumulative report's new part
is priced from the change of the order's filled value (average * filled), never at the report's
average over the whole order. A level bought 1 at 99 and then 1 at 98 (reported: 2 at average
98.5) adds its second part at 98: the ledger row, the leg's average entry (and so its take-profit)
and, on a reducing order, the part's P&L follow the venue's fills. Priced at the cumulative
average, the second part was booked at 98.5, the leg's entry and take-profit were too high and a
take-profit's second part was booked with the wrong P&L. Driven through production's decision
loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


def _report(b: Book, order, filled: str, average: str, complete: bool) -> None:
    b.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x1",
                       filled=D(filled), average=D(average), fee=D(0), complete=complete))


def test_a_level_filled_in_parts_adds_each_part_at_its_own_price():
    b = Book()
    b.open_both()
    (add,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert (add.amount, add.price) == (D(2), D("99.0"))
    _report(b, add, "1", "99", complete=False)
    _report(b, add, "2", "98.5", complete=True)  # the second part traded at 98
    rows = [(e.amount, e.price) for e in b.ledger if e.client_order_id == add.client_order_id]
    assert rows == [(D(1), D(99)), (D(1), D(98))]
    assert b.state.long.contracts == D(3)
    assert b.state.long.entry_price == D(99)  # (100 + 99 + 98) / 3, as the venue averages


def test_a_take_profit_filled_in_parts_books_each_part_at_its_own_price():
    b = Book()
    b.open_both()  # the long: 1 at 100
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    _report(b, tp, "0.5", "100.5", complete=False)
    _report(b, tp, "1", "100.75", complete=True)  # the second half traded at 101
    rows = [(e.amount, e.price, e.realized_pnl) for e in b.ledger
            if e.client_order_id == tp.client_order_id]
    assert rows == [(D("0.5"), D("100.5"), D("0.25")), (D("0.5"), D(101), D("0.5"))]
    assert b.state.long.is_open is False and "LegClosed" in b.journal
