"""A create our own rate budget refuses was never sent: it ends as a failed order at once, with
no lookup. Found by a soak against the Bybit emulator: every such refusal (entries and grid
levels, "would wait 2.1s > 2s") was logged "looking it up by client id" and treated as an
order that may have landed: 1,259 lookups in 8 minutes, and the symbol's next entry held for
the 60 s grace such an order gets. The production DecisionLoop and cores on the fake venue of
test_cancel_reports_fill.py, which refuses creates the way the budget does (before sending)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from actors.messages import ExternalSignal, Tick
from exchange.budget import BudgetRefused
from tests.actors.test_cancel_reports_fill import Venue, grid, one_way
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class RefusingVenue(Venue):
    refuse: bool = True
    lookups: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002, ANN001, ANN201
        p = params or {}
        if self.refuse and not p.get("reduceOnly") and not p.get("stopLossPrice"):
            self.refused.append(p["clientOrderId"])
            raise BudgetRefused("bybit v5/order/create: rate budget short for a entry call "
                                "(1 requests, would wait 2.1s > 2s)")
        return super().create_order(symbol, type, side, amount, price, params)

    def fetch_order(self, id, symbol, params=None):  # noqa: A002, ANN001, ANN201
        self.lookups.append((params or {}).get("clientOrderId"))
        return super().fetch_order(id, symbol, params)


def _failed(tmp_path) -> list[str]:
    with sqlite3.connect(tmp_path / "bot.sqlite") as c:
        return [r[0] for r in c.execute("SELECT data FROM events WHERE type = 'OrderFailed'")]


def test_a_refused_entry_is_not_looked_up_and_the_next_one_goes_out(tmp_path):
    venue = RefusingVenue()
    bot = one_way(tmp_path, venue)
    try:
        bot.tick("100")
        bot.send(ExternalSignal(side=Side.LONG, signal_id="first"))
        assert len(venue.refused) == 1
        assert venue.refused[0] not in venue.lookups  # nothing was sent: nothing to look up
        assert bot.loop.state.orders == () and bot.loop.state.position is None
        assert any(venue.refused[0] in row for row in _failed(tmp_path))
        venue.refuse = False
        bot.send(ExternalSignal(side=Side.LONG, signal_id="second"))  # 1 s later, not 60
        assert bot.loop.state.position is not None
    finally:
        bot.repo.close()


def test_refused_grid_opens_are_not_looked_up(tmp_path):
    venue = RefusingVenue()
    bot = grid(tmp_path, venue)  # starting, the grid opens both legs: both refused
    try:
        bot.tick("100")
        assert len(venue.refused) >= 2
        assert not set(venue.refused) & set(venue.lookups)
        assert not bot.loop.state.orders_of(Side.LONG, GridKind.ENTRY)
        venue.refuse = False
        bot.t += 60  # the grid's own retry wait, far below the 60 s grace of a doubtful order
        bot.tick("100")
        bot.tick("100")
        assert bot.loop.state.leg(Side.LONG).contracts > 0
    finally:
        bot.repo.close()
