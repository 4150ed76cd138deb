"""Hedge grid, sibling of the one-way core's resized position (trading/unbooked_fills.py
`resized`): part of a leg closed by hand on the venue (or a partial liquidation), or a buy by
hand into it. The one-way core books the fills that explain a position of another size, exits
with their P&L and fee, entries with their fee into the average; the grid only followed the
venue's size (`LegAdjusted`), so the part's realized P&L and fee never reached the ledger (the
daily loss limit, the drawdown and the final P&L read it), nor the leg's own P&L.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from actors.messages import Reconcile
from exchange.records import Fee, PositionSide, VenueFill
from tests.actors.test_cancel_reports_fill import SYM, Venue, grid


@dataclass
class HandVenue(Venue):
    def reduce_long_by_hand(self, qty: D, price: D, *, side_known: bool = True) -> str:
        p = self.pos[PositionSide.LONG]
        realized = (price - p.entry) * qty
        p.qty -= qty
        trade_id = str(len(self.trades) + 1)
        self.trades.append(VenueFill(
            id=trade_id, order_id="manual", client_order_id=None, symbol=SYM,
            side="sell", price=price, amount=qty, fee=Fee(cost=D("0.05"), currency="USDT"),
            realized_pnl=realized,
            position_side=PositionSide.LONG if side_known else None))
        return f"trade-{trade_id}"

    def grow_long_by_hand(self, qty: D, price: D, *, side_known: bool = True) -> str:
        p = self.pos[PositionSide.LONG]
        p.entry = (p.entry * p.qty + price * qty) / (p.qty + qty)
        p.qty += qty
        trade_id = str(len(self.trades) + 1)
        self.trades.append(VenueFill(
            id=trade_id, order_id="manual", client_order_id=None, symbol=SYM,
            side="buy", price=price, amount=qty, fee=Fee(cost=D("0.03"), currency="USDT"),
            realized_pnl=D(0), position_side=PositionSide.LONG if side_known else None))
        return f"trade-{trade_id}"


def _run(tmp_path, side_known: bool) -> None:
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D(1)

        name = venue.reduce_long_by_hand(D("0.4"), D("101"), side_known=side_known)
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))  # a second look, past any resize wait

        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("0.6")
        assert bot.ledger().get(name) == (D("0.4"), D("0.05"), D("0.4")), \
            "the part closed by hand was not booked"
        assert leg.realized_pnl == D("0.4")
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(name) == 1, "the hand fill was booked again"
        assert bot.loop.state.long.contracts == D("0.6")
    finally:
        bot.repo.close()


def test_part_of_a_leg_closed_by_hand_is_booked_with_its_pnl_and_fee(tmp_path):
    _run(tmp_path, side_known=True)


def test_a_hand_fill_without_a_position_side_is_booked_too(tmp_path):
    _run(tmp_path, side_known=False)


def _grown(tmp_path, side_known: bool) -> None:
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        fees = bot.loop.state.long.fees
        name = venue.grow_long_by_hand(D("0.5"), D("102"), side_known=side_known)
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))

        leg = bot.loop.state.long
        assert leg.contracts == D("1.5")
        assert bot.ledger().get(name) == (D("0.5"), D("0.03"), D(0)), \
            "the buy by hand was not booked"
        assert leg.fees == fees + D("0.03")
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(name) == 1, "the hand fill was booked again"
        assert bot.loop.state.long.contracts == D("1.5")
    finally:
        bot.repo.close()


def test_a_buy_by_hand_into_a_leg_is_booked_with_its_fee(tmp_path):
    _grown(tmp_path, side_known=True)


def test_a_buy_by_hand_without_a_position_side_is_booked_too(tmp_path):
    _grown(tmp_path, side_known=False)


def test_a_hand_close_larger_than_the_difference_is_booked_with_its_whole_fee(tmp_path):
    """The venue held more of the leg than we did, by a part no trade in its history shows,
    when a sell by hand took off more than the difference. Found by review: the fill was booked
    for the difference with that share of its fee; booked once (its id is then known), the
    rest of the fee the venue charged never reached the ledger. P&L only for the part taken."""
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        venue.pos[PositionSide.LONG].qty += D("0.5")  # no trade shows it
        name = venue.reduce_long_by_hand(D("0.9"), D("101"))  # 1.5 -> 0.6; ours 1 -> 0.6
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))  # a second look, past any resize wait
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("0.6")
        assert bot.ledger().get(name) == (D("0.4"), D("0.05"), D("0.4")), bot.ledger()
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(name) == 1, "the hand fill was booked again"
    finally:
        bot.repo.close()


def test_a_leg_grown_and_closed_by_hand_while_away_books_both_fills(tmp_path):
    """A buy by hand into the long leg, then a sell by hand of all of it, before the next
    look: the venue lists the leg flat. Found by review: every fill of the leg was booked as a
    reducing one, so the buy closed our leg (booked as an exit) and the sell that really closed
    it, its fee and P&L, never reached the ledger."""
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"))
        sold = venue.reduce_long_by_hand(D(2), D("103"))  # 2 at an average of 101: P&L 4
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))
        assert not bot.loop.state.long.is_open
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D(2), D("0.05"), D(4)), bot.ledger()
    finally:
        bot.repo.close()


def test_a_buy_and_a_larger_sell_by_hand_on_a_leg_left_open_are_both_booked(tmp_path):
    """Between two looks a buy by hand into the long leg (1 at 102) and a larger sell by hand
    (1.5 at 103): the venue lists the leg at 0.5, open. The grid twin of the one-way core's
    `resized`: only the side of the difference was booked, up to it, so the buy never reached
    the ledger (its fee lost, the entry price left at 100 instead of 101) and the sell was
    booked for a third of its size (P&L 1 where the venue realized 3)."""
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        fees = bot.loop.state.long.fees
        bought = venue.grow_long_by_hand(D(1), D("102"))  # 2 at an average of 101
        sold = venue.reduce_long_by_hand(D("1.5"), D("103"))  # P&L 3
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))  # a second look, past any resize wait
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("0.5")
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D("1.5"), D("0.05"), D(3)), bot.ledger()
        assert leg.entry_price == D(101)
        assert leg.realized_pnl == D(3) and leg.fees == fees + D("0.08")
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(bought) == 1 and bot.rows(sold) == 1, "a hand fill was booked again"
    finally:
        bot.repo.close()


def test_a_leg_closed_then_bought_and_sold_again_by_hand_while_away_books_every_fill(tmp_path):
    """While the bot was away the long leg was sold by hand (all of it), then bought and sold
    again by hand: the venue lists it flat. Found by review: the booking stopped where the leg
    was flat, so the round trip after it (its two fees, the second sell's P&L) never reached
    the ledger; the one-way core books such fills into the position, in the venue's order."""
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        closed = venue.reduce_long_by_hand(D(1), D("101"))
        again = venue.grow_long_by_hand(D("0.5"), D("102"))
        out = venue.reduce_long_by_hand(D("0.5"), D("104"))  # P&L 1
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))
        assert not bot.loop.state.long.is_open
        ledger = bot.ledger()
        assert ledger.get(closed) == (D(1), D("0.05"), D(1)), ledger
        assert ledger.get(again) == (D("0.5"), D("0.03"), D(0)), ledger
        assert ledger.get(out) == (D("0.5"), D("0.05"), D("1.0")), ledger
        bot.send(Reconcile(reason="periodic"))
        assert [bot.rows(n) for n in (closed, again, out)] == [1, 1, 1]
    finally:
        bot.repo.close()


def test_a_buy_and_a_smaller_sell_by_hand_on_a_leg_left_larger_are_both_booked(tmp_path):
    """Between two looks a buy by hand into the long leg (1 at 102) and a smaller sell by hand
    (0.5 at 103): the venue lists the leg larger, at 1.5. Found by review: for a leg listed
    larger the snapshot read only its entry fills, so the sell never reached the ledger (its
    fee and P&L 1 lost) and the buy was booked for the difference alone (0.5 of its 1)."""
    venue = HandVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"))  # 2 at an average of 101
        sold = venue.reduce_long_by_hand(D("0.5"), D("103"))  # P&L 1
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("1.5")
        assert bot.ledger().get(bought) == (D(1), D("0.03"), D(0)), bot.ledger()
        assert bot.ledger().get(sold) == (D("0.5"), D("0.05"), D(1)), bot.ledger()
        assert leg.entry_price == D(101) and leg.realized_pnl == D(1)
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(bought) == 1 and bot.rows(sold) == 1, "a hand fill was booked again"
    finally:
        bot.repo.close()
