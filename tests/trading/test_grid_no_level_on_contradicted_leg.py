"""Hedge grid: no new level grows a leg the venue lists flat while no fill shows it closed (a
contradiction, `LegCloseUnconfirmed`: trading/evidence.py). The leg and its stop stay (evidence
before closing); the level waits until the venue lists the leg again. Found by review of the
entry rule (a contradiction must block entries, as a failed reconciliation does): a level
cancelled on the venue during such an episode was placed again at once, a limit growing a leg
that may already be gone. Driven through production's decision loop
(tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from tests.trading.test_grid_evidence import short_only_listed
from trading.events import ExchangeOrder, ExchangePosition, OrderCanceled
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def both_listed(b: Book) -> GridReconciled:
    return GridReconciled(
        positions={s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
                   for s in (Side.LONG, Side.SHORT)},
        orders={o.client_order_id: ExchangeOrder(
            client_order_id=o.client_order_id, exchange_id=o.exchange_id, status="open",
            filled=D(0), average=None, fee=D(0)) for o in b.state.orders},
        price=D(100))


def test_no_level_for_a_leg_listed_flat_until_it_is_listed_again():
    b = Book()
    b.open_both()
    (add,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.send(short_only_listed(b))
    assert b.state.unconfirmed_of(Side.LONG) is not None
    b.send(OrderCanceled(client_order_id=add.client_order_id))  # the venue cancels the level
    assert b.placed(GridKind.ADD) == [], "a level placed for a leg the venue lists flat"
    assert b.state.order(stop.client_order_id) is not None  # the leg stays protected
    assert b.placed(GridKind.STOP) == []  # its stop neither replaced nor resized
    b.send(both_listed(b))  # listed again: the episode ends, the level is placed
    assert b.state.unconfirmed_of(Side.LONG) is None
    assert [o.leg for o in b.placed(GridKind.ADD)] == [Side.LONG]
