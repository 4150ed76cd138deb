"""A fill the exchange reports (a stream's order update, the REST feed's trades) is looked up at
protective priority, as is the lookup after a failed create or a cancel: the answer decides a
protective action (a grid level that filled needs its leg's stop resized, a stop that filled
ends the position). Found by a live soak against the Bybit emulator: run at the default
(reconciliation) priority, those lookups queued behind the periodic reconciliations' reads of
the same endpoint for up to ~30 s, while a grid leg rested on its old, smaller stop.

The production DecisionLoop and cores on the fake venue of test_cancel_reports_fill.py, which
records the budget priority each lookup runs at (exchange/budget.py `current_priority`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from actors.messages import OrderActivity
from exchange.budget import Priority, current_priority
from tests.actors.test_cancel_reports_fill import (
    Venue,
    grid,
    grid_partly_filled_level,
    one_way,
    one_way_partly_filled_stop,
)


@dataclass
class RecordingVenue(Venue):
    priorities: list[tuple[str, Priority]] = field(default_factory=list)

    def fetch_order(self, id, symbol, params=None):  # noqa: A002, ANN001, ANN201
        self.priorities.append(((params or {}).get("clientOrderId", id), current_priority()))
        return super().fetch_order(id, symbol, params)


@pytest.mark.parametrize("style", ["one_way", "grid"])
def test_a_reported_fill_is_looked_up_at_protective_priority(tmp_path, style):
    venue = RecordingVenue()
    if style == "one_way":
        bot = one_way(tmp_path, venue)
        cid = one_way_partly_filled_stop(bot)  # 0.4 of the stop filled, not reported yet
    else:
        bot = grid(tmp_path, venue)
        cid = grid_partly_filled_level(bot)  # 0.4 of the long's first level filled
    try:
        venue.priorities.clear()
        bot.send(OrderActivity(client_order_ids=(cid,)))
        assert (cid, Priority.PROTECTIVE) in venue.priorities
        assert all(p is Priority.PROTECTIVE for c, p in venue.priorities if c == cid)
        order = next(o for o in bot.loop.state.orders if o.client_order_id == cid)
        assert order.filled == D("0.4")  # the lookup's answer was applied
    finally:
        bot.repo.close()
