"""Hedge grid, sibling of test_old_fills_not_rebooked.py: a leg listed flat while open in our
books makes reconciliation look for fills no order of ours explains, in the trades since the leg
opened (less a minute of slack for the venue's clock). A fill that carries no client order id
(a close by hand, a liquidation) was booked under the name "external", which the ledger check
can never recognise: an earlier leg's such fill, inside that window, was booked again as the new
leg's close (P&L and fee twice), and closed the new leg in the books while a garbled position
answer was all that said it was gone. The one-way core names such fills `trade-<id>`; the grid
now does too, so once booked they are known.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal as D

from actors.messages import Reconcile
from exchange.records import Fee, PositionSide, VenueFill
from tests.actors.test_cancel_reports_fill import SYM, Venue, grid
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class GarbledVenue(Venue):
    hide_long: bool = False

    def fetch_positions(self, symbols=None, params=None):  # noqa: ANN001, ANN201
        listed = super().fetch_positions(symbols, params)
        return [p for p in listed if not (self.hide_long and p.side == "long")]

    def close_long_by_hand(self, price: D) -> None:
        p = self.pos[PositionSide.LONG]
        qty, realized = p.qty, (price - p.entry) * p.qty
        p.qty = D(0)
        self.trades.append(VenueFill(
            id=str(len(self.trades) + 1), order_id="manual", client_order_id=None, symbol=SYM,
            side="sell", price=price, amount=qty, fee=Fee(cost=D("0.05"), currency="USDT"),
            realized_pnl=realized, position_side=PositionSide.LONG))


def _rows(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "bot.sqlite") as c:
        return c.execute("SELECT count(*) FROM fills").fetchone()[0]


def test_an_earlier_legs_fill_without_a_client_id_is_not_booked_again(tmp_path):
    venue = GarbledVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        first = bot.loop.state.long
        assert first.is_open
        venue.close_long_by_hand(D("100.2"))
        bot.send(Reconcile(reason="test"))  # the long is flat: booked from the manual fill
        assert not bot.loop.state.long.is_open
        bot.t += 20  # its cancels are confirmed; past the wait after a close on the exchange
        bot.tick("100")  # a fresh price reopens it
        second = bot.loop.state.long
        assert second.is_open and second.position_id != first.position_id
        stops = {o.client_order_id for o in bot.loop.state.orders_of(Side.LONG, GridKind.STOP)}
        assert stops
        rows_before = _rows(tmp_path)

        venue.hide_long = True  # one answer without the long while it is open on the venue
        bot.send(Reconcile(reason="test"))

        assert _rows(tmp_path) == rows_before, "the first leg's manual close was booked again"
        leg = bot.loop.state.long
        assert leg.is_open and leg.position_id == second.position_id
        assert stops <= {o.client_order_id for o in bot.loop.state.orders}  # still protected
        venue.hide_long = False
        bot.send(Reconcile(reason="test"))
        assert bot.loop.state.long.position_id == second.position_id
    finally:
        bot.repo.close()
