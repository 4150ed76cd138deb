"""The stop watch reads the resting stops from what each actor published, then asks the exchange
for each. A stop the actor itself cancelled meanwhile (its position closed, a grid leg's stop
replaced after an averaging fill or a take-profit) came back canceled, and the watch logged
`WARNING stop X is canceled on the exchange` and reported it to the actor as a stop lost on
the exchange: seen twice in 12 s of `python bot.py --config examples/hedge_grid.toml`, on stops
the bot had just cancelled itself. The watch now looks at the actor's published state again
after the look: a stop the actor no longer holds resting is not reported (a look that returns
while the decision cancelling it is still running: tests/actors/test_stop_watch_mid_decision.py).
Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

from actors.messages import ExternalSignal, OrderActivity
from actors.stop_watch import StopWatch
from tests.actors.live_emulator import BTC, Live, live_long
from tests.support.waiting import wait_until


class ActsFirst:
    """The exchange port, whose first stop lookup waits until the actor has acted on its stop
    itself (by default: closed its position and cancelled that stop): the watch's look in
    flight while the actor acts. `act` starts the actor's action, `done` says it is done."""

    def __init__(self, bot: Live, act: Callable[[], object] | None = None,
                 done: Callable[[], bool] | None = None) -> None:
        self.bot = bot
        self.looked = 0
        self.act = act or (lambda: bot.ref.tell(ExternalSignal(side=None, reason="test exit")))
        self.done = done or (lambda: bot.view().phase == "flat" and not bot.stops())

    def fetch_order(self, *args: Any, **kwargs: Any) -> Any:
        if not self.looked:
            self.act()
            wait_until(self.done, message="the actor acted on its own stop")
        self.looked += 1
        return self.bot.gateway.fetch_order(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bot.gateway, name)


def test_a_stop_the_actor_cancelled_itself_is_not_reported_lost(tmp_path, lines):
    with live_long(tmp_path) as bot:
        assert bot.stops()
        exchange = ActsFirst(bot)
        sw = StopWatch(exchange=exchange, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 0
        assert exchange.looked == 1 and sw.reported == 0
        assert not [line for line in lines if "on the exchange" in line], lines
        assert bot.view().phase == "flat" and bot.position() == 0 and BTC in bot.views


def test_a_stop_its_actor_already_replaced_is_not_reported_lost_again(tmp_path, lines):
    """The stop was removed on the exchange and its actor, told at once (the order stream),
    re-placed it while the watch's look at the old stop was in flight. That look answers
    "canceled", but the actor already holds a new stop: the watch asks whether that very order
    (its client id), not any stop of the symbol, is still resting in the actor's books. Asked of
    the symbol, the old stop was reported lost a second time: a WARNING and a second
    OrderActivity and Timer for a stop already re-placed."""
    with live_long(tmp_path) as bot:
        (old,) = bot.stops()

        def lost_and_told() -> None:
            bot.book.cancel(old)
            bot.ref.tell(OrderActivity(client_order_ids=(old.cid,)))

        exchange = ActsFirst(bot, act=lost_and_told,
                             done=lambda: [o.oid for o in bot.stops()] not in ([], [old.oid])
                             and bot.view().protected)
        sw = StopWatch(exchange=exchange, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 0
        assert exchange.looked == 1 and sw.reported == 0
        assert not [line for line in lines if "on the exchange" in line], lines
        assert len(bot.stops()) == 1 and bot.view().protected and bot.position() > 0
