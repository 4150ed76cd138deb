"""An entry set aside before it was sent (actors/command_executor.py `_not_sent`: its create gave
way to an order report waiting in the actor's mailbox, `Preempted`; `OrderFailed.set_aside`) is
no refusal of the venue: the one-way core counted it as one (trading/order_reports.py
`_entry_ended`), so the strategy's next entry waited `risk.entry_retry_s` (10 s), and set-asides
in a row doubled that wait up to `entry_retry_max_s` (300 s) though nothing had reached the
venue; the grid core already treats a set-aside entry as no refusal. Seen in a live one-way
chaos run (bybit, seed 4961): 13 entries set aside, four of them in a row within 8 ms
(main-ad9e-ETH-59e..62e), each answered "Preempted: an order report is waiting".
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import OrderFailed, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side

PREEMPTED = "Preempted: an order report is waiting: this call is set aside for it"


def test_a_set_aside_entry_is_no_refusal_and_the_next_entry_does_not_wait():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    for _ in range(3):
        c.send(SignalRaised(side=Side.LONG))
        (entry,) = c.placed(OrderPurpose.ENTRY)
        c.send(OrderFailed(client_order_id=entry.client_order_id, error=PREEMPTED,
                           never_reached=True, lost=True, set_aside=True))
        assert c.state.phase is Phase.FLAT
        assert c.state.entry_refusals == 0, "a set-aside entry was counted as a refusal"
        assert c.state.entry_retry_at <= c.now, \
            f"the next entry waits {c.state.entry_retry_at - c.now:.0f}s after a set-aside one"
    c.send(SignalRaised(side=Side.LONG))  # the report was handled: the strategy enters
    assert c.placed(OrderPurpose.ENTRY)


def test_a_refusal_after_set_asides_still_waits_the_first_wait():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    c.send(SignalRaised(side=Side.LONG))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    c.send(OrderFailed(client_order_id=entry.client_order_id, error=PREEMPTED,
                       never_reached=True, lost=True, set_aside=True))
    c.send(SignalRaised(side=Side.LONG))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    c.send(OrderFailed(client_order_id=entry.client_order_id, error="margin is insufficient",
                       never_reached=False))
    assert c.state.entry_retry_at - c.now == 10.0
