"""A one-way position counts as protected in the status (and so in the stop-coverage alert,
supervision/coverage.py, INCIDENTS.md rule 5) only when an acknowledged stop of this position,
for all of it and not being cancelled, rests on the exchange: the hedge grid's rule
(`GridState.protected`, tests/supervision/test_grid_leg_coverage_counts_real_stops.py).

Found by review: the view counted the newest open stop whatever its size, so a position that
grew on the venue (a fill booked late, a buy by hand) showed protected while its stop covered
only the old size, and a stop whose cancel was asked for still counted. Real view, real
coverage watch reading the status lines.

A stop level the bot holds counts as protection only with bot-side stops: with exchange stops,
a position whose stop level is known but whose exchange stop is not whole and acknowledged is
unprotected (mutation audit: counting the level in every stop mode failed no test).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from actors.actor_view import view_of
from supervision.coverage import positions
from trading.model import OrderStatus, Phase, Position, Side, SymbolState
from trading.orders import Order, OrderPurpose

BTC = "BTC/USDT:USDT"
POS = Position(position_id="p2", side=Side.LONG, contracts=Decimal("2"),
               entry_price=Decimal("100"), opened_at=1.0)
STOP = Order(client_order_id="s1", purpose=OrderPurpose.STOP, side="sell", amount=Decimal("2"),
             price=Decimal("90"), reduce_only=True, status=OrderStatus.OPEN, position_id="p2")


def covered(*stops: Order) -> bool:
    state = SymbolState(symbol=BTC, phase=Phase.OPEN, position=POS, stop_price=Decimal("90"),
                        orders=stops)
    view = view_of(state, None, reconciled=True)
    # the fields supervision/status.py puts in the actor's line: the stop level the bot holds
    # too, which counts only with bot-side stops (stop_mode = "bot"), never for exchange stops
    actor = {"symbol": BTC, "position": view.position, "protected": view.protected,
             "stop_price": view.stop_price}
    assert view.stop_price is not None
    ((label, ok),) = positions([actor], bot_side_stops=False)
    assert label == f"{BTC} long" and view.protected is ok
    return ok


def test_a_whole_acknowledged_stop_covers_the_position():
    assert covered(STOP)
    assert covered(replace(STOP, amount=Decimal("3")))  # reduce-only: bigger is fine


def test_a_stop_smaller_than_a_position_that_grew_does_not_cover_it():
    assert not covered(replace(STOP, amount=Decimal("1")))
    # its whole replacement acknowledged: covered again (the small one's cancel may lag)
    assert covered(replace(STOP, amount=Decimal("1")),
                   replace(STOP, client_order_id="s2", replaces="s1"))


def test_a_stop_being_cancelled_or_of_an_earlier_position_does_not_cover_it():
    assert not covered(replace(STOP, cancel_requested_at=5.0))
    assert not covered(replace(STOP, position_id="p1"))


def test_an_unacknowledged_stop_does_not_cover_the_position():
    assert not covered(replace(STOP, status=OrderStatus.PENDING))
    # a trailing move: the new stop pending, the old one still resting: covered
    assert covered(STOP, replace(STOP, client_order_id="s2", status=OrderStatus.PENDING,
                                 price=Decimal("95"), replaces="s1"))
