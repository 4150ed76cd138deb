"""A filled entry's stop is sent before the rest of the decision that sent the entry.

The hedge grid opens both legs in one decision (two market entries). The loop used to send
every command of a decision before deciding any result, so the long leg, filled by the first
call, waited for the short leg's entry to be sent before its stop went out: on a live venue
answering each create in about a second (more under its rate limit), 2-3 s without a stop
(seen in a live soak on the Bybit emulator). Each command's results are now decided before
the next command is sent. Production's decision loop (actors/loop.py) around the grid core; the
test plays a venue that answers each call one second later and fills market orders at once.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import loop_for
from tests.trading.test_grid_core import SYMBOL, rules
from trading.commands import PlaceOrder
from trading.events import OrderAccepted, OrderFilled, PriceTicked
from trading.grid.core import GridCore
from trading.grid.model import GridState
from trading.orders import OrderPurpose


class SlowVenue:
    """Answers every call one second after it was made; market entries fill at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sent: list[tuple[float, str, str]] = []  # (time sent, purpose, leg)

    def execute(self, command: object) -> list:
        if not isinstance(command, PlaceOrder):
            return []
        order = command.order
        self.sent.append((self.now, order.purpose.value, order.leg.value))
        self.now += 1.0
        cid, xid = order.client_order_id, "x" + order.client_order_id
        events: list = [OrderAccepted(client_order_id=cid, exchange_id=xid)]
        if order.purpose is OrderPurpose.ENTRY:
            events.append(OrderFilled(client_order_id=cid, exchange_id=xid, filled=order.amount,
                                      average=D(100), fee=D("0.01")))
        return events


def test_each_filled_leg_gets_its_stop_before_the_other_leg_is_sent() -> None:
    venue = SlowVenue()
    loop, _ = loop_for(GridCore(rules()), GridState(symbol=SYMBOL), clock=lambda: venue.now,
                       execute=venue.execute)
    loop.apply(PriceTicked(price=D(100)))
    sent = [(purpose, leg) for _, purpose, leg in venue.sent]
    assert sent[:2] == [("entry", "long"), ("stop", "long")], sent  # before: entry, entry, ...
    assert ("entry", "short") in sent and ("stop", "short") in sent
    for leg in ("long", "short"):
        filled_at = next(t for t, p, g in venue.sent if (p, g) == ("entry", leg)) + 1.0
        stop_at = next(t for t, p, g in venue.sent if (p, g) == ("stop", leg))
        assert stop_at - filled_at <= 0.0, f"{leg}: stop sent {stop_at - filled_at:.0f} s after the fill"
