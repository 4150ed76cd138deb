"""Hedge grid: what a refused order holds back. A refused take-profit or level waits out its
retry, but never holds back the leg's stop: a stop gone from the venue meanwhile is placed again
at once (INCIDENTS.md rule 5: a leg without its stop for no reason). A level refused again and
again (the account's balance too low for it) backs off, as a failing close does, instead of
being asked for every retry_s for as long as the balance stays low.

Found by review: every refused stop, take-profit or level set the leg's one `retry_at`, which
`_protect` also waited on before placing a stop (up to retry_s with the leg unprotected), and a
level refused for low balance was placed again every retry_s for ever. Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def long_open() -> Book:
    """A long of 1 at 100; its stop and take-profit placed, not acknowledged yet."""
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    return b


def test_a_refused_take_profit_does_not_hold_back_the_stop_of_its_leg():
    b = long_open()
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    b.send(OrderFailed(client_order_id=tp.client_order_id, error="refused"))
    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # gone from the venue
    assert b.placed(GridKind.STOP, Side.LONG), "the leg waits without a stop"
    assert not b.placed(GridKind.TP, Side.LONG)  # the take-profit still waits its retry


def test_a_level_refused_again_and_again_backs_off():
    b = long_open()
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    (level,) = b.placed(GridKind.ADD, Side.LONG)
    retry = b.core.rules.retry_s
    waits = []
    for _ in range(5):
        b.send(OrderFailed(client_order_id=level.client_order_id,
                           error="insufficient balance"))
        refused_at, waited = b.now, None
        for step in range(1, 200):
            b.now = refused_at + step * retry / 2 - 1  # `send` adds a second
            b.send(PriceTicked(price=D(100)))
            assert not b.placed(GridKind.STOP, Side.LONG)  # the stop keeps covering the level
            if b.placed(GridKind.ADD, Side.LONG):
                (level,) = b.placed(GridKind.ADD, Side.LONG)
                waited = b.now - refused_at
                break
        assert waited is not None
        waits.append(waited)
        assert b.state.protected(Side.LONG)
    assert waits[0] <= retry + retry / 2  # the first retry as before
    assert waits[-1] > 4 * retry, f"placed again after {waits} s: no backoff"
