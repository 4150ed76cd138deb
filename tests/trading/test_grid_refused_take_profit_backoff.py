"""Hedge grid: a take-profit the venue refuses again and again (a lasting refusal: the venue's
open-order limit, a price-band rule, a market in reduce-only mode) backs off as a refused stop
and a refused level do: retry_s for the first refusals, then doubling up to a minute. Found by
review: a refused take-profit was sent again every retry_s (2 s) for as long as the refusal
lasted, eating the account's order rate limit that other symbols' stops need. A take-profit that
rests starts the count again; the leg's stop is never held back. Driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderFailed, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def _refuse_take_profits(b: Book, seconds: int) -> list[float]:
    """A price every second; every take-profit the leg sends is refused. When each was sent."""
    sent = []
    for _ in range(seconds):
        b.send(PriceTicked(price=D(100)))
        for tp in b.placed(GridKind.TP, Side.LONG):
            sent.append(b.now)
            b.send(OrderFailed(client_order_id=tp.client_order_id, error="too many open orders"))
    return sent


def test_a_take_profit_refused_again_and_again_backs_off():
    b = Book(levels=0)
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    b.send(OrderFailed(client_order_id=tp.client_order_id, error="too many open orders"))
    sent = _refuse_take_profits(b, 600)
    assert len(sent) <= 20, f"{len(sent)} take-profits sent in 10 minutes"
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:], strict=False)]
    assert gaps[0] <= 2 * b.core.rules.retry_s + 1  # the first retries stay fast
    assert max(gaps) >= 60, gaps
    assert b.state.protected(Side.LONG)  # the stop was never held back
    # one that rests starts again: the next refusal is retried fast
    for _ in range(120):
        b.send(PriceTicked(price=D(100)))
        if b.placed(GridKind.TP, Side.LONG):
            break
    (tp,) = b.placed(GridKind.TP, Side.LONG)
    b.accept(tp)
    assert b.state.long.tp_failures == 0
