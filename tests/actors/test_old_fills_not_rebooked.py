"""A position list that comes back empty while our position is open makes reconciliation look
for fills no order of ours explains. An earlier position's fills are ours and booked already:
they must never be booked again as this position's close. Found by a live soak against the
Binance emulator: a garbled positionRisk answer, then the trade list (asked from the position's
local open time; the venue's clock ran ahead) returned the previous position's close, which was
booked as the new position's close (P&L booked twice, the new position's stop cancelled: the
real position sat 69 s without a stop). Only the current position's orders counted as booked;
the hedge grid already asked the ledger about every id.

The production DecisionLoop and one-way core, a real SQLite repository, the fake venue of
test_cancel_reports_fill.py (its trades carry no timestamp, as a venue clock far ahead would
let them all through the time filter)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal as D

from actors.messages import ExternalSignal, OrderActivity, Reconcile
from tests.actors.test_cancel_reports_fill import Venue, one_way
from trading.model import OrderPurpose, Side


@dataclass
class GarbledVenue(Venue):
    garbled: bool = False

    def fetch_positions(self, symbols=None, params=None):  # noqa: ANN001, ANN201
        return [] if self.garbled else super().fetch_positions(symbols, params)


def test_an_earlier_positions_fills_are_not_booked_again(tmp_path):
    venue = GarbledVenue()
    bot = one_way(tmp_path, venue)
    try:
        bot.tick("100")
        bot.send(ExternalSignal(side=Side.LONG, signal_id="first"))
        first_stop = bot.loop.state.live_orders(OrderPurpose.STOP)[0].client_order_id
        venue.fill(first_stop)  # the first position ends at its stop
        bot.send(OrderActivity(client_order_ids=(first_stop,)))
        assert bot.loop.state.position is None
        bot.t += 100_000  # past any cooldown
        bot.tick("100")
        bot.send(ExternalSignal(side=Side.LONG, signal_id="second"))
        second = bot.loop.state.position
        assert second is not None
        stop = bot.loop.state.live_orders(OrderPurpose.STOP)[0].client_order_id
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            rows_before = c.execute("SELECT count(*) FROM fills").fetchone()[0]

        venue.garbled = True  # one empty answer while the position is open on the venue
        bot.send(Reconcile(reason="test"))

        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            rows_after = c.execute("SELECT count(*) FROM fills").fetchone()[0]
        assert rows_after == rows_before  # nothing of the first position booked again
        assert bot.loop.state.position is not None
        assert bot.loop.state.position.position_id == second.position_id
        assert stop in {o.client_order_id for o in bot.loop.state.orders}  # still protected
        assert venue.orders[stop].status == "open"
        venue.garbled = False
        bot.send(Reconcile(reason="test"))
        assert bot.loop.state.position is not None and bot.ledger() == bot.venue_fills()
    finally:
        bot.repo.close()
