"""A reported fill whose lookup tells no average price is reconciled at once, in the same
message (actors/loop.py `activity`): the reconciliation sees the venue flat where the books hold
a position, records the doubt (the report deferred, the close unconfirmed) and the heartbeat
looks again until a person is alerted. Found by a mutation audit: with that reconciliation gone
no test failed, and a stop that had closed the position on the venue left an open, "protected"
position in the books with no record, no look again and no alert until the next periodic
reconciliation (up to 300 s on a live venue).

The production DecisionLoop and one-way core, a real SQLite repository, the fake venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal as D

from actors.messages import ExternalSignal, OrderActivity, Timer
from exchange.records import VenueOrder
from tests.actors.test_cancel_reports_fill import Venue, one_way
from trading.model import OrderPurpose, Side


@dataclass
class AverageUntold(Venue):
    """Its order lookups of `untold` orders tell what filled but not at what average price."""

    untold: set[str] = field(default_factory=set)

    def fetch_order(self, id, symbol, params=None) -> VenueOrder:
        found = super().fetch_order(id, symbol, params)
        if found.client_order_id in self.untold:
            return dataclasses.replace(found, average=None)
        return found


def test_a_stop_fill_reported_without_its_price_is_reconciled_and_alerted(tmp_path):
    venue = AverageUntold()
    bot = one_way(tmp_path, venue)
    try:
        bot.tick("100")
        bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
        (stop,) = bot.loop.state.live_orders(OrderPurpose.STOP)
        venue.untold.add(stop.client_order_id)
        venue.mark = D(98)
        venue.fill(stop.client_order_id)  # the stop fires at its trigger: the venue is flat
        assert venue.fetch_positions() == []

        bot.send(OrderActivity(client_order_ids=(stop.client_order_id,)))

        assert bot.journal("OrderReportDeferred") and bot.journal("CloseUnconfirmed")
        assert bot.loop.state.unconfirmed is not None  # the heartbeat looks again
        for _ in range(60):  # the supervisor's heartbeat, 4 s apart
            if bot.journal("CloseConfirmationAlerted"):
                break
            bot.send(Timer())
            bot.t += 3
        assert bot.journal("CloseConfirmationAlerted"), "a person is told the books disagree"
    finally:
        bot.repo.close()
