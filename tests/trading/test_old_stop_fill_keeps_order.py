"""A report about an old order keeps its place among the live orders (defect: `with_order` moved
an updated order to the end, so a partial fill of an old stop being cancelled made it the
"newest" stop: `active_stop()` named it, and the next stop move or cover replaced it instead of
the stop that protects the position). One-way core and hedge grid."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    ExternalFill,
    OrderAccepted,
    OrderFilled,
    Reconciled,
)
from trading.grid.model import GridState
from trading.model import OrderPurpose, OrderStatus, Side
from trading.orders import Order


def test_a_partial_fill_of_the_old_stop_leaves_the_new_one_active():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (old,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=old.client_order_id, exchange_id="x2"))
    answers = {old.client_order_id: ExchangeOrder(
        client_order_id=old.client_order_id, exchange_id="x2", status="open",
        filled=D(0), average=None, fee=D(0))}
    bought = ExternalFill(side="buy", amount=D("0.4"), price=D("100"), fee=D(0))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("1.4"),
                                                entry_price=D(100)),
                      orders=answers, external_fills=(bought,), price=D(100)))
    (new,) = c.placed(OrderPurpose.STOP)
    assert new.replaces == old.client_order_id
    c.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="x3"))
    assert c.state.active_stop().client_order_id == new.client_order_id
    # the old stop fills in part before its cancel lands
    c.send(OrderFilled(client_order_id=old.client_order_id, exchange_id="x2", filled=D("0.2"),
                       average=D("99"), fee=D(0), complete=False))
    assert c.state.position.contracts == D("1.2")
    assert c.state.active_stop().client_order_id == new.client_order_id, \
        "the old stop being cancelled became the active one"


def test_a_grid_order_updated_keeps_its_place():
    def stop(cid: str) -> Order:
        return Order(client_order_id=cid, purpose=OrderPurpose.STOP, side="sell", amount=D(1),
                     price=D(95), status=OrderStatus.OPEN, leg=Side.LONG)

    state = GridState(symbol="BTC/USDT:USDT", orders=(stop("old"), stop("new")))
    state = state.with_order(Order(client_order_id="old", purpose=OrderPurpose.STOP,
                                   side="sell", amount=D(1), price=D(95), filled=D("0.2"),
                                   status=OrderStatus.OPEN, leg=Side.LONG))
    assert [o.client_order_id for o in state.orders] == ["old", "new"]
    assert state.orders[0].filled == D("0.2")
