"""A stop re-placed to cover a grown position is journaled (`StopRequested` with its level), as
every other stop placement is (`decide.protect`, reconcile): the journal is the operator's record
of why a stop order appeared and where. Mutation audit of trading/stop_rules.py `cover_stop`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core, assert_part_protected
from trading.events import OrderAccepted
from trading.model import OrderPurpose


def _requested(c: Core) -> list[D]:
    return [j.stop_price for j in c.last.journal if j.type == "StopRequested"]


def test_the_stop_grown_with_the_next_part_of_an_entry_is_journaled():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.2", complete=False)
    first = assert_part_protected(c)
    assert _requested(c) == [D("99.0")]
    c.send(OrderAccepted(client_order_id=first.client_order_id, exchange_id="x2"))
    c.report(entry, "0.5", complete=False)
    (grown,) = c.placed(OrderPurpose.STOP)
    assert grown.amount == D("0.5") and grown.replaces == first.client_order_id
    assert _requested(c) == [grown.stop_price]


def test_the_stop_raised_when_the_entry_ends_higher_is_journaled():
    c = Core()
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(entry, "1", complete=True, price="102")
    (moved,) = c.placed(OrderPurpose.STOP)
    assert moved.stop_price == D("100.9")
    assert _requested(c) == [D("100.9")]
