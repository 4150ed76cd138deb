"""Rule 2: a real position stays tracked until the exchange says it is closed, and its close is
never forgotten. A restored state that is closing with no close order live and no retry
scheduled (a row written by an older version, or any path that ended the close without
counting it) would otherwise stay "closing" for ever: no retry, so no escalation, no alert; the
exit that was decided never happens. Reconciliation restarts such a close: it is sent at once,
counted as the next attempt. Found by the incident-rule mutation audit:
with that step of trading/reconcile.py removed, no test failed.

The pure one-way core and its reconciliation."""

from __future__ import annotations

from decimal import Decimal as D

from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import ExchangePosition, Reconciled, TimerFired
from trading.model import OrderPurpose, Phase, Position, Side, SymbolState

NOW = 1_000_000.0


def test_a_restored_close_with_nothing_in_flight_and_no_retry_is_sent_again(core: SymbolCore):
    pos = Position(position_id="main-ab12-BTC-1e", side=Side.LONG, contracts=D("0.01"),
                   entry_price=D("100"), opened_at=NOW - 600)
    stalled = SymbolState(symbol=core.rules.symbol, phase=Phase.CLOSING, position=pos,
                          order_seq=3, close_attempts=1, close_reason="take_profit",
                          next_close_at=None)
    listed = ExchangePosition(side=Side.LONG, contracts=D("0.01"), entry_price=D("100"))
    d = core.decide(stalled, Reconciled(position=listed, price=D("101")), NOW)
    later = core.decide(d.state, TimerFired(), NOW + 60)  # nothing more waits for a retry
    assert later.state.phase is Phase.CLOSING and later.state.position == pos  # still tracked
    closes = [c.order for c in d.commands + later.commands
              if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]
    assert len(closes) == 1 and closes[0].amount == D("0.01")
    assert d.state.close_attempts == 2  # counted like every attempt (bounded, escalates)
