"""What a symbol holds of max_open_positions is one definition (trading/exposure.py), read by
the running entry gate (the core's `exposure`) and by the start seed (storage/queries.py
`open_positions_of`, on a real SQLite file). Found by review: a hedge grid flagged for a
position it does not know (supervision.adopt_unknown_positions = false, a short opened by hand)
counted nothing in either, though the exchange held that position, so other symbols could open
past the cap; and the start seed left out a flat leg's live level order that the running count
had. Grid states come from production's decision loop (tests/trading/test_grid_core.py Book)."""

from __future__ import annotations

from decimal import Decimal as D

from actors.cores import as_core
from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository
from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, OrderFailed, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind, GridState
from trading.model import Side
from trading.reconcile import UNKNOWN_POSITION


def _flagged_with_no_leg_open() -> Book:
    """Both opening orders refused; a short opened by hand shows up: flagged, no leg of ours."""
    b = Book(adopt_unknown_positions=False)
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="rejected"))
    listed = {Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(2), entry_price=D(99))}
    found = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                              exchange_id="x", status="open", filled=D(0),
                                              average=None, fee=D(0))
             for o in b.state.orders if o.status.live}
    b.send(GridReconciled(positions=listed, orders=found, price=D(100)))
    assert b.state.quarantined and b.state.quarantine_reason == UNKNOWN_POSITION
    return b


def _held_at_start(tmp_path, b: Book) -> int:
    """Every decision of the book committed through the real repository to a SQLite file, then
    the start seed read back from it."""
    symbol = b.state.symbol
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        inc = repo.claim(symbol)
        before: GridState = GridState(symbol=symbol)
        for d in b.repo.decisions:
            repo.commit(symbol, inc, before, d, correlation_id="g", created_at=b.now,
                        store=HEDGE_GRID)
            before = d.state
        assert repo.load(symbol, store=HEDGE_GRID) == b.state
        return repo.read(queries.open_positions_of, [symbol], True).get(symbol, 0)
    finally:
        repo.close()


def test_a_grid_flagged_for_an_unknown_position_holds_a_slot_running_and_at_start(tmp_path):
    b = _flagged_with_no_leg_open()
    assert not b.state.long.is_open and not b.state.short.is_open
    live_opens = [o for o in b.state.orders if o.status.live
                  and o.kind in (GridKind.OPEN, GridKind.ADD)]
    running = as_core(b.core).exposure(b.state)
    assert running == min(2, 1 + len({o.leg for o in live_opens}))  # the unknown short counts
    assert running >= 1
    assert _held_at_start(tmp_path, b) == running


def test_the_start_seed_counts_what_the_running_gate_counts_for_a_grid_in_flight(tmp_path):
    b = Book()
    b.open_both("100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    b.fill(tp, str(tp.price))  # the long closes; its level's cancel is not confirmed yet
    running = as_core(b.core).exposure(b.state)
    assert running == 2  # the short, and the long's level that may still fill
    assert _held_at_start(tmp_path, b) == running
