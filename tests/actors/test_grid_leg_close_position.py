"""The hedge grid's read after a leg's close that ended short of its amount
(actors/exchange_facts.py `with_close_position`) is per leg side: in hedge mode the venue
lists each leg apart. The long's close is marked `position_gone` only when no long is listed,
whatever the short; a long still listed (the rest of it) keeps the close a failed attempt even
with the short flat. The exchange is a stand-in answering fetch_positions (the actor on the
Binance emulator: tests/actors/test_grid_binance_close_cut.py)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from loguru import logger

from actors.exchange_facts import with_close_position
from exchange.records import PositionSide, VenuePosition
from tests.trading.test_grid_close_counted_before_send import _closes, _unprotected_long
from tests.trading.test_grid_core import SYMBOL, Book
from trading.events import OrderFilled, PriceTicked


class Listed:
    """An exchange port that lists these legs (side: contracts) of the grid's symbol."""

    def __init__(self, **legs: str) -> None:
        self.legs = legs

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> list[VenuePosition]:
        return [VenuePosition(symbol=SYMBOL, side=side, contracts=D(n), entry_price=D(100),
                              position_side=PositionSide(side), hedged=True)
                for side, n in self.legs.items()]


def _marked(exchange: Listed) -> bool:
    b = Book()
    _unprotected_long(b)
    (close,) = _closes(list(b.send(PriceTicked(price=D(90))).commands))
    short = OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                        filled=D("0.5"), average=D(90), fee=D(0), complete=True)
    return with_close_position(exchange, b.state, short, logger).position_gone


def test_a_long_close_short_with_no_long_listed_is_marked_though_the_short_is_listed():
    assert _marked(Listed(short="1"))


def test_a_long_close_short_with_the_long_still_listed_is_not_marked_with_the_short_flat():
    assert not _marked(Listed(long="0.5"))


class LostOnTheWay(Listed):
    """The close's create times out and no order of that id is found: lost on the way."""

    def create_order(self, *args: Any, **kwargs: Any) -> Any:
        from exchange import errors
        raise errors.RequestTimeout("read timed out")

    def fetch_order(self, *args: Any, **kwargs: Any) -> Any:
        from exchange import errors
        raise errors.OrderNotFound("no such order")


def test_a_lost_close_read_as_raced_keeps_what_else_its_failure_said():
    """The executor's mark of a failed close as raced (no leg listed) keeps the failure's other
    facts. Found by review: it rebuilt the OrderFailed with four of its fields, and a close
    lost on the way (`lost`) came back as a plain refusal."""
    from actors.grid_executor import GridExecutor
    from trading.events import OrderFailed

    b = Book()
    _unprotected_long(b)
    (close,) = _closes(list(b.send(PriceTicked(price=D(90))).commands))
    executor = GridExecutor(SYMBOL, LostOnTheWay(short="1"), on_escalate=lambda s, e: None,
                            log=logger, lookup_attempts=1, sleep=lambda s: None)
    from trading.commands import PlaceOrder
    (failed,) = executor.execute_grid(PlaceOrder(order=close))
    assert isinstance(failed, OrderFailed) and failed.position_gone
    assert failed.lost and failed.never_reached
