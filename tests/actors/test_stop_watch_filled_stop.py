"""A stop that fired is the exchange stop doing its job, not a fault: the stop watch can look it
up in the moment between its fill and the feed delivering that fill (up to a poll interval),
and it logged `WARNING stop X is closed on the exchange` for it, as for a stop someone cancelled
(seen at most stop fills of a healthy dry run on the Bybit and Binance emulators, each followed
by the ordinary PositionClosed). A filled stop is now told to its actor with an INFO line; a
stop canceled, expired or rejected stays a warning (tests/actors/test_stop_watch.py).
Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until


def test_a_stop_that_filled_is_told_to_its_actor_without_a_warning(tmp_path, lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        bot.book.set_price("BTCUSDT", stop.trigger - Decimal(500))  # it fires and fills
        assert bot.position() == 0 and not bot.stops()
        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1  # reported: the actor books the fill now
        wait_until(lambda: bot.view().phase == "flat", message="the actor booked the stop fill")
    said = [line for line in lines if stop.cid in line and "on the exchange" in line]
    assert said and all("WARNING" not in line for line in said), said
    assert any("INFO" in line and "filled" in line for line in said), said
