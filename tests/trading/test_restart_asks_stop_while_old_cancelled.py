"""The start's reconciliation asks for a missing stop (trading/reconcile.py, `unprotected`):
`needs_stop` restored from a NULL column is False (storage/restore.py SAFE_DEFAULTS, "the
start's reconciliation asks for a missing stop"), and a stop whose cancel is on its way (the
old stop of a trailing move, `cancel_requested_at` set) is no stop left to protect the
position (stop_rules.standing_stops). Mutation audit: reconcile counting every live stop
(`not state.live_orders(STOP)`) survived 165 tests; with it the restored position kept no stop
but the one being cancelled, none placed, until that cancel's report came back (never, if
the cancel had failed and nobody asked again). Pure core, driven through `decide`."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    PriceTicked,
    Reconciled,
)
from trading.model import OrderPurpose, Phase, Side


def test_a_restored_position_left_with_only_a_stop_being_cancelled_gets_a_stop():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (old,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=old.client_order_id, exchange_id="x2"))
    c.send(PriceTicked(price=D("101")))  # the trailing stop activates and moves the stop
    (new,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="x3"))
    assert c.state.order(old.client_order_id).cancel_requested_at is not None
    c.send(OrderCanceled(client_order_id=new.client_order_id))  # removed on the exchange
    (again,) = c.placed(OrderPurpose.STOP)
    c.send(OrderFailed(client_order_id=again.client_order_id, error="busy",
                       never_reached=False))  # refused: due again after its backoff
    live = c.state.live_orders(OrderPurpose.STOP)
    assert [o.client_order_id for o in live] == [old.client_order_id]
    assert c.state.phase is Phase.OPEN and not c.state.protected()
    # the bot restarts; its row's needs_stop was NULL: restored as False (SAFE_DEFAULTS)
    c.state = replace(c.state, needs_stop=False)
    # the start's reconciliation, past the refusal's backoff: the old stop still rests (its
    # cancel has not landed), the position is listed
    listed = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))
    found = {old.client_order_id: ExchangeOrder(
        client_order_id=old.client_order_id, exchange_id="x2", status="open", filled=D(0),
        average=None, fee=D(0), reduce_only=True)}
    c.send(Reconciled(position=listed, orders=found, price=D("101")), at=c.now + 3600)
    placed = c.placed(OrderPurpose.STOP)
    assert placed, "no stop placed: the stop being cancelled was counted as protecting it"
    (stop,) = placed
    assert stop.amount == D("1") and stop.stop_price == new.stop_price
