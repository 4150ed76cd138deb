"""Hedge grid: a leg that opens and closes within one decision gets its position row. Seen in
a chaos run (tests/trading/test_fill_order.py): while the bot was down a short's take-profit
filled, then the level placed for it (a new short), then the old stop closed that new short;
the restart's reconciliation books all three in one decision. The store wrote a positions row
only for a leg open before or after a decision, so the new short's fills and its LegClosed
(a stop-out, -4.10 net) had no position: the closed-trades report left it out, and the
protections never counted it as a close or a stop-out (their stop-loss guard reads closes from
the positions rows).

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py telling fill times."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D

from actors.messages import Reconcile
from tests.actors.test_cancel_reports_fill import grid
from tests.actors.test_report_batch_lookup_fails import TimedVenue
from trading.grid.model import GridKind
from trading.model import Side


def test_a_leg_opened_and_closed_in_one_decision_has_its_closed_position_row(tmp_path):
    venue = TimedVenue()
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        state = bot.loop.state
        tp, add, stop = (state.orders_of(Side.SHORT, kind)[0].client_order_id
                         for kind in (GridKind.TP, GridKind.ADD, GridKind.STOP))
        venue.mark = D("99.5")
        venue.fill(tp)  # the short is flat
        venue.mark = D("101")
        venue.fill(add)  # a new short of 1 at 101
        venue.mark = D("105")
        venue.fill(stop)  # the old stop closes it
        bot.send(Reconcile(reason="restart"))

        assert not bot.loop.state.short.is_open
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            rows = {r[0]: r[1:] for r in c.execute(
                "SELECT position_id, side, status, close_reason, realized_pnl, fees "
                "FROM positions WHERE side = 'short'")}
            fills = c.execute("SELECT realized_pnl, fee FROM fills WHERE position_id = ?",
                              (add,)).fetchall()
        assert add in rows, "the short the level opened has no position row"
        side, status, reason, pnl, fees = rows[add]
        assert (side, status, reason) == ("short", "closed", "stop_loss")
        booked = (sum(D(f[0]) for f in fills), sum(D(f[1]) for f in fills))
        assert (D(pnl), D(fees)) == booked == (D(-4), D("0.103"))  # the row agrees with its fills
    finally:
        bot.repo.close()
