"""A new stop the venue answers as already ended (status "closed", nothing filled) must not be
sent again and again within one message.

Found by review: the create's answer of such a stop becomes `OrderCanceled`
(actors/order_results.py `events_for`: closed with nothing filled reads as a cancel), and the
core treated every cancel of its stop as "someone removed our stop": re-placed at once, in the
same decision. A venue that answered every new stop that way made the loop send 1,000 stop
orders in one message before its step bound raised (RunawayLoop), and the restarted actor did it
again. A stop that ends before it ever rested is a refusal now: retried after stop_retry_s,
then with the refused stop's backoff; a resting stop that is removed is still re-placed at once.

The production decision loop (tests/trading/scenario.py) and the one-way core; the test plays
the venue."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import Event, OrderCanceled, PriceTicked, SignalRaised, TimerFired
from trading.model import Side


class EndsStops(Scenario):
    """Answers every new stop as ended at once while `ending`."""

    ending = False

    def _execute(self, cmd: Command) -> list[Event]:
        if self.ending and isinstance(cmd, PlaceOrder) and cmd.order.stop_price is not None:
            self.placed.append(cmd)
            return [OrderCanceled(client_order_id=cmd.order.client_order_id)]
        return super()._execute(cmd)


def _stops(sc: Scenario) -> int:
    return sum(1 for p in sc.placed if p.order.stop_price is not None)


def test_a_stop_ended_as_it_was_placed_is_retried_with_the_backoff():
    sc = EndsStops(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    resting = sc.state.active_stop()
    assert resting is not None and _stops(sc) == 1
    sc.ending = True
    sc.send(OrderCanceled(client_order_id=resting.client_order_id), dt=1)  # removed
    assert _stops(sc) == 2, "a removed resting stop is re-placed at once (and ends)"
    sc.send(TimerFired(), dt=1)
    assert _stops(sc) == 2  # not before stop_retry_s
    sc.send(TimerFired(), dt=1.5)
    assert _stops(sc) == 3
    for _ in range(600):  # ten minutes of heartbeats: the refused stop's backoff
        sc.send(TimerFired(), dt=1)
    assert _stops(sc) < 30
    sc.ending = False
    sc.send(TimerFired(), dt=60)
    assert sc.state.active_stop() is not None and sc.state.stop_refusals == 0
