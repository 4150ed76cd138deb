"""A hedge-grid leg's stop the venue refuses for a lasting reason was re-sent every retry_s
(2 s) for ever, as in the one-way core (found by review): 1,800 refused orders an hour per
leg, eating the order rate budget other symbols need. The first retries stay fast, then the
wait doubles up to STOP_RETRY_MAX_S; a stop that rests starts the count again."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderAccepted, OrderFailed, PriceTicked, TimerFired
from trading.grid.model import GridKind
from trading.primitives import Side

REFUSAL = "InvalidOrder: order cost below the minimum"


def test_a_refused_leg_stop_backs_off_to_a_cap_and_resets_once_one_rests():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stops, sent = b.placed(GridKind.STOP, Side.LONG), []
    start = b.now
    while b.now < start + 3600:
        for stop in stops:
            b.send(OrderFailed(client_order_id=stop.client_order_id, error=REFUSAL))
        b.send(TimerFired())
        stops = b.placed(GridKind.STOP, Side.LONG)
        sent += [b.now] * len(stops)
    assert len(sent) < 100, f"{len(sent)} refused stops in an hour"
    assert sent[0] - start <= 5 and sent[2] - sent[1] <= 4, "the first retries stay fast"
    assert max(b - a for a, b in zip(sent, sent[1:], strict=False)) <= 62, "capped"
    assert b.state.long.stop_failures > 3
    while not stops:
        b.send(TimerFired())
        stops = b.placed(GridKind.STOP, Side.LONG)
    b.send(OrderAccepted(client_order_id=stops[0].client_order_id, exchange_id="s1"))
    assert b.state.long.stop_failures == 0
