"""The stop watch must not report a stop its actor is cancelling in the decision still running.
An actor published its state once the whole message was decided, so a watch round that ran
while the message was still being decided (the old stop's cancel sent, the rest of the message
not yet done) read the old stop as resting in the last published state, found it canceled on
the exchange and logged `WARNING stop X is canceled on the exchange` and reported it to the
actor as a stop lost (the known gap in tests/actors/test_stop_watch_own_cancel.py). Real actor,
real ccxt gateway, the Binance emulator (its stops cannot be amended: a stop move places the new
stop, then cancels the old one); the watch's round runs on its own thread while the actor's
cancel of the old stop has just returned."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.messages import Tick
from actors.stop_watch import StopWatch
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until

UP = Decimal("50500")


class WatchAfterCancel:
    """The actor's exchange port: right after the actor's cancel of a stop returns (its message
    still being decided), one watch round runs on its own thread, and the actor waits for it."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.watch: StopWatch | None = None
        self.found: list[int] = []

    def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        answer = self.gateway.cancel_order(*args, **kwargs)
        if self.watch is not None and not self.found:
            watch = self.watch
            round_ = threading.Thread(target=lambda: self.found.append(watch.check_once()))
            round_.start()
            round_.join(timeout=30)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)


def test_a_stop_cancelled_by_the_decision_still_running_is_not_reported_lost(tmp_path, lines):
    ports: list[WatchAfterCancel] = []

    def port(gateway: Any) -> WatchAfterCancel:
        ports.append(WatchAfterCancel(gateway))
        return ports[-1]

    with live_long(tmp_path, "binanceusdm", port=port) as bot:
        (old,) = bot.stops()
        (actor_port,) = ports
        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        actor_port.watch = sw
        with bot.book.lock:
            bot.book.prices["BTCUSDT"] = UP
        bot.ref.tell(Tick(price=UP))  # the trailing stop ratchets: new stop, then old cancelled
        wait_until(lambda: actor_port.found, message="a watch round during the cancel")
        bot.sync()
        assert bot.book.orders[old.oid].status == "canceled"  # the round did see it gone
        assert actor_port.found == [0] and sw.reported == 0
        assert not [line for line in lines if "on the exchange" in line], lines
        assert bot.view().protected and len(bot.stops()) == 1
