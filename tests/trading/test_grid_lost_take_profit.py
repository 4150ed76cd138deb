"""Hedge grid: a take-profit lost on the way (its create's outcome unknown, a timeout; a lookup by
client id then finds no such order: `OrderFailed.lost`, actors/command_executor.py `_resolve`)
counted as a venue refusal: the leg's take-profit backed off (retry_s, a `tp_failures` count
towards the doubling wait) and its levels were held back as long (maintain.py `_throttled`),
though nothing refused it (review s49, hypothesis 3). As a lost stop (handlers.py `_backed_off`,
trading/rules.py `stop_wait`), the first of a row is placed again at once, in the same decision;
lost again and again, it backs off as refusals do (a venue that swallows every one is no loop).
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from tests.trading.test_grid_unseen_take_profit import _opened_take_profit_unsent
from trading.events import OrderFailed, TimerFired
from trading.grid.model import GridKind
from trading.model import Side

LOST = "RequestTimeout: no answer"


def test_a_lost_take_profit_is_placed_again_at_once():
    b, tp = _opened_take_profit_unsent()
    b.send(OrderFailed(client_order_id=tp.client_order_id, error=LOST, lost=True))
    leg = b.state.long
    assert leg.retry_at <= b.now, "a lost take-profit held the leg's take-profit and levels back"
    placed = b.placed(GridKind.TP, Side.LONG)
    assert len(placed) == 1, "the lost take-profit waited as a refused one"
    (again,) = placed
    assert again.client_order_id != tp.client_order_id, "a new client order id"
    assert (again.price, again.amount) == (tp.price, tp.amount)
    b.accept(again)  # it rests: the row of losses ends
    assert b.state.long.tp_failures == 0


def test_take_profits_lost_again_and_again_back_off_as_refusals_do():
    b, tp = _opened_take_profit_unsent()
    b.send(OrderFailed(client_order_id=tp.client_order_id, error=LOST, lost=True))
    (again,) = b.placed(GridKind.TP, Side.LONG)
    b.send(OrderFailed(client_order_id=again.client_order_id, error=LOST, lost=True))
    assert b.placed(GridKind.TP, Side.LONG) == [], "a second lost take-profit in a row waits"
    assert b.state.long.retry_at == b.now + 2.0
    b.send(TimerFired())
    assert b.placed(GridKind.TP, Side.LONG) == []
    b.send(TimerFired())
    assert len(b.placed(GridKind.TP, Side.LONG)) == 1
