"""Hedge grid on Bybit, whose executions carry no position side (exchange/port.py): a buy by
hand into the long leg and a sell by hand of it between two looks. Where the venue names the
side (Binance, paper) both fills are the long's and both are booked
(tests/actors/test_grid_reduced_by_hand_booked.py). Without the side, the snapshot
(actors/grid_snapshot.py `_leg_of`) took a buy only as the short's exit or as the entry of a
leg listed larger: with the long listed smaller or flat the buy was dropped (its fee never
booked, the long's entry left at the old price, the sell booked for the difference alone),
and with the long listed larger the sell was dropped (its fee and P&L lost). A fill without a
side goes to the leg that changed on its side: an exit (it realized P&L, or the other leg
cannot have opened by it) or an entry (an opening fill realizes nothing on Bybit).

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py answering its trades as Bybit does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal as D

from actors.messages import Reconcile
from tests.actors.test_cancel_reports_fill import grid
from tests.actors.test_grid_reduced_by_hand_booked import HandVenue


@dataclass
class BybitHands(HandVenue):
    """Hand fills without a position side, as Bybit's /v5/execution/list gives them."""

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):
        return [dataclasses.replace(t, position_side=None) for t in self.trades]


def _look_twice(bot) -> None:
    bot.send(Reconcile(reason="periodic"))
    bot.send(Reconcile(reason="periodic"))  # a second look, past any resize wait


def test_a_buy_and_a_larger_sell_by_hand_without_sides_are_both_booked(tmp_path):
    """Long 1 at 100; bought 1 at 102, sold 1.5 at 103 (P&L 3 on an average of 101): listed at
    0.5. Before: the buy was dropped, the sell booked for 0.5 of its 1.5 (P&L 1)."""
    venue = BybitHands()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"), side_known=False)
        sold = venue.reduce_long_by_hand(D("1.5"), D("103"), side_known=False)
        _look_twice(bot)
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("0.5")
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D("1.5"), D("0.05"), D(3)), bot.ledger()
        assert leg.entry_price == D(101)
        assert bot.loop.state.short.contracts == D(1), "a fill of the long booked to the short"
    finally:
        bot.repo.close()


def test_a_leg_bought_into_and_closed_by_hand_without_sides_books_both_fills(tmp_path):
    """Long 1 at 100; bought 1 at 102, sold 2 at 103 (P&L 4): listed flat. Before: the buy
    was dropped (its fee lost) and the sell booked whole on a leg of 1."""
    venue = BybitHands()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"), side_known=False)
        sold = venue.reduce_long_by_hand(D(2), D("103"), side_known=False)
        _look_twice(bot)
        assert not bot.loop.state.long.is_open
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D(2), D("0.05"), D(4)), bot.ledger()
    finally:
        bot.repo.close()


def test_a_buy_and_a_smaller_sell_by_hand_without_sides_are_both_booked(tmp_path):
    """Long 1 at 100; bought 1 at 102, sold 0.5 at 103 (P&L 1): listed larger, at 1.5.
    Before: the sell was dropped (its fee and P&L lost) and the buy booked for 0.5 of its 1."""
    venue = BybitHands()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"), side_known=False)
        sold = venue.reduce_long_by_hand(D("0.5"), D("103"), side_known=False)
        _look_twice(bot)
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("1.5")
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D("0.5"), D("0.05"), D(1)), bot.ledger()
        assert leg.entry_price == D(101) and leg.realized_pnl == D(1)
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(bought) == 1 and bot.rows(sold) == 1, "a hand fill was booked again"
    finally:
        bot.repo.close()
