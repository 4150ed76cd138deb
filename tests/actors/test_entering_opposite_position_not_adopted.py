"""While an entry of ours is in flight (sent, its answer not in), a position the exchange lists
on the OTHER side is not adopted (trading/reconcile.py `_listed_not_ours`: "our entry is still
being resolved"). A mutation audit removed that wait and no test failed; this one does.

What the wait protects, on a one-way account: the short the bot just closed, still shown by a
position read that lags the venue (Binance's positionRisk behind its order state: see
tests/actors/test_position_listed_after_close.py), while the long entry that followed has
landed but its lookup lags too (a create that timed out after the send). Adopted, the stale
short became our position: phase open, a BUY stop for a short that is not there; the entry's
fill, once its lookup answered, was added to that short (books: short 2, the venue: long 1),
the sides disagreed at the next look (quarantined, a person called), and the real long had no
sell stop at all. With the wait, the stale short is left alone, the entry is booked from its own
evidence as the long it is, and the long is protected by a sell stop of its size.

Production DecisionLoop, CommandExecutor, SymbolCore and a real SQLite repository on the fake
one-way venue of tests/actors/test_cancel_reports_fill.py, subclassed and given to the bot's
constructor; the clock is the test's."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from actors.messages import ExternalSignal, Reconcile, Timer
from exchange import errors
from exchange.records import PositionSide
from tests.actors.test_cancel_reports_fill import Bot, Venue
from tests.trading.conftest import make_rules
from trading import order_evidence as oe
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Phase, Side


class LaggingReads(Venue):
    """`arm_entry(lag, stale)`: the next entry lands (and fills) but its create times out, its
    lookups answer OrderNotFound `lag` times, and the next two position reads after it (both
    reads of one reconciliation's snapshot, actors/exchange_snapshot.py `consistent`) return
    `stale` instead of the venue's own rows (a read that lags)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entry: str | None = None
        self.lag = 0
        self.stale: list[Any] | None = None
        self.pending_stale: list[Any] | None = None
        self.stale_reads = 0

    def arm_entry(self, lag: int, stale: list[Any]) -> None:
        self.armed, self.lag, self.pending_stale = True, lag, stale

    def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: ANN001, ANN201
        landed = super().create_order(symbol, type, side, amount, price, params)
        if self.armed and not (params or {}).get("reduceOnly"):
            self.armed, self.entry = False, landed.client_order_id
            self.stale, self.pending_stale = self.pending_stale, None
            raise errors.RequestTimeout("timed out after the send")
        return landed

    def fetch_order(self, id, symbol, params=None):  # noqa: ANN001, ANN201
        if (params or {}).get("clientOrderId") == self.entry and self.lag > 0:
            self.lag -= 1
            raise errors.OrderNotFound("Order does not exist (-2013)")
        return super().fetch_order(id, symbol, params)

    def fetch_positions(self, symbols=None, params=None):  # noqa: ANN001, ANN201
        if self.stale is not None and self.stale_reads < 2:
            self.stale_reads += 1
            return self.stale
        return super().fetch_positions(symbols, params)


def _bot(tmp: Path, venue: LaggingReads) -> Bot:
    # no cooldown after a losing close: the short is closed at its entry price (a loss by its
    # fees) and the long follows at once
    rules = make_rules(cooldown_after_loss_s=0.0)
    return Bot(tmp, lambda tag: SymbolCore(dataclasses.replace(rules, id_tag=tag)), venue)


def test_a_stale_opposite_position_while_our_entry_is_in_flight_is_not_adopted(tmp_path: Path):
    venue = LaggingReads()
    bot = _bot(tmp_path, venue)
    try:
        bot.tick("100")
        bot.send(ExternalSignal(side=Side.SHORT, signal_id="s1"))
        assert bot.loop.state.phase is Phase.OPEN and bot.loop.state.position.side is Side.SHORT
        short_listed = venue.fetch_positions()  # what a read that lags will show later
        bot.send(ExternalSignal(side=None, signal_id="x1"))  # closed by an exit signal
        assert bot.loop.state.phase is Phase.FLAT
        assert venue.pos[PositionSide.NET].qty == D(0)

        # the long entry lands but its answer is lost and its lookup lags; the next position
        # reads (the loop's own look again at the entry) lag too: they show the short just
        # closed, on the other side
        venue.arm_entry(lag=3, stale=short_listed)
        bot.send(ExternalSignal(side=Side.LONG, signal_id="s2"))
        entry = venue.entry
        assert entry is not None
        assert venue.pos[PositionSide.NET].long and venue.pos[PositionSide.NET].qty == D(1)
        assert bot.loop.state.phase is Phase.ENTERING  # not taken for never sent: in flight
        looks = 0  # the loop looks again by itself within LOOK_AGAIN_S (heartbeat Timers)
        while venue.stale_reads < 2 and looks <= oe.LOOK_AGAIN_S + 2:
            bot.send(Timer())
            looks += 1
        assert venue.stale_reads == 2, "the loop did not look again by itself"
        assert bot.journal("PositionAdopted") == [], "a stale opposite position was adopted"
        assert bot.loop.state.position is None and bot.loop.state.phase is Phase.ENTERING

        # the reads catch up: the loop's own looks (heartbeat Timers) book the entry
        timers = 0
        while (bot.loop.state.phase is not Phase.OPEN or venue.lag > 0) \
                and timers < 2 * oe.SEND_GRACE_S:
            bot.send(Timer())
            timers += 1
        bot.send(Reconcile(reason="periodic"))
        state = bot.loop.state
        assert state.phase is Phase.OPEN and not state.quarantined
        pos = state.position
        assert pos is not None and pos.side is Side.LONG and pos.contracts == D(1)
        assert pos.position_id == entry
        assert bot.journal("PositionSideMismatch") == []
        # the long the venue holds is protected by a sell stop of its size, below the price
        stops = [o for o in venue.orders.values()
                 if o.status == "open" and o.trigger is not None]
        assert [(o.side, o.amount, o.reduce_only) for o in stops] == [("sell", D(1), True)]
        assert stops[0].trigger < D(100)
        (live_stop,) = state.live_orders(OrderPurpose.STOP)
        assert live_stop.client_order_id == stops[0].cid
    finally:
        bot.repo.close()
