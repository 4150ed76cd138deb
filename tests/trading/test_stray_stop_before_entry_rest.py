"""A reduce-only fill while the books hold the symbol flat, before the report of the entry
whose rest opened the position it reduced: a stop of the closed position (an older one whose
cancel had not landed yet) filled against the rest of an entry that filled before its own
cancel landed. The venue fills no reduce-only order on a flat side, so that entry filled
first; its report is still behind. The stop's fill was booked as a fill without a position (no
P&L) and the entry's report then opened the rest's position for all of it: the books held 0.3
where the venue held 0.1 until a reconciliation shrank it, and the stop's loss was never
booked. Now such a fill waits (journaled as a deferred report) until the entry's report is in,
and the next look books it against the position it closed. Pure core, driven through
`decide` (sibling of the hedge grid's fix in trading/grid/handlers.py `_reduce`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import ExchangeOrder, ExchangePosition, OrderAccepted, Reconciled
from trading.model import OrderPurpose, Phase, Side


def test_a_stale_stop_filled_before_the_entry_rest_s_report_is_booked_with_its_pnl():
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.2", complete=False)
    (old,) = c.placed(OrderPurpose.STOP)
    c.report(entry, "0.5", complete=False)
    c.send(OrderAccepted(client_order_id=old.client_order_id, exchange_id="x2"))
    (new,) = c.placed(OrderPurpose.STOP)  # covers 0.5; the old one's cancel goes out with it
    c.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="x3"))
    c.report(new, "0.5", complete=True, price="99")  # the part is stopped out
    assert c.state.phase is Phase.FLAT and c.state.order(old.client_order_id) is not None
    ledger = []
    # the venue: the entry's rest 0.3 filled (at 100), then the old stop 0.2 of it at 98.9
    c.report(old, "0.2", complete=True, price="98.9")
    ledger += c.last.ledger
    c.report(entry, "0.8", complete=True)
    ledger += c.last.ledger
    rest = c.state.position
    assert rest is not None
    answers = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id="x", status="open", filled=D(0),
        average=None, fee=D(0)) for o in c.state.live_orders(OrderPurpose.STOP)}
    answers[old.client_order_id] = ExchangeOrder(
        client_order_id=old.client_order_id, exchange_id="x2", status="closed",
        filled=D("0.2"), average=D("98.9"), fee=D(0))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("0.1"),
                                                entry_price=D(100)),
                      orders=answers, price=D("99.5")))
    ledger += c.last.ledger
    assert c.state.position.contracts == D("0.1")
    booked = sum((e.realized_pnl for e in ledger if e.position_id == rest.position_id), D(0))
    assert booked == D("-0.22"), f"the old stop's loss on the rest booked as {booked}"
