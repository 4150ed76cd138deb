"""Order lookups that are not evidence (trading/order_evidence.py), with real parts.

- A stop lookup glitch (the venue answers OrderNotFound for a stop that still rests): a real
  SymbolActor, the real ccxt gateway, the Bybit and Binance emulators and the stop watch. The
  position is re-protected at once, and the old stop is cancelled by client id: one stop rests
  afterwards, never two.
- An entry whose send timed out but landed, while the venue's lookup lags: production's
  DecisionLoop, CommandExecutor, SymbolCore and a real SQLite repository on the fake venue of
  tests/actors/test_cancel_reports_fill.py. The entry is not taken for never sent; the loop
  looks again by itself (heartbeat Timers only, no Reconcile from the test) and books its fill
  with its fee: no position adopted as unknown.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actors.messages import ExternalSignal, Timer
from actors.stop_watch import StopWatch
from exchange import errors
from tests.actors.live_emulator import Live, live_long
from tests.actors.test_cancel_reports_fill import Venue, one_way
from tests.support.waiting import wait_until
from trading import order_evidence as oe
from trading.model import Phase, Side


def lookups_miss(bot: Live, monkeypatch: pytest.MonkeyPatch, cid: str, times: int) -> list[str]:
    """The next `times` lookups of `cid` answer OrderNotFound although the order rests."""
    real = bot.gateway.fetch_order
    missed: list[str] = []

    def fetch_order(id: Any, symbol: str, params: dict[str, Any] | None = None) -> Any:
        if (params or {}).get("clientOrderId") == cid and len(missed) < times:
            missed.append(cid)
            raise errors.OrderNotFound(f"Order does not exist ({cid})")
        return real(id, symbol, params)

    monkeypatch.setattr(bot.gateway, "fetch_order", fetch_order)
    return missed


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_stop_lookup_glitch_leaves_one_stop_not_two(tmp_path, monkeypatch, venue):
    with live_long(tmp_path, venue) as bot:
        (old,) = bot.stops()
        # the watch's look and the reconciliation's lookup both miss; the stop still rests
        missed = lookups_miss(bot, monkeypatch, old.cid, times=2)
        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1  # reported: the actor reconciles
        wait_until(lambda: len(missed) == 2, message="both lookups missed")
        wait_until(lambda: [s.oid for s in bot.stops()] not in ([], [old.oid]),
                   message="a new stop rests")
        bot.sync()
        (new,) = bot.stops()  # the old one was cancelled by client id once the new one rested
        assert new.oid != old.oid and new.trigger == old.trigger and new.qty == old.qty
        assert bot.view().protected and bot.position() > 0


class LaggingVenue(Venue):
    """An entry's create times out after it landed, and its lookups answer OrderNotFound the
    first `lag` times (the venue's read lags its write)."""

    def __init__(self, lag: int) -> None:
        super().__init__()
        self.lag = lag
        self.lookups = 0
        self.entry: str | None = None

    def create_order(self, symbol, type, side, amount, price=None, params=None):
        landed = super().create_order(symbol, type, side, amount, price, params)
        if not (params or {}).get("reduceOnly") and self.entry is None:
            self.entry = landed.client_order_id
            raise errors.RequestTimeout("timed out after the send")
        return landed

    def fetch_order(self, id, symbol, params=None):
        if (params or {}).get("clientOrderId") == self.entry and self.lookups < self.lag:
            self.lookups += 1
            raise errors.OrderNotFound("Order does not exist (-2013)")
        return super().fetch_order(id, symbol, params)


def test_an_entry_that_landed_behind_a_lagging_lookup_is_booked_not_adopted(tmp_path: Path):
    bot = one_way(tmp_path)
    venue = LaggingVenue(lag=3)
    bot.venue = bot.loop.exchange = venue
    bot.loop.execute = bot.loop.core.executor(bot.loop.symbol, venue, lambda s, e: None, bot.log)
    bot.tick("100")
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
    entry = venue.entry
    assert entry is not None and bot.loop.state.phase is Phase.ENTERING  # not "never sent"
    timers = 0
    while bot.loop.state.position is None and timers < 4 * oe.SEND_GRACE_S:
        bot.send(Timer())  # the supervisor's heartbeat, one a second (the test's clock)
        timers += 1
    # the venue lists the position before its order lookup catches up: that is the evidence,
    # so the entry is booked from it at the loop's first look (and protected), its fee owed
    assert venue.lookups == 2  # the executor's lookup, then the one the loop made by itself
    assert timers <= oe.LOOK_AGAIN_S + 2  # looked again soon, not at a periodic reconcile
    state = bot.loop.state
    assert state.phase is Phase.OPEN and state.position is not None
    assert state.position.position_id == entry and state.position.contracts == D(1)
    assert len(bot.journal("EntryShownByPosition")) == 1
    while bot.ledger() != bot.venue_fills() and timers < 4 * oe.SEND_GRACE_S:
        bot.send(Timer())  # the fee is looked up again until the lookup answers
        timers += 1
    assert bot.ledger() == bot.venue_fills()  # the entry's fill and its fee, once each
    assert bot.journal("PositionAdopted") == [] and bot.journal("IntentNotOnExchange") == []
