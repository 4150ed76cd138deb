"""Hedge grid, sibling of tests/trading/test_close_fill_lags_position.py: a reconciliation reads
a leg smaller than ours while the leg's own close is unresolved (its send timed out, its lookup
does not show the fill yet: the order lookup lags the position list). The shrink is that
close's, so the leg keeps its size until the close's report books it. Following the exchange
first made the close's report (0.6) larger than the leg left in the books (0.4): the books
closed the leg, booked P&L for 0.4 of the fill and cancelled the leg's stop and take-profit
while 0.4 stayed open on the exchange, unprotected until a later reconciliation adopted it."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderCanceled,
    OrderFilled,
    PriceTicked,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _resting(order) -> ExchangeOrder:
    cid = order.client_order_id
    return ExchangeOrder(client_order_id=cid, exchange_id="x" + cid, status="open",
                         filled=D(0), average=None, fee=D(0))


def test_a_grid_close_fill_the_lookup_does_not_show_yet_is_not_taken_off_twice():
    b = Book()
    b.open_both()
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # removed on the exchange
    b.send(PriceTicked(price=D("94")))  # through the long's stop (95) with none resting
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    assert close.amount == D(1)
    # the close's send timed out: pending; the position list already shows 0.6 of it filled
    d = b.send(GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D("0.4"),
                                               entry_price=D("100")),
                   Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D("1"),
                                                entry_price=D("100"))},
        orders={o.client_order_id: _resting(o) for o in b.state.orders},
        price=D("94")))
    # the close's own report: 0.6 filled at 94, the rest expired
    d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="xc",
                           filled=D("0.6"), average=D("94"), fee=D("0.03"), complete=True))
    leg = d.state.long
    assert leg.is_open and leg.contracts == D("0.4"), "0.4 is still open on the exchange"
    assert "LegClosed" not in b.journal
    booked = [e for e in b.ledger if e.client_order_id == close.client_order_id]
    assert [e.amount for e in booked] == [D("0.6")]
    assert booked[0].realized_pnl == D("-3.6")  # (94 - 100) * 0.6: the whole part, not 0.4 of it
    assert leg.realized_pnl == D("-3.6")
    # the rest is closed (the price is still through the stop) or protected, never left bare
    rest = [o for o in d.state.orders_of(Side.LONG)
            if o.purpose in (GridKind.CLOSE, GridKind.STOP) and o.cancel_requested_at is None]
    assert rest, "nothing protects or closes the 0.4 left"
