"""Hedge grid: a leg's resting stop is not replaced while the price is at or through its level.

A leg's stop covers the leg and the level that may still fill into it (maintain.py `_cover`);
once the price is through the stop level no level may rest (`_may_rest`), so the cover shrank
to the leg and `_protect` sent a replacement stop for the smaller amount, at the level the price
had already passed. The venue refuses it (Bybit 110093 "expect Falling, but trigger_price >=
current", Binance -2021 "would immediately trigger"): a WARNING, a stop failure counted and the
next stop held back by its backoff, all while the resting stop, which covers the leg, is firing.
Seen in a live grid chaos run on the Bybit emulator (s49, seed 5032, ETH long: stop 30s of 0.07
resting for a leg of 0.03, the price 2982.82 under its 2983.08: `create_order main-ba53-ETH-32s
failed: ... expect Falling`; the leg closed by 30s's fill 2 s later).
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


def test_a_resting_stop_is_not_resized_at_a_price_through_its_level():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    waiting = b.placed(GridKind.OPEN)
    b.fill(waiting.pop(0), "100")
    waiting += b.placed()
    b.fill(waiting.pop(0), "100")
    waiting += b.placed()
    while waiting:  # the venue acknowledges each order; the long's level create is set aside
        order = waiting.pop(0)  # (never sent: an order report was waiting), as in the run
        if order.kind is GridKind.ADD and order.leg is Side.LONG:
            b.send(OrderFailed(client_order_id=order.client_order_id, error="Preempted",
                               set_aside=True))
        else:
            b.accept(order)
        waiting += b.placed()
    assert b.state.orders_of(Side.LONG, GridKind.ADD) == []
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    assert (stop.status, stop.amount, stop.price) == (OrderStatus.OPEN, D(3), D("95.0"))
    assert b.state.protected(Side.LONG)
    b.send(PriceTicked(price=D("94.9")))  # through the 95 stop: it fires on the venue
    assert b.placed(GridKind.STOP, Side.LONG) == [], (
        f"a stop replacement sent at a level the price has passed: "
        f"{[(o.amount, o.price) for o in b.placed(GridKind.STOP, Side.LONG)]}")
    assert b.placed(GridKind.CLOSE, Side.LONG) == []  # the resting stop covers the leg
    assert b.state.long.stop_failures == 0
    # back above the stop, the stop is sized to the leg and the level again as before
    b.send(PriceTicked(price=D("99.5")))
    assert b.state.order(stop.client_order_id).status is OrderStatus.OPEN


def test_no_take_profit_goes_out_at_a_price_through_the_resting_stop():
    """The leg's take-profit ends (the venue cancelled it: Binance ends a reduce-only order once
    its position is gone; or it was lost on the way and is placed again at once) while the price
    is through the resting stop: the stop is firing, the leg is being closed, a take-profit then
    is refused by the venue (-2022 "ReduceOnly Order is rejected", Bybit 110017) and counted as a
    failure. Seen three times in s49's live grid runs (seeds 5031, 5032, 5035)."""
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    assert b.state.protected(Side.LONG)
    b.send(PriceTicked(price=D("94.9")))  # through the 95 stop: it fires on the venue
    b.send(OrderCanceled(client_order_id=tp.client_order_id))  # the venue ended it
    assert b.placed(GridKind.TP, Side.LONG) == [], (
        f"a take-profit sent at a price through the leg's resting stop: "
        f"{[(o.amount, o.price) for o in b.placed(GridKind.TP, Side.LONG)]}")
    b.send(PriceTicked(price=D("99.5")))  # back above the stop: the leg gets its take-profit
    assert [o.amount for o in b.placed(GridKind.TP, Side.LONG)] == [D(1)]
