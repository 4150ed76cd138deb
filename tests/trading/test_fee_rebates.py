"""A maker rebate (a negative fee: `exchange/records.py` Fee, `paper.maker_fee` down to -0.01) is
booked, in both cores: before the fix the cores booked only a fee that grew above what was
booked, so a rebate (0 -> -0.01) was dropped from the ledger and the leg's or position's fees
while the venue credited it to the wallet. A fee nearer zero than booked (an older read, an
unknown fee read as 0) still books nothing."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from tests.trading.test_partial_fills import Core
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, Reconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_grid_take_profit_with_a_maker_rebate_books_the_rebate():
    b = Book()
    b.open_both("100")
    (tp,) = [o for o in b.state.orders_of(Side.LONG, GridKind.TP)]
    b.ledger.clear()
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="xtp",
                       filled=D("0.4"), average=tp.price, fee=D("-0.01"), complete=False))
    assert [e.fee for e in b.ledger] == [D("-0.01")]
    assert b.state.long.fees == D("0.01") - D("0.01")  # the open's 0.01, then the rebate
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="xtp",
                       filled=tp.amount, average=tp.price, fee=D("-0.025"), complete=True))
    assert [e.fee for e in b.ledger] == [D("-0.01"), D("-0.015")]
    closed = [e for e in b.loop.repo.decisions[-1].journal if e.type == "LegClosed"]
    assert closed and D(closed[0].data["fees"]) == D("0.01") - D("0.025")


def test_a_grid_rebate_told_after_the_fill_is_booked_and_a_stale_read_is_not():
    b = Book()
    b.open_both("100")
    (tp,) = [o for o in b.state.orders_of(Side.LONG, GridKind.TP)]
    b.ledger.clear()
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="xtp",
                       filled=D("0.4"), average=tp.price, fee=D(0), complete=False,
                       fee_known=False))
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="xtp",
                       filled=D("0.4"), average=tp.price, fee=D("-0.01"), complete=False))
    assert [e.fee for e in b.ledger] == [D(0), D("-0.01")]
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="xtp",
                       filled=D("0.4"), average=tp.price, fee=D(0), complete=False))
    assert [e.fee for e in b.ledger] == [D(0), D("-0.01")]  # nearer zero: no charge


def test_a_one_way_fill_with_a_rebate_books_it_and_an_owed_rebate_too():
    c = Core()
    entry = c.entry()
    d = c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1",
                           filled=D(1), average=D(100), fee=D("-0.02"), complete=True))
    assert [e.fee for e in d.ledger] == [D("-0.02")]
    assert c.state.position is not None and c.state.position.fees == D("-0.02")

    c = Core()
    entry = c.entry()
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1",
                       filled=D(1), average=D(100), fee=D(0), complete=True, fee_known=False))
    answer = ExchangeOrder(client_order_id=entry.client_order_id, exchange_id="x1",
                           status="closed", filled=D(1), average=D(100), fee=D("-0.02"))
    held = ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100))
    d = c.send(Reconciled(position=held, orders={entry.client_order_id: answer}),
               at=c.now + 10)
    assert [(e.amount, e.fee) for e in d.ledger] == [(D(0), D("-0.02"))]
    assert c.state.position is not None and c.state.position.fees == D("-0.02")
