"""Hedge grid: one of our acknowledged orders that the venue's order lookup does not find (its
history lags a fill: Bybit lists open orders only and its history comes later) ends at the
second miss in a row, or at once when the exchange's trades show it done (trading/
order_evidence.py `done_in_trades`), and those trades book it. The grid never read the trades
for it: it read them only for a leg listed flat, and left out every live order's trades, so a
level that filled while its lookup missed twice ended as cancelled, the leg followed the
venue's larger size (LegAdjusted) and the level's fill and fee never reached the ledger.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

from actors.messages import Reconcile
from exchange import errors
from tests.actors.test_cancel_reports_fill import Venue, grid
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class LaggingVenue(Venue):
    unlisted: set[str] = field(default_factory=set)  # lookups of these find nothing yet

    def fetch_order(self, id, symbol, params=None):  # noqa: ANN001, ANN201
        if (params or {}).get("clientOrderId") in self.unlisted:
            raise errors.OrderNotFound("not in the venue's history yet")
        return super().fetch_order(id, symbol, params)


def test_a_filled_level_its_lookup_misses_is_booked_from_the_trades(tmp_path):
    venue = LaggingVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        level = bot.loop.state.orders_of(Side.LONG, GridKind.ADD)[0]
        venue.mark = D(99)
        venue.fill(level.client_order_id)  # filled on the venue, not reported
        venue.unlisted.add(level.client_order_id)
        bot.send(Reconcile(reason="test"))
        bot.send(Reconcile(reason="test"))  # a second miss in a row would end it

        assert bot.rows(level.client_order_id) == 1, "the level's fill never reached the ledger"
        assert bot.journal("LegAdjusted") == []
        leg = bot.loop.state.long
        assert leg.contracts == D(2) and leg.level == 1
        assert leg.entry_price == D("99.5")
        assert bot.ledger()[level.client_order_id] == bot.venue_fills()[level.client_order_id]
    finally:
        bot.repo.close()
