"""Hedge grid: one of our orders its lookup does not find, booked from the venue's trades
(actors/grid_snapshot.py `_from_trades`), whose trades tell their fee in another asset than
the settle currency (what the gateway passes on where it cannot convert it). The snapshot
summed the trades' fees as they came, and told them known: 0.0004 BNB was booked as 0.0004 USDT
and never looked at again. As a hand fill's (exchange_snapshot.settled_fee): such a fee is
unknown, the fill is booked without it, and the order is looked at again for its fee.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

from actors.messages import Reconcile
from exchange.records import Fee
from tests.actors.test_cancel_reports_fill import grid
from tests.actors.test_grid_unlisted_order_traded import LaggingVenue
from trading.grid.model import GridKind
from trading.model import Side


def test_a_level_booked_from_trades_with_a_fee_in_bnb_never_books_it_as_usdt(tmp_path):
    venue = LaggingVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        level = bot.loop.state.orders_of(Side.LONG, GridKind.ADD)[0]
        cid = level.client_order_id
        venue.mark = D(99)
        venue.fill(cid)  # filled on the venue, not reported
        venue.trades[-1] = dataclasses.replace(
            venue.trades[-1], fee=Fee(cost=D("0.0004"), currency="BNB"))
        venue.unlisted.add(cid)
        bot.send(Reconcile(reason="test"))
        bot.send(Reconcile(reason="test"))

        assert bot.loop.state.long.contracts == D(2)
        amount, fee, _ = bot.ledger()[cid]
        assert (amount, fee) == (D(1), D(0)), "a fee in BNB booked as USDT"
        assert [o.order.client_order_id for o in bot.loop.state.fees_owed] == [cid]
        venue.unlisted.discard(cid)  # its lookup tells the fee, in USDT
        bot.send(Reconcile(reason="test"))
        assert bot.ledger()[cid][1] == venue.orders[cid].fee, bot.ledger()
        assert bot.loop.state.fees_owed == ()
    finally:
        bot.repo.close()
