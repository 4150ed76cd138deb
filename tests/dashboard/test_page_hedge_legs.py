"""A hedge grid's two legs on the page: each row shows that leg's own unrealized P&L (real
dashboard server on 127.0.0.1 reading a status file, headless chromium).

Found by review: the open-positions table put the position's combined figure (long + short,
actors/grid_view.py) on both leg rows, so a long at +20 and a short at -5 read +15 and +15:
30 USDT on the page for 15 in the status, and neither leg's own result anywhere. Nor does a leg
row offer "close", which the server refuses for a hedge grid."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from actors.grid_view import grid_view
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, status_page
from trading.grid.model import GridState, Leg
from trading.primitives import Side

pytestmark = pytest.mark.slow
SYMBOL = "ETH/USDT:USDT"


def hedge_actor() -> dict:
    """The actor entry of a hedge grid with both legs open, from the grid's own view."""
    state = GridState(
        symbol=SYMBOL, last_price=Decimal("110"),
        long=Leg(side=Side.LONG, position_id="L1", contracts=Decimal("2"),
                 entry_price=Decimal("100"), stop_price=Decimal("80")),
        short=Leg(side=Side.SHORT, position_id="S1", contracts=Decimal("1"),
                  entry_price=Decimal("105"), stop_price=Decimal("130")))
    view = grid_view(state, time.time(), True)
    assert view.position is not None and view.position["unrealized_pnl"] == "15.0000"
    return {**actor(SYMBOL), "phase": view.phase, "position": view.position,
            "stop_price": view.stop_price, "protected": view.protected, "trailing": None}


def test_each_hedge_leg_row_shows_its_own_unrealized_pnl(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    health = {**HEALTHY, "open_positions": 2, "protected_positions": 0, "ts_coverage": 0.0}
    with status_page(tmp_path, chromium, actors=[hedge_actor()], health=health) as page:
        rows = page.locator("tr.position")
        expect(rows).to_have_count(2, timeout=10_000)
        cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
                 for i in range(2)]
        # no close button on a leg: the server refuses a hedge grid's close with 400 (found by
        # review: the page offered it on every leg row)
        assert rows.locator("button").count() == 0
    by_side = {row[1]: row for row in cells}
    assert by_side["long 2"][4] == "20.0000"
    assert by_side["short 1"][4] == "-5.0000"
    assert by_side["long 2"][2] == "80.0000" and by_side["short 1"][2] == "130.0000"
