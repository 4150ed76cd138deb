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
from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderStatus, Side


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


def test_trades_of_an_unacknowledged_order_are_booked_not_taken_as_never_sent():
    """An order whose send we never saw acknowledged (its answer lost) and whose lookup finds
    nothing, while its trades show a part filled: it reached the exchange. Booked from those
    trades, never failed as 'never reached the exchange' with its fill left out."""
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    assert tp.status is OrderStatus.PENDING
    traded = ExchangeOrder(client_order_id=tp.client_order_id, exchange_id=None, status="open",
                           filled=D("0.4"), average=tp.price, fee=D("0.02"),
                           realized_pnl=D("0.2"))
    b.send(GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D("0.6"),
                                               entry_price=D(100))},
        price=D(100), unlisted_traded={tp.client_order_id: traded}))

    booked = [f for f in b.ledger if f.client_order_id == tp.client_order_id]
    assert [(f.amount, f.realized_pnl) for f in booked] == [(D("0.4"), D("0.2"))]
    assert b.state.long.contracts == D("0.6")


def test_an_unlisted_order_whose_trades_make_up_only_part_is_not_taken_as_done(tmp_path):
    """One lookup misses a take-profit filled in part (the venue's order read lagging): its
    trades are booked, but the order is not done on them (they make up only part of its
    amount): it stays live in the books, so the rest of it, still resting, is still ours.
    Found by a mutation audit: taking any unlisted order with trades as done survived every
    test naming actors/grid_snapshot.py."""
    venue = TimedVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        tp = bot.loop.state.orders_of(Side.SHORT, GridKind.TP)[0]
        venue.fill(tp.client_order_id, D("0.4"))
        resting = venue.orders.pop(tp.client_order_id)  # one lookup misses it
        bot.send(Reconcile(reason="periodic"))
        venue.orders[tp.client_order_id] = resting
        kept = bot.loop.state.order(tp.client_order_id)
        assert kept is not None and kept.status is OrderStatus.OPEN
        assert bot.ledger()[tp.client_order_id][0] == D("0.4")  # its part booked meanwhile
    finally:
        bot.repo.close()
