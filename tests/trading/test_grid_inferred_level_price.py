"""Hedge grid: a reconciliation finds the leg's stop filled for more than the leg (the leg and
its level: the stop rests for both) and the level filled too, listed after the stop and with no
fill times to order them. The stop's excess was taken as the level's fill at the level's limit
price, although the level's own answer, in the same reconciliation, told the price it filled
at (a level that crossed the market when placed trades as a taker, at a better price): the
ledger's level fill, the leg's entry and the stop's P&L (Bybit reports none; the core computes
it) drifted from the exchange's fills. The level's answer is now applied first."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _answer(order, status="open", filled=D(0), average=None) -> ExchangeOrder:
    cid = order.client_order_id
    return ExchangeOrder(client_order_id=cid, exchange_id="x" + cid, status=status,
                         filled=filled, average=average, fee=D("0.01"))


def test_a_level_fill_found_with_the_stop_is_booked_at_its_own_price():
    b = Book(size_multiplier=D(1))
    b.open_both()
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.LEVEL)
    assert (stop.amount, level.amount, level.price) == (D(2), D(1), D("99.0"))
    listed = [o.client_order_id for o in b.state.orders]
    assert listed.index(stop.client_order_id) < listed.index(level.client_order_id)
    answers = {o.client_order_id: _answer(o) for o in b.state.orders}
    answers[stop.client_order_id] = _answer(stop, "closed", D(2), D(95))
    answers[level.client_order_id] = _answer(level, "closed", D(1), D("98.5"))
    b.send(GridReconciled(
        positions={Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1),
                                                entry_price=D(100))},
        orders=answers, price=D(95)))
    fills = {e.client_order_id: e for e in b.ledger if e.amount}
    assert fills[level.client_order_id].price == D("98.5"), "booked at the limit price"
    assert fills[level.client_order_id].amount == D(1)
    # (95 - 99.25) * 2: the leg's entry averaged with the level's real price
    assert fills[stop.client_order_id].realized_pnl == D("-8.5")
    assert not b.state.long.is_open and "FillExceedsLeg" not in b.journal
