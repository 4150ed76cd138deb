"""EndedOrders on injected time (actors/stream_ended.py): an order the order stream ended is
told to its actor again only while the actor, having handled the last report, still holds it
live; at a doubling pace, a bounded number of times, and never again once the actor let it go.
The emulator side is tests/exchange/ccxt/test_stream_cancel_rest_lags.py."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.actor_view import Published
from actors.messages import OrderActivity, Timer
from actors.stream_ended import AGAIN_S, TRIES, EndedOrders
from trading.model import SymbolState
from trading.orders import Order, OrderPurpose, OrderStatus

BTC = "BTC/USDT:USDT"
CID = "main-x-BTC-2s"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _published(status: OrderStatus, cancel_requested_at: float | None = None) -> Published:
    stop = Order(client_order_id=CID, purpose=OrderPurpose.STOP, side="sell",
                 amount=Decimal("0.01"), price=Decimal("49000"), status=status,
                 cancel_requested_at=cancel_requested_at)
    return Published(state=SymbolState(symbol=BTC, orders=(stop,)), last_tick_at=None,
                     reconciled=True)


def _ended() -> tuple[EndedOrders, Clock, list[Any], dict[str, Any]]:
    sent: list[Any] = []
    clock = Clock()
    views: dict[str, Any] = {BTC: _published(OrderStatus.OPEN)}
    ended = EndedOrders(views=views, deliver=lambda s, m: sent.append(m) or True,
                        logger=logger, monotonic=clock)
    return ended, clock, sent, views


def _handled(views: dict[str, Any]) -> None:
    """The actor handled the report: it published again, its lookup still found it open."""
    views[BTC] = replace(views[BTC])


def test_told_again_at_a_doubling_pace_while_the_actor_holds_it_then_left():
    ended, clock, sent, views = _ended()
    assert ended.tell(BTC, CID)
    assert [type(m) for m in sent] == [OrderActivity, Timer]
    clock.t += AGAIN_S
    assert ended.due() == 0  # the actor has not handled the first report yet
    for n in range(1, TRIES + 1):
        _handled(views)
        assert ended.due() == 1, n
        assert sent[-2] == OrderActivity(client_order_ids=(CID,)) and sent[-1] == Timer()
        _handled(views)
        clock.t += AGAIN_S * 2 ** n - 0.5
        assert ended.due() == 0, n  # not before its time
        clock.t += 0.5
    assert ended.due() == 0 and ended.again == TRIES  # bounded: then the stop watch's
    clock.t += 3600
    _handled(views)
    assert ended.due() == 0 and len(sent) == 2 * (1 + TRIES)


def test_nothing_more_once_the_actor_let_the_order_go():
    for gone in (_published(OrderStatus.CANCELED), _published(OrderStatus.OPEN, 5.0), None):
        ended, clock, sent, views = _ended()
        assert ended.tell(BTC, CID)
        views[BTC] = gone  # canceled in its books, being cancelled by it, or no actor view
        clock.t += 3600
        assert ended.due() == 0 and len(sent) == 2 and ended.again == 0


def test_a_report_no_actor_took_is_not_followed():
    sent: list[Any] = []
    clock = Clock()
    ended = EndedOrders(views={BTC: _published(OrderStatus.OPEN)},
                        deliver=lambda s, m: bool(sent.append(m)), logger=logger,
                        monotonic=clock)
    assert not ended.tell(BTC, CID)
    clock.t += 3600
    assert ended.due() == 0 and len(sent) == 1  # the refused OrderActivity only
