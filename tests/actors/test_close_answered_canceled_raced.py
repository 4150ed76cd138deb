"""A close the venue answers as cancelled (not with an error) because it lists no position any
more is a close that raced with another fill: it starts the reconciliation that books that
fill, as a close refused with an error for the same reason does.

Found by review: CommandExecutor asked the venue for the position only when the create raised
(`_mark_if_position_gone`). A venue that accepts the reduce-only order and cancels it at once
for want of a position to reduce (Bybit cancels such an order after its create answered; the
gateway's answer is the order, status canceled, nothing filled) gave a plain failed attempt:
counted, backed off, no reconciliation. The stop's fill that had closed the position waited
for the next periodic reconciliation while the close was retried, and a few fast retries
escalated the symbol (quarantine, the emergency close, a kill-switch count) for a position
that was already closed.

Production DecisionLoop, one-way core and CommandExecutor, real SQLite Repository and the fake
venue of tests/actors/test_stuck_close_escalates.py given to the loop's constructor."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from actors.messages import ExternalSignal
from exchange.records import PositionSide
from tests.actors.test_stuck_close_escalates import Bot, Venue
from trading.model import Phase, Side


@dataclasses.dataclass
class CancelsUnreducible(Venue):
    """Answers a reduce-only market order on a flat position with the order, cancelled."""

    def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002, ANN001, ANN201
        p = params or {}
        flat = self.pos[PositionSide.from_idx(p.get("positionIdx", 0))].qty == 0
        if p.get("reduceOnly") and type == "market" and "stopLossPrice" not in p and flat:
            order = super(Venue, self).create_order(symbol, "limit", side, amount, None, params)
            self.orders[order.client_order_id].status = "canceled"
            return self._view(self.orders[order.client_order_id])
        return super().create_order(symbol, type, side, amount, price, params)


def test_a_close_answered_cancelled_for_a_gone_position_reconciles(tmp_path: Path) -> None:
    bot = Bot(tmp_path, "one_way")
    bot.venue = CancelsUnreducible()
    bot.fx.inner = bot.venue
    try:
        bot.tick("100")
        bot.loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
        assert bot.loop.state.phase is Phase.OPEN
        (stop,) = [cid for cid, o in bot.venue.orders.items() if o.trigger is not None]
        bot.venue.fill(stop)  # the stop closes the position; its report has not come yet
        assert bot.venue.pos[PositionSide.NET].qty == 0
        bot.loop.handle(ExternalSignal(side=None, signal_id="out"))  # an exit meanwhile
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            types = [r[0] for r in c.execute("SELECT type FROM events ORDER BY id")]
            closed = [json.loads(r[0]) for r in c.execute(
                "SELECT data FROM events WHERE type = 'PositionClosed'")]
        assert "CloseRaced" in types and "CloseFailed" not in types, types[4:]
        assert bot.loop.state.position is None and bot.loop.state.phase is Phase.FLAT
        assert [e["reason"] for e in closed] == ["stop_loss"]
    finally:
        bot.repo.close()
