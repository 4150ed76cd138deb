"""Hedge grid: an order of ours the venue no longer lists, whose trades make up only part of its
amount (a take-profit filled in part, then gone; a reduce-only stop the venue cut down to the
position), has those trades booked: its fill, fee and realized P&L reach the ledger and the leg,
as the one-way core books the unapplied part of such an order (actors/exchange_snapshot.py).

Found by review: the grid's snapshot answered only orders whose trades made up their whole
amount; any other unlisted order ended as cancelled at its second miss, and the leg only
followed the venue's size (LegAdjusted): the part that filled never reached the ledger, its
P&L and fee lost (INCIDENTS.md rule 2: P&L is booked from the confirmed fill).

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

from decimal import Decimal as D

from actors.messages import Reconcile
from tests.actors.test_cancel_reports_fill import grid
from tests.actors.test_report_batch_lookup_fails import TimedVenue
from trading.grid.model import GridKind
from trading.model import Side


def test_an_unlisted_take_profit_filled_in_part_is_booked_from_its_trades(tmp_path):
    venue = TimedVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        short = bot.loop.state.short
        assert short.contracts == D(1)
        tp = bot.loop.state.orders_of(Side.SHORT, GridKind.TP)[0]
        venue.fill(tp.client_order_id, D("0.4"))  # 0.4 at 99.5, then the venue drops it
        del venue.orders[tp.client_order_id]
        for _ in range(3):
            bot.send(Reconcile(reason="periodic"))

        assert bot.loop.state.order(tp.client_order_id) is None  # it ended
        assert bot.loop.state.short.contracts == D("0.6")
        amount, fee, pnl = bot.ledger()[tp.client_order_id]
        assert amount == D("0.4")
        assert pnl == D("0.2")  # (100 - 99.5) x 0.4, short
        assert fee == D("0.4") * D("99.5") * D("0.0005")
        assert bot.loop.state.short.realized_pnl == D("0.2")
    finally:
        bot.repo.close()
