"""Hedge grid: an order whose first report is already its whole fill (no acknowledgement before
it: a fast venue, or a fill while the bot was down) was never journaled as placed. `LevelPlaced`,
`TakeProfitPlaced` and `StopPlaced` (`ge.LegStopPlaced`) were recorded only on the
acknowledgement, so only the fill's records appeared (a live Binance run: levels BTC-25a and
ETH-68a journaled `LegAveraged` with no `LevelPlaced`), and tests/e2e/chaos_grid.py
`repeated_openings`, which tells a level that reopened a leg from a repeated entry by its
`LevelPlaced`, flagged such a level as a repeated decision. The failures count reset on the
acknowledgement was kept too: a later refused level waited as if the filled one had been
refused. Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.events import OrderCanceled, OrderFailed, OrderFilled, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def _whole_fill(b: Book, order, price: str, amount=None):
    return b.send(OrderFilled(client_order_id=order.client_order_id,
                              exchange_id="x" + order.client_order_id,
                              filled=order.amount if amount is None else D(amount),
                              average=D(price), fee=D("0.01"), complete=True))


def _records(d, kind: str) -> list:
    return [j for j in d.journal if j.type == kind]


def _next_level(b: Book):
    """The long leg averaged once and its grown stop acknowledged: level 2 is placed, pending."""
    b.open_both()
    b.fill(b.state.orders_of(Side.LONG, GridKind.ADD)[0], "99")
    b.send(OrderCanceled(client_order_id=b.cancels()[0]))  # the old take-profit
    b.accept(b.placed(GridKind.TP, Side.LONG)[0])
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[-1]
    b.accept(stop)
    (level,) = b.placed(GridKind.ADD, Side.LONG)
    return level


def test_a_level_filled_on_its_first_report_is_journaled_as_placed_before_its_fill():
    b = Book()
    level = _next_level(b)
    d = _whole_fill(b, level, "98")
    types = [j.type for j in d.journal]
    assert "LegAveraged" in types
    (placed,) = _records(d, "LevelPlaced")
    assert (placed.order, placed.level, placed.price, placed.amount, placed.position_id) == (
        level.client_order_id, 2, level.price, level.amount, level.position_id)
    assert types.index("LevelPlaced") < types.index("LegAveraged")
    assert b.state.long.contracts == D(7)


def test_a_level_filled_on_its_first_report_counts_the_level_failures_from_none():
    b = Book()
    level = _next_level(b)
    b.send(OrderFailed(client_order_id=level.client_order_id, error="margin"))
    assert b.state.long.level_failures == 1
    b.now = b.state.long.level_retry_at + 1
    b.send(PriceTicked(price=D("99.5")))
    (again,) = b.placed(GridKind.ADD, Side.LONG)
    _whole_fill(b, again, "98")
    assert b.state.long.level_failures == 0


def test_a_take_profit_filled_on_its_first_report_is_journaled_as_placed():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(b.state.orders_of(Side.LONG, GridKind.ADD)[0], "99")
    b.send(OrderCanceled(client_order_id=tp.client_order_id))
    (new_tp,) = b.placed(GridKind.TP, Side.LONG)
    d = _whole_fill(b, new_tp, str(new_tp.price))
    (placed,) = _records(d, "TakeProfitPlaced")
    assert (placed.order, placed.price, placed.amount) == (
        new_tp.client_order_id, new_tp.price, new_tp.amount)
    assert _records(d, "LegClosed")[0].reason == "take_profit"


def test_a_stop_filled_on_its_first_report_is_journaled_as_placed():
    b = Book()
    b.open_both()
    b.fill(b.state.orders_of(Side.LONG, GridKind.ADD)[0], "99")
    (new_stop,) = b.placed(GridKind.STOP, Side.LONG)
    d = _whole_fill(b, new_stop, "95", amount="3")  # reduce-only: the leg's 3 of its 7
    (placed,) = _records(d, "StopPlaced")  # ge.LegStopPlaced
    assert (placed.order, placed.stop_price, placed.amount) == (
        new_stop.client_order_id, new_stop.price, new_stop.amount)
    assert _records(d, "LegClosed")[0].reason == "stop_loss"
