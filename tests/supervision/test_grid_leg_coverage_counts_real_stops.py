"""A hedge-grid leg counts as protected in the status (and so in the stop-coverage alert,
supervision/coverage.py, INCIDENTS.md rule 5) only when an acknowledged stop of its current
position, for the whole leg and not being cancelled, rests on the exchange: the same test as
`GridState.protected`, which the grid itself uses to re-place a stop.

Found by review: the grid's view (actors/grid_view.py) counted any open stop on the leg's side,
so a leg whose only stop was being cancelled, was left from an earlier position of the side, or
was smaller than the leg showed protected and the coverage alert never came. Real grid view,
real coverage watch reading the status lines."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from actors.grid_view import grid_view
from supervision.coverage import positions
from trading.grid.model import GridKind, GridOrder, GridState, Leg
from trading.model import OrderStatus, Side

BTC = "BTC/USDT:USDT"
LEG = Leg(side=Side.LONG, position_id="p2", contracts=Decimal("2"),
          entry_price=Decimal("100"), stop_price=Decimal("90"))
STOP = GridOrder(client_order_id="s1", purpose=GridKind.STOP, side="sell",
                 amount=Decimal("2"), price=Decimal("90"), reduce_only=True,
                 status=OrderStatus.OPEN, position_id="p2", leg=Side.LONG)


def covered(stop: GridOrder) -> bool:
    state = GridState(symbol=BTC, long=LEG, orders=(stop,))
    view = grid_view(state, None, True)
    actor = {"symbol": BTC, "position": view.position, "protected": view.protected}
    ((label, ok),) = positions([actor], bot_side_stops=False)
    assert label == f"{BTC} long"
    assert view.protected is ok
    assert ok is state.protected(Side.LONG)  # the view says what the grid itself acts on
    return ok


def test_a_whole_acknowledged_stop_of_the_leg_covers_it():
    assert covered(STOP)


def test_a_leg_whose_only_stop_is_being_cancelled_is_unprotected():
    assert not covered(replace(STOP, cancel_requested_at=5.0))


def test_a_stop_left_from_an_earlier_position_of_the_side_does_not_cover_the_leg():
    assert not covered(replace(STOP, position_id="p1"))


def test_a_stop_smaller_than_the_leg_does_not_cover_it():
    assert not covered(replace(STOP, amount=Decimal("1")))


def test_an_unacknowledged_stop_does_not_cover_the_leg():
    assert not covered(replace(STOP, status=OrderStatus.PENDING))




def test_a_hedge_with_one_bare_leg_is_not_protected_as_a_whole():
    """Both legs open, only the long one's stop rests: the symbol's `protected` (the status's
    and the page's) is False, its lines say which leg is bare. Found by a mutation audit: the
    view asking whether any leg is protected instead of all survived every test naming it."""
    short = Leg(side=Side.SHORT, position_id="p3", contracts=Decimal("2"),
                entry_price=Decimal("100"), stop_price=Decimal("110"))
    state = GridState(symbol=BTC, long=LEG, short=short, orders=(STOP,))
    view = grid_view(state, None, True)
    assert view.position is not None and view.position["side"] == "hedge"
    assert [leg["protected"] for leg in view.position["legs"]] == [True, False]
    assert view.protected is False
