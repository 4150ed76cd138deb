"""One-way: a stop whose first report is already its whole fill (no acknowledgement before it:
a fast venue, or a fill while the bot was down) was never journaled as placed: `StopPlaced` was
recorded only on the acknowledgement, so the journal showed the position closed by a stop it
never saw placed (the hedge grid's levels, take-profits and stops had the same gap:
tests/trading/test_grid_first_report_a_fill.py). Pure core, driven through `decide`."""

from __future__ import annotations

from tests.trading.test_partial_fills import Core
from trading.model import OrderPurpose, Phase


def test_a_stop_filled_on_its_first_report_is_journaled_as_placed_before_the_close():
    c = Core()
    entry = c.entry()
    c.report(entry, "1", complete=True)
    (stop,) = c.placed(OrderPurpose.STOP)
    d = c.report(stop, "1", complete=True, price="99")
    types = [j.type for j in d.journal]
    placed = [j for j in d.journal if j.type == "StopPlaced"]
    assert [(j.order, j.stop_price) for j in placed] == [(stop.client_order_id, stop.stop_price)]
    assert types.index("StopPlaced") < types.index("PositionClosed")
    assert c.state.phase is Phase.FLAT
