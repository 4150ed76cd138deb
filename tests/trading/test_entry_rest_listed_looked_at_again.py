"""The rest of an entry whose part was stopped out (the symbol flat in our books, the entry's
cancel not landed) fills, and the position list shows it before the entry's report, while the
entry's lookup still shows only the part. It is not adopted (its report books it:
test_entry_rest_not_adopted.py), but nothing looked again either: the entry's "open" answer
settled it, so the listed position waited, without a stop of ours, for the report or the next
periodic reconciliation (300 s while the streams are up), and a contradiction that persisted
(a position a person opened on that side) was never said. The entry is now in doubt: the loop
looks again within 5 s, and a doubt that persists alerts once. Pure core, driven through
`decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core, assert_part_protected
from trading import order_evidence as oe
from trading.commands import Escalate
from trading.events import ExchangeOrder, ExchangePosition, OrderAccepted, Reconciled
from trading.model import OrderPurpose, Phase, Side


def _stopped_out_part() -> tuple[Core, object]:
    c = Core()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    stop = assert_part_protected(c)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.report(stop, "0.5", complete=True, price="99")
    assert c.state.phase is Phase.FLAT and c.state.order(entry.client_order_id) is not None
    return c, entry


def _look(c: Core, entry, at: float) -> None:
    answer = ExchangeOrder(client_order_id=entry.client_order_id, exchange_id="x1",
                           status="open", filled=D("0.5"), average=D(100), fee=D(0))
    c.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("0.3"),
                                                entry_price=D(99)),
                      orders={entry.client_order_id: answer}, price=D(99)), at=at)


def test_a_listed_rest_its_lookup_does_not_show_is_looked_at_again_and_alerts_if_it_lasts():
    c, entry = _stopped_out_part()
    _look(c, entry, c.now + 1)
    assert "PositionAdopted" not in c.journal()
    assert oe.recheck_due(c.state, c.now + oe.LOOK_AGAIN_S), \
        "the listed position waited for the next periodic reconciliation"
    assert "OrderReportDeferred" in c.journal()
    alerts = []
    for _ in range(3):
        _look(c, entry, c.now + oe.MAX_LOOK_AGAIN_S)
        alerts += [cmd for cmd in c.last.commands if isinstance(cmd, Escalate)]
    assert len(alerts) == 1 and not alerts[0].close
    assert entry.client_order_id in alerts[0].reason
    # the entry's report comes at last: booked once, protected
    c.report(entry, "0.8", complete=True, price="99.5")
    assert c.state.position is not None and c.state.position.contracts == D("0.3")
    assert all(c.state.order(d.client_order_id) is None for d in c.state.doubts)  # done
    assert c.placed(OrderPurpose.STOP)


def test_a_list_that_lagged_the_stop_fill_ends_the_doubt():
    c, entry = _stopped_out_part()
    _look(c, entry, c.now + 1)  # the list still shows the part the stop closed
    answer = ExchangeOrder(client_order_id=entry.client_order_id, exchange_id="x1",
                           status="open", filled=D("0.5"), average=D(100), fee=D(0))
    c.send(Reconciled(position=None, orders={entry.client_order_id: answer}, price=D(99)),
           at=c.now + oe.LOOK_AGAIN_S)
    assert c.state.doubts == () and c.state.position is None
