"""Hedge grid, sibling of the one-way core's "our entry is still being resolved"
(trading/reconcile.py `_position`): a flat leg's opening order the exchange acknowledged, whose
lookup lags the position list (Bybit's order history: still "open" with nothing filled, or not
found once), while a reconciliation already lists the leg. `_entry_shown_by_position` booked
only a pending (never acknowledged) or priceless one: the grid adopted the listed position as an
unknown leg (`adopted-...`) and the opening order's own report then added the same fill to it:
the books held the leg twice, with a stop and a take-profit sized for twice the position. The
leg is not adopted while our own opening order of that side is live: it is booked from the
listed position as that order's fill (since a later review, at once, with its stop), and the
order's report adds nothing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFilled, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _lagging(order, status: str = "open") -> ExchangeOrder:
    return ExchangeOrder(client_order_id=order.client_order_id,
                         exchange_id="x" + order.client_order_id, status=status,
                         filled=D(0), average=None, fee=D(0))


@pytest.mark.parametrize("lookup", ["open, nothing filled", "not found"])
def test_an_acknowledged_opening_order_listed_by_the_position_is_booked_once(lookup):
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.SHORT], "100")
    long_open = opens[Side.LONG]
    b.accept(long_open)  # acknowledged; its fill is not reported yet
    answers = {o.client_order_id: _lagging(o) for o in b.state.orders
               if o.client_order_id != long_open.client_order_id}
    if lookup == "open, nothing filled":
        answers[long_open.client_order_id] = _lagging(long_open)
    listed = {side: ExchangePosition(side=side, contracts=D(1), entry_price=D(100))
              for side in (Side.LONG, Side.SHORT)}
    b.send(GridReconciled(positions=listed, orders=answers, price=D(100)))
    assert "LegAdopted" not in b.journal, "our own opening order's leg was adopted as unknown"
    # booked from the listed position and protected at once (its report would come later:
    # tests/trading/test_grid_acknowledged_open_shown_by_position.py)
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    assert stop.amount == D(1) + D(2)  # the leg and its first level, not twice the leg
    b.send(OrderFilled(client_order_id=long_open.client_order_id, exchange_id="xl",
                       filled=D(1), average=D(100), fee=D("0.05"), complete=True))
    long = b.state.long
    assert long.contracts == D(1), "the same fill was added to the leg twice"
    assert long.position_id == long_open.client_order_id
    assert b.placed(GridKind.STOP, Side.LONG) == []  # its stop covers it already


@pytest.mark.parametrize("lookup", ["open, nothing filled", "not found"])
def test_a_level_that_filled_after_its_leg_closed_listed_by_the_position_is_booked_once(lookup):
    """The same for a level of a leg that closed before the level's cancel landed: it filled
    into a new position there, the list shows it before the level's own report."""
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    assert not b.state.long.is_open
    answers = {o.client_order_id: _lagging(o) for o in b.state.orders
               if o.client_order_id != level.client_order_id}
    if lookup == "open, nothing filled":
        answers[level.client_order_id] = _lagging(level)
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=level.amount,
                                          entry_price=level.price),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1), entry_price=D(100))}
    b.send(GridReconciled(positions=listed, orders=answers, price=D("99.5")))
    assert "LegAdopted" not in b.journal, "our own level's fill was adopted as an unknown leg"
    b.send(OrderFilled(client_order_id=level.client_order_id, exchange_id="xl",
                       filled=level.amount, average=level.price, fee=D("0.05"), complete=True))
    long = b.state.long
    assert long.contracts == level.amount, "the same fill was added to the leg twice"
    assert long.position_id == level.client_order_id
