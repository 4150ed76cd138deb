"""One order report names several of our orders in the order they filled (actors/trade_ids.py
`FillBatch`). When the lookup of one of them fails (a timeout; Bybit's history lagging a fill),
the rest must not be applied ahead of it: the reconciliation that follows books every fill in
the order it happened (trading/evidence.py `in_fill_order`).

Found by review: a fast market filled a hedge-grid long's level (1 at 99), then its stop (2 at
95, the leg and the level). The level's lookup failed, the stop's was applied first: its fill
exceeded the leg and closed it; the reconciliation then found the level filled and opened a new
long of 1 that the venue never held, which no fill could ever close again (LegCloseUnconfirmed
on every reconciliation, its stop and take-profit refused as reduce-only on a flat position).

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

from actors.messages import OrderActivity
from exchange.records import PositionSide, VenueOrder
from tests.actors.test_cancel_reports_fill import Bot, Rec, Venue, grid
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class TimedVenue(Venue):
    """Tells when each order last filled, as the venues do (ccxt lastTradeTimestamp)."""

    filled_at: dict[str, int] = field(default_factory=dict)
    clock: Any = field(default_factory=lambda: itertools.count(1_000))

    def fill(self, cid: str, qty: D | None = None, price: D | None = None) -> None:
        super().fill(cid, qty, price)
        self.filled_at[cid] = next(self.clock)

    def _view(self, o: Rec) -> VenueOrder:
        return dataclasses.replace(super()._view(o), last_fill_at=self.filled_at.get(o.cid))


@contextmanager
def level_then_stop_filled(tmp_path) -> Iterator[tuple[Bot, TimedVenue, str, str]]:
    """Both grid legs open at 100; a fast market fills the long's first level (1 at 99), then
    its stop (2 at 95: the leg and the level), neither reported yet. Yields the bot, the venue
    and the level's and the stop's client ids; the repository closed after."""
    venue = TimedVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        state = bot.loop.state
        level = state.orders_of(Side.LONG, GridKind.ADD)[0].client_order_id
        stop = state.orders_of(Side.LONG, GridKind.STOP)[0]
        assert stop.amount == D(2)  # the leg and its level
        venue.mark = D(99)
        venue.fill(level)
        venue.mark = D(95)
        venue.fill(stop.client_order_id)
        assert venue.pos[PositionSide.LONG].qty == 0
        yield bot, venue, level, stop.client_order_id
    finally:
        bot.repo.close()


def test_a_batch_whose_first_lookup_fails_is_booked_in_fill_order(tmp_path):
    with level_then_stop_filled(tmp_path) as (bot, venue, level, stop):
        venue.lookup_fails.add(level)

        bot.send(OrderActivity(client_order_ids=(level, stop)))

        assert not bot.loop.state.long.is_open, "a long the venue does not hold"
        assert bot.journal("FillExceedsLeg") == []
        assert bot.ledger() == bot.venue_fills()
