"""Stop watch (issue 12 item 5) with real parts: a real actor, the real ccxt gateway, the
Bybit and Binance emulators. A stop canceled on the exchange is noticed by the watch's look at
that one order and re-placed; when the price is already through the stop level the actor closes
the position itself; a stop the exchange has no record of leads to a reconciliation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from actors.messages import Tick
from actors.stop_watch import StopWatch, resting_stops
from storage import queries
from tests.actors.live_emulator import BTC, Live, live_long
from tests.support.waiting import wait_until


def watch(bot: Live, interval_s: float = 0.05) -> StopWatch:
    return StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                     interval_s=interval_s, logger=logger)


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_stop_canceled_on_the_exchange_is_replaced(tmp_path, venue):
    with live_long(tmp_path, venue) as bot:
        (old,) = bot.stops()
        sw = watch(bot)
        assert sw.check_once() == 0 and sw.checks == 1  # one call per resting stop
        bot.book.cancel(old)  # someone (or the venue) removes it
        sw.start()
        try:
            wait_until(lambda: [o.oid for o in bot.stops()] not in ([], [old.oid]),
                       message="stop re-placed")
        finally:
            sw.stop()
        (new,) = bot.stops()
        assert new.trigger == old.trigger and new.qty == old.qty and new.reduce_only
        assert bot.position() > 0 and bot.view().phase == "open"
        assert sw.reported == 1


def test_price_already_through_the_stop_closes_the_position(tmp_path):
    with live_long(tmp_path) as bot:
        (old,) = bot.stops()
        bot.book.cancel(old)
        below = old.trigger - Decimal("100")
        with bot.book.lock:  # the market fell through the level while no stop rested there
            bot.book.prices["BTCUSDT"] = below
        bot.ref.tell(Tick(price=below))  # the feed's price (the actor still trusts its stop)
        bot.sync()
        assert bot.position() > 0
        sw = watch(bot)
        assert sw.check_once() == 1
        wait_until(lambda: bot.view().phase == "flat", message="closed by the actor")
        assert bot.position() == 0 and bot.stops() == []
        (closed,) = queries.events(BTC, "PositionClosed")
        assert closed["data"]["reason"] == "stop_loss"


def test_a_stop_unknown_to_the_exchange_triggers_a_reconciliation(tmp_path):
    with live_long(tmp_path) as bot:
        (old,) = bot.stops()
        with bot.book.lock:
            del bot.book.orders[old.oid]  # no record at all (not even as canceled)
        sw = watch(bot)
        assert sw.check_once() == 1
        wait_until(lambda: bot.stops() and bot.stops()[0].oid != old.oid,
                   message="stop re-placed after reconciliation")
        assert bot.view().protected


def test_resting_stops_come_from_every_published_state(tmp_path):
    with live_long(tmp_path) as bot:
        (stop,) = resting_stops(bot.views)
        assert stop.symbol == BTC and stop.client_order_id == bot.stops()[0].cid


def test_a_grid_leg_stop_canceled_on_the_exchange_is_replaced(tmp_path):
    """The other style: real GridActors under the real supervisor, the paper exchange in hedge
    mode; the watch reads the legs' stops from the published grid state."""
    from tests.actors.test_grid_actor import GridBot
    from trading.grid.model import GridKind
    from trading.model import Side

    bot = GridBot(tmp_path)
    try:
        bot.start()
        bot.move("100")
        (stop,) = bot.state().orders_of(Side.LONG, GridKind.STOP)
        assert {w.client_order_id for w in resting_stops(bot.views)} >= {stop.client_order_id}
        bot.paper.cancel_order(None, BTC, {"clientOrderId": stop.client_order_id})
        sw = StopWatch(exchange=bot.exchange, views=bot.views, deliver=bot.sup.tell,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1
        bot.settle()
        wait_until(lambda: bot.state().protected(Side.LONG), message="leg protected again")
        (again,) = bot.state().orders_of(Side.LONG, GridKind.STOP)
        assert again.client_order_id != stop.client_order_id
        assert again.client_order_id in bot.open_orders()
    finally:
        bot.stop()


def test_a_stop_reported_gone_but_found_resting_is_watched_again(tmp_path):
    """The watch's look said "not on the exchange" (a venue answer that lagged), the actor's
    reconciliation then found the stop resting and kept it: the watch had marked it reported
    and skipped it for as long as it stayed live, so its real cancel later was never noticed
    by the watch (only by a periodic reconcile, minutes later). It is looked at again."""
    from exchange import errors
    from tests.support.faulty_exchange import FaultyExchange

    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        lagging = FaultyExchange(bot.gateway)
        answers = iter([errors.OrderNotFound("lagging replica: no such order")])

        def lag_once(name: str, args: tuple, kwargs: dict) -> None:
            if (exc := next(answers, None)) is not None:
                raise exc

        lagging.before["fetch_order"] = lag_once
        sw = StopWatch(exchange=lagging, views=bot.views, deliver=bot.deliver,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1  # reported: the actor reconciles
        bot.sync()
        assert [o.oid for o in bot.stops()] == [stop.oid]  # found resting: kept as it is
        assert [w.client_order_id for w in resting_stops(bot.views)] == [stop.cid]
        bot.book.cancel(stop)  # now it is really gone
        found = [sw.check_once() for _ in range(5)]
        assert sum(found) == 1, found
        wait_until(lambda: [o.oid for o in bot.stops()] not in ([], [stop.oid]),
                   message="stop re-placed")
        assert bot.view().protected


def test_a_reported_stop_is_not_reported_again_before_its_actor_published(tmp_path):
    """A stop reported gone is looked at again RECHECK_ROUNDS rounds later if its actor still
    holds it resting (the watch's answer may have lagged). An actor still busy with the report
    (a slow exchange, a loaded machine: CI saw 250 ms at a 50 ms watch interval) has published
    nothing since, so its stop still looks resting; it was reported a second time, a second
    OrderActivity and Timer for a stop already being replaced. Looked at again only once the
    actor published after the report."""
    import dataclasses

    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        views = {BTC: bot.views[BTC]}  # the actor "busy": nothing published after the report
        told: list[tuple[str, object]] = []

        def deliver(symbol: str, message: object) -> bool:
            told.append((symbol, message))
            return True

        sw = StopWatch(exchange=bot.gateway, views=views, deliver=deliver, interval_s=0.05,
                       logger=logger)
        bot.book.cancel(stop)
        found = [sw.check_once() for _ in range(8)]
        assert found == [1, 0, 0, 0, 0, 0, 0, 0] and sw.reported == 1
        views[BTC] = dataclasses.replace(views[BTC])  # it published, still holding the stop
        found = [sw.check_once() for _ in range(4)]
        assert sum(found) == 1 and sw.reported == 2  # the lagged-answer case: looked at again
