"""Failed closes wait longer each time: `risk.close_backoff_initial_s` doubling up to
`close_backoff_max_s` (INCIDENTS rule 2: "after a bounded number (with backoff) the symbol
escalates"). Mutation audit (helper y): with every retry waiting the first delay
(trading/lifecycle.py `close_failed`, `close_backoff(1)`), no test failed: only the backoff
function was tested on its own, never the waits the core gives a close that keeps failing. A
venue refusing closes for a while was then asked again at the fastest pace until escalation,
with no time for the cause (a rate limit, a maintenance) to pass.

Rules of tests/trading/conftest.py (backoff 1 s doubling, at most 8 s), 5 attempts: the close
fails at attempts 1-4 and waits 1, 2, 4 and 8 s; attempt 5 fails and escalates. No retry is
sent before its wait is over.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.commands import Escalate
from trading.events import OrderAccepted, OrderFailed, OrderFilled, SignalRaised, TimerFired
from trading.model import OrderPurpose


def test_a_close_that_keeps_failing_backs_off_doubling_then_escalates():
    c = Core(max_close_attempts=5)
    entry = c.entry()
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D(1),
                       average=D(100), fee=D("0.05"), complete=True))
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(SignalRaised(side=None, reason="strategy_exit"))
    waits = []
    for attempt in range(1, 6):
        (close,) = c.placed(OrderPurpose.CLOSE)
        c.send(OrderFailed(client_order_id=close.client_order_id, error="venue busy"))
        if attempt == 5:
            break
        (failed,) = [j for j in c.last.journal if j.type == "CloseFailed"]
        assert failed.data["attempt"] == attempt
        waits.append(failed.data["retry_in_s"])
        failed_at = c.now
        c.send(TimerFired(), at=failed_at + waits[-1] - 0.5)
        assert not c.placed(OrderPurpose.CLOSE), f"attempt {attempt + 1} sent before its wait"
        c.send(TimerFired(), at=failed_at + waits[-1])
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert any(isinstance(x, Escalate) for x in c.last.commands)
    assert c.state.quarantined and c.state.close_attempts == 5
