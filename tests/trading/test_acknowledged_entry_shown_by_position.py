"""An acknowledged entry (a market order) whose lookup lags the position list: the exchange
lists the position on its side, but looked up the entry is still open with nothing filled, or
not found once. The one-way core waited for the entry's own report (or a second not-found
lookup) with the position listed and no stop of ours: a listed position without a stop for
longer than a reconcile round (INCIDENTS.md, rule 5). The pending entry (send timed out) was
already booked from the position; so is an acknowledged one now, and it is protected in the
same reconciliation. Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.test_partial_fills import Core
from trading.events import ExchangeOrder, ExchangePosition, OrderAccepted, Reconciled
from trading.model import OrderPurpose, Phase, Side


def _lagging(entry_id: str, lookup: str) -> dict[str, ExchangeOrder]:
    if lookup == "not found":
        return {}
    return {entry_id: ExchangeOrder(client_order_id=entry_id, exchange_id="x1", status="open",
                                    filled=D(0), average=None, fee=D(0))}


@pytest.mark.parametrize("lookup", ["open, nothing filled", "not found"])
@pytest.mark.parametrize("listed", ["1", "0.4"])
def test_a_position_listed_before_the_entry_report_is_protected_in_that_reconciliation(
        lookup, listed):
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D(listed),
                                                entry_price=D(100)),
                      orders=_lagging(entry.client_order_id, lookup), price=D(100)))
    stops = c.placed(OrderPurpose.STOP)
    assert stops, f"the listed position was left without a stop ({c.journal()})"
    assert [s.amount for s in stops] == [D(listed)]
    pos = c.state.position
    assert pos is not None and pos.contracts == D(listed) and pos.entry_price == D(100)
    assert "PositionAdopted" not in c.journal()
    # the entry's own report then adds only what the position did not show
    c.report(entry, "1", complete=True)
    assert c.state.position.contracts == D(1) and c.state.phase is Phase.OPEN


def test_a_larger_position_than_the_entry_is_not_taken_for_it():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D(2),
                                                entry_price=D(100)),
                      orders=_lagging(entry.client_order_id, "open"), price=D(100)))
    assert c.state.position is None and c.placed(OrderPurpose.STOP) == []
