"""Hedge grid on Bybit, whose executions carry no position side (exchange/port.py): the long
leg is closed on the exchange by no order of ours (a liquidation), and meanwhile a sell by
hand grew the short (an opening fill: Bybit's execPnl is 0 for it). The reconciliation took
every sell without a side as the gone long's exit: the sell by hand was booked to the long
position (an exit that never was, at its price) and the long was taken as closed by it even
where nothing else showed the long closed. A sell without a side that realized nothing, while
the venue lists the short larger than ours by at least it, is now that leg's opening fill.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py answering its trades as Bybit does."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from decimal import Decimal as D

from actors.messages import Reconcile
from exchange.records import Fee, PositionSide, VenueFill
from tests.actors.test_cancel_reports_fill import SYM, Venue, grid


@dataclass
class BybitLike(Venue):
    """Fills without a position side, as Bybit's /v5/execution/list gives them."""

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):
        return [dataclasses.replace(t, position_side=None) for t in self.trades]

    def by_hand(self, pside: PositionSide, side: str, qty: D, price: D, pnl: D) -> str:
        """A fill of no order of ours (a trade in the venue's UI, a liquidation)."""
        p = self.pos[pside]
        p.qty += qty if (side == "buy") == p.long else -qty
        trade = VenueFill(id=f"t{len(self.trades) + 1}", order_id="manual", client_order_id=None,
                          symbol=SYM, side=side, price=price, amount=qty,
                          fee=Fee(cost=D("0.01"), currency="USDT"), realized_pnl=pnl,
                          position_side=pside)
        self.trades.append(trade)
        return f"trade-{trade.id}"


def _fills_of(bot, position_id: str) -> list[str]:
    with sqlite3.connect(bot.tmp / "bot.sqlite") as c:
        rows = c.execute("SELECT client_order_id FROM fills WHERE position_id = ?",
                         (position_id,)).fetchall()
    return [r[0] for r in rows]


def test_a_sell_by_hand_that_grew_the_short_is_not_the_gone_longs_exit(tmp_path):
    venue = BybitLike()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        long_id = bot.loop.state.long.position_id
        assert bot.loop.state.long.contracts == D(1) and bot.loop.state.short.is_open
        manual = venue.by_hand(PositionSide.SHORT, "sell", D("0.5"), D(101), D(0))
        bust = venue.by_hand(PositionSide.LONG, "sell", D(1), D(90), D(-10))
        assert venue.pos[PositionSide.LONG].qty == 0

        bot.send(Reconcile(reason="periodic"))

        assert not bot.loop.state.long.is_open
        assert manual not in _fills_of(bot, long_id), "the short's opening fill booked as an exit"
        assert bust in _fills_of(bot, long_id)
        closed = bot.journal("LegClosed")
        assert len(closed) == 1 and '"realized_pnl": "-10"' in closed[0]
    finally:
        bot.repo.close()


def test_an_opening_sell_alone_does_not_close_the_long_in_the_books(tmp_path):
    venue = BybitLike()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        venue.by_hand(PositionSide.SHORT, "sell", D(1), D(101), D(0))
        venue.pos[PositionSide.LONG].qty = D(0)  # listed flat, nothing shows what closed it

        bot.send(Reconcile(reason="periodic"))

        assert bot.loop.state.long.is_open, "an opening sell taken as proof the long closed"
        assert bot.journal("LegClosed") == [] and bot.journal("LegCloseUnconfirmed")
    finally:
        bot.repo.close()
