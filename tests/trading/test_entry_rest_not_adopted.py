"""The rest of an entry whose part was stopped out (its cancel not landed: the symbol is flat)
fills into a new position, and the position list shows it before the entry's own report. The
one-way core waited for its entry only while it was still entering: flat, the position was
adopted as an unknown one, and the entry's report then added the same fill again (the books
held it twice, the stop sized for twice the position). Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_partial_fills import Core, assert_part_protected
from trading.events import ExchangeOrder, ExchangePosition, OrderAccepted, Reconciled
from trading.model import OrderPurpose, Phase, Side


@pytest.mark.parametrize("lookup", ["open, part filled", "not found"])
def test_the_rest_of_an_entry_listed_by_the_position_while_flat_is_booked_once(lookup):
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.5", complete=True, price="99")  # the part is stopped out
    assert c.state.phase is Phase.FLAT and c.state.order(entry.client_order_id) is not None
    answers = {}
    if lookup == "open, part filled":  # the lookup lags the list: the part only
        answers[entry.client_order_id] = ExchangeOrder(
            client_order_id=entry.client_order_id, exchange_id="x1", status="open",
            filled=D("0.5"), average=D(100), fee=D(0))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("0.3"),
                                                entry_price=D(99)),
                      orders=answers, price=D(99)))
    assert "PositionAdopted" not in c.journal(), "our entry's rest was adopted as unknown"
    c.report(entry, "0.8", complete=True, price="99.5")  # its own report: 0.3 more at 99
    pos = c.state.position
    assert pos is not None and pos.contracts == D("0.3"), \
        f"the books hold {pos.contracts if pos else None} where the venue holds 0.3"
    assert pos.position_id == f"{entry.client_order_id}-rest"
    assert c.state.phase is Phase.OPEN
    stops = c.state.live_orders(OrderPurpose.STOP)
    assert stops and all(s.amount == D("0.3") for s in stops)
