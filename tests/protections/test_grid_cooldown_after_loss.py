"""`risk.cooldown_after_loss_s` holds for the hedge grid too (defect: the grid ignored it, a
stopped-out side reopened after its fixed 10 s whatever the config said, while the one-way core
waited the configured time after a losing close). A config that does not set it keeps the 10 s.

The grid core as the runtime builds it from a config file (runtime/wiring.py), driven through
production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.trading.test_grid_core import Book, core_from_config
from trading.events import OrderCanceled, PriceTicked
from trading.grid.model import GridKind
from trading.model import Side


def _stopped_out_long(book: Book) -> float:
    """Open both legs, fill the long's stop; the time of the stop-out."""
    book.open_both()
    stop = book.state.orders_of(Side.LONG, GridKind.STOP)[0]
    book.fill(stop, "95")
    assert not book.state.long.is_open and "LegClosed" in book.journal
    stopped = book.now
    for _ in range(20):  # the exchange confirms every cancel (the reopen waits for them)
        asked = [o for o in book.state.orders if o.cancel_requested_at is not None]
        if not asked:
            break
        for order in asked:
            book.send(OrderCanceled(client_order_id=order.client_order_id))
    return stopped


def _reopens_at(book: Book, after: float, step: float) -> float:
    """Fresh prices every `step` seconds from `after` until the long leg's OPEN is placed."""
    for _ in range(10_000):
        book.now = after
        book.send(PriceTicked(price=D(100)))
        if book.placed(GridKind.OPEN, Side.LONG):
            return book.now
        after += step
    raise AssertionError("the long leg never reopened")


def test_a_stopped_out_grid_leg_waits_the_configured_cooldown(tmp_path: Path):
    book = Book(core_from_config(tmp_path, "cooldown_after_loss_s = 600"))
    stopped = _stopped_out_long(book)
    assert book.state.next_open_at >= stopped + 600
    assert _reopens_at(book, stopped + 1, 5) >= stopped + 600


def test_without_the_key_the_grid_keeps_its_ten_seconds(tmp_path: Path):
    book = Book(core_from_config(tmp_path, ""))
    stopped = _stopped_out_long(book)
    assert _reopens_at(book, stopped + 1, 5) < stopped + 30
