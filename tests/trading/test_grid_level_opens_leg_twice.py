"""Hedge grid, sibling of the one-way core's `<id>-rest` (trading/lifecycle.py `_entry_filled`):
a level whose leg closed before its cancel landed opens a new leg there, named by the level's
client order id. When part of it did (its take-profit then closed that leg too) and its rest
fills as well before the cancel lands, that rest opens another leg: it was named by the same
id, so one position id named two legs, and the second's row (`positions` is keyed by the id)
overwrote the closed one's: the closed leg's take-profit P&L left the trades for good. The
rest's leg gets an id of its own, as the one-way core's entry rest does. Driven through
production's decision loop (tests/trading/test_grid_core.py `Book`), its commits written to a
real SQLite store by the grid's `StateStore` (storage/grid_store.py)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository
from tests.trading.test_grid_core import SYMBOL, Book
from trading.events import OrderFilled
from trading.grid.model import GridKind, GridState
from trading.model import Side


def _level_fills(b: Book, level, filled: str, complete: bool) -> None:
    b.send(OrderFilled(client_order_id=level.client_order_id, exchange_id="xa",
                       filled=D(filled), average=level.price, fee=D(0), complete=complete))


def _open_take_profit(b: Book):
    (tp,) = [o for o in b.state.orders_of(Side.LONG, GridKind.TP)
             if o.cancel_requested_at is None]
    b.accept(tp)
    return tp


def _store(decisions, path: Path) -> list:
    """Commit the loop's decisions, in order, to a real store; the symbol's position rows."""
    repo = Repository(path)
    try:
        incarnation = repo.claim(SYMBOL)
        before = GridState(symbol=SYMBOL)
        for d in decisions:
            repo.commit(SYMBOL, incarnation, before, d, correlation_id="c", created_at=1000.0,
                        store=HEDGE_GRID)
            before = d.state
        return repo.read(queries.positions, SYMBOL)
    finally:
        repo.close()


def test_a_levels_rest_that_opens_its_leg_again_is_a_position_of_its_own(tmp_path: Path):
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    (level,) = b.state.orders_of(Side.LONG, GridKind.ADD)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel goes out
    _level_fills(b, level, "1", complete=False)  # half of it filled before the cancel landed
    first = b.state.long.position_id
    tp2 = _open_take_profit(b)
    b.fill(tp2, str(tp2.price))  # that leg closes by its take-profit: +0.5 (99 -> 99.5)
    assert not b.state.long.is_open
    _level_fills(b, level, "2", complete=True)  # and the level's rest fills too
    second = b.state.long
    assert second.is_open and second.contracts == D(1)
    assert second.position_id != first, "one position id names two legs"
    rows = {r.position_id: r for r in _store(b.loop.repo.decisions, tmp_path / "bot.sqlite")}
    closed = rows[first]
    assert (closed.status, D(closed.realized_pnl)) == ("closed", D("0.5")), \
        "the closed leg's row was overwritten by the next leg's"
    assert rows[second.position_id].status == "open"
