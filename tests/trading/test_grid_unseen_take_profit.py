"""Hedge grid: a take-profit that never reached the venue (the bot was killed between its
intent's commit and its send; after the restart reconciliation's lookup by client id does not
find it once its send grace is over: `OrderFailed.unseen`) is no refusal. It counted as one: the
take-profit backed off (retry_s, a `tp_failures` count towards the doubling wait) and held the
leg's levels back for as long (`maintain._throttled`), as a grid level and an opening order so
ended did before (commits 30dafdf8, d0818203). Now it is placed again at once, in the same
reconciliation, under a new client order id; nothing else waits. A venue's refusal keeps its
wait (tests/trading/test_grid_refused_take_profit_backoff.py). An unseen stop was already placed
again at once (tests/trading/test_grid_lost_stop_resent.py). Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from tests.trading.test_grid_lost_stop_resent import _reconcile_without
from trading.events import OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side
from trading.orders import Order


def _opened_take_profit_unsent() -> tuple[Book, Order]:
    """Both legs open, every order acknowledged but the long leg's take-profit: its intent was
    committed and the bot killed before its send."""
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    waiting = b.placed()
    b.fill(opens[Side.SHORT], "100")
    waiting += b.placed()
    (tp,) = [o for o in waiting if o.kind is GridKind.TP and o.leg is Side.LONG]
    waiting.remove(tp)
    while waiting:
        b.accept(waiting.pop(0))
        waiting += b.placed()
    assert b.state.order(tp.client_order_id) is not None  # still pending
    return b, tp


def test_an_unseen_take_profit_is_no_refusal_and_is_placed_again_at_once():
    b, tp = _opened_take_profit_unsent()
    b.now += 120  # past the send grace (60 s over ccxt)
    _reconcile_without(b, tp)
    assert "failed" in [o.status.value for o in b.state.finished_orders
                        if o.client_order_id == tp.client_order_id]
    leg = b.state.long
    assert leg.tp_failures == 0, "a take-profit that never reached the venue counted a refusal"
    assert leg.retry_at <= b.now, "it held the leg's take-profit and levels back"
    placed = b.placed(GridKind.TP, Side.LONG)
    assert len(placed) == 1, "the unseen take-profit waited retry_s"
    (again,) = placed
    assert again.client_order_id != tp.client_order_id, "a new client order id"
    assert (again.price, again.amount) == (tp.price, tp.amount)


def test_a_refused_take_profit_still_backs_off():
    b, tp = _opened_take_profit_unsent()
    b.send(OrderFailed(client_order_id=tp.client_order_id, error="InvalidOrder: refused"))
    assert b.placed(GridKind.TP, Side.LONG) == []
    assert b.state.long.tp_failures == 1 and b.state.long.retry_at == b.now + 2.0
