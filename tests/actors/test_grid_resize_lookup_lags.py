"""Hedge grid, the decision loop's side of tests/trading/test_grid_resize_lookup_lags.py: a
level fills, and a reconciliation reads the venue's position list (the leg with the level) while
the level's own lookup still shows it resting, nothing filled (the order lookup lags the
position list). The leg followed the list at once, and the level's report then added its fill
again: the books held a leg larger than the venue's until a later reconciliation shrank it.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py with a lookup that lags."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

from actors.messages import OrderActivity, Reconcile
from exchange.records import PositionSide, VenueOrder
from tests.actors.test_cancel_reports_fill import Venue, grid
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class LaggingVenue(Venue):
    """`lag(cid)`: the order's lookup keeps answering what it was then, until `catch_up`."""

    stale: dict[str, VenueOrder] = field(default_factory=dict)

    def lag(self, cid: str) -> None:
        self.stale[cid] = self._view(self.orders[cid])

    def catch_up(self) -> None:
        self.stale.clear()

    def fetch_order(self, id, symbol, params=None):
        cid = (params or {}).get("clientOrderId")
        return self.stale.get(cid) or super().fetch_order(id, symbol, params)


def test_a_level_fill_listed_before_its_lookup_grows_the_leg_once(tmp_path):
    venue = LaggingVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        level = bot.loop.state.orders_of(Side.LONG, GridKind.ADD)[0].client_order_id
        venue.lag(level)
        venue.mark = D(99)
        venue.fill(level)
        assert venue.pos[PositionSide.LONG].qty == D(2)

        bot.send(Reconcile(reason="periodic"))  # the list shows 2; the level's lookup: resting
        venue.catch_up()
        bot.send(OrderActivity(client_order_ids=(level,)))  # the level's own report

        assert bot.loop.state.long.contracts == D(2), "the level's fill was added twice"
        bot.send(Reconcile(reason="periodic"))
        assert bot.loop.state.long.contracts == D(2)
        assert bot.journal("LegAdjusted") == []
        assert bot.ledger() == bot.venue_fills()
    finally:
        bot.repo.close()
