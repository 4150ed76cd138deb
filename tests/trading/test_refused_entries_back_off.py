"""Entries that keep ending unfilled wait longer each time: `risk.entry_retry_s` doubling up to
`entry_retry_max_s` (trading/order_reports.py `_entry_ended` counts them). Mutation audit
(helper y): with the refusal not counted, no test failed; every refused entry then waited the
first 10 s, so a venue refusing a symbol's entries for an hour (margin, a closed market) was
sent about 360 entries, where the backoff sends 16 (10 + 20 + 40 + 80 + 160, then every 300 s),
each one spending the account's rate budget and a journal line.

Rules of tests/trading/conftest.py (entry retry 10 s, at most 300 s): the strategy's signal
(no signal id) is refused by the venue four times, waiting 10, 20, 40 and 80 s; a signal just
before the wait is over sends nothing.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import OrderFailed, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side


def test_refused_entries_wait_doubling():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    waits = []
    for _ in range(4):
        c.send(SignalRaised(side=Side.LONG))
        (entry,) = c.placed(OrderPurpose.ENTRY)
        c.send(OrderFailed(client_order_id=entry.client_order_id, error="margin is insufficient",
                           never_reached=False))
        assert c.state.phase is Phase.FLAT
        refused_at = c.now
        waits.append(round(c.state.entry_retry_at - refused_at, 6))  # float seconds
        c.send(PriceTicked(price=D(100)), at=c.state.entry_retry_at - 0.5)
        c.send(SignalRaised(side=Side.LONG))
        assert not c.placed(OrderPurpose.ENTRY), "an entry sent before its wait was over"
        c.send(PriceTicked(price=D(100)), at=c.state.entry_retry_at)
    assert waits == [10.0, 20.0, 40.0, 80.0]
