"""The status view of a hedge-grid symbol tells when a flat side may open again
(`cooldown_until`, as the one-way view tells its cooldown after a loss). Found by review: the
grid's view always said 0.0, so the status dump showed no cooldown for a side stopped out with
`risk.cooldown_after_loss_s = 3600`: a symbol flat for an hour with nothing saying why. The
grid core driven through production's decision loop (tests/trading/test_grid_core.py `Book`),
its state rendered by the grid's view."""

from __future__ import annotations

from actors.grid_view import grid_view
from tests.trading.test_grid_core import Book
from trading.grid.model import GridKind
from trading.model import Side


def test_a_stopped_out_side_shows_its_cooldown_in_the_status_view():
    b = Book(reopen_after_stop_s=3600)
    b.open_both("100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.fill(stop, "95")
    assert not b.state.long.is_open
    view = grid_view(b.state, last_tick_at=b.now, reconciled=True)
    assert view.cooldown_until >= b.now + 3600 - 1
