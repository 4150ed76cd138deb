"""A hedge grid leg closed (its take-profit filled) while a level placed for that position is
still in doubt: the grid keeps the closed position's stop, unmarked, until the level can no
longer fill (trading/grid/leg_exit.py `close_leg`), and no longer counts it as the leg's
protection (`GridState.covered`). Bybit cancels such a stop when the price reaches it with the
leg flat (CancelByReduceOnly). The stop watch read it as a resting stop and logged
`WARNING stop X is canceled on the exchange`, reporting it to the actor as protection lost,
of a leg with no position (live grid chaos, Bybit emulator, seeds 4631 and 4632:
main-88f0-BTC-3s and main-5bad-BTC-23s, each at a restart's first round). The watch leaves a
grid stop of no current position alone, as the one-way's (test_stop_watch_closed_position.py);
an open leg's stop canceled on the exchange is still reported.
Real grid actor state, real ccxt gateway, the Bybit emulator in hedge mode."""

from __future__ import annotations

from typing import Any

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import BTC, live_long
from trading.frozen import replace
from trading.grid.model import Leg
from trading.orders import OrderPurpose
from trading.primitives import Side


def _watch(bot: Any, published: Any, told: list[object]) -> StopWatch:
    def deliver(symbol: str, message: object) -> bool:
        told.append(message)
        return True

    return StopWatch(exchange=bot.gateway, views={BTC: published}, deliver=deliver,
                     interval_s=0.05, logger=logger)


def _long_stop(bot: Any, state: Any) -> tuple[Any, Any]:
    (order,) = state.orders_of(Side.LONG, OrderPurpose.STOP)
    (stop,) = [o for o in bot.stops() if o.cid == order.client_order_id]
    return order, stop


def test_a_closed_grid_legs_kept_stop_canceled_on_the_exchange_is_not_reported_lost(
        tmp_path, lines):
    with live_long(tmp_path, "bybit", grid=True) as bot:
        published = bot.views[BTC]
        state = published.state
        order, stop = _long_stop(bot, state)
        assert order.position_id == state.long.position_id is not None
        # the long leg closed (as `close_leg` leaves it), its stop kept open and unmarked
        flat = state.with_leg(Leg(side=Side.LONG, ref_qty=state.long.ref_qty))
        assert flat.order(order.client_order_id) is not None and not flat.covered(Side.LONG, 0)
        restored = replace(published, state=flat)
        bot.book.cancel(stop)  # Bybit's CancelByReduceOnly: the price reached it, leg flat
        told: list[object] = []
        sw = _watch(bot, restored, told)
        assert sw.check_once() == 0
        assert sw.reported == 0 and told == []
    assert not [line for line in lines if "on the exchange" in line], lines


def test_an_open_grid_legs_stop_canceled_on_the_exchange_is_still_reported(tmp_path, lines):
    with live_long(tmp_path, "bybit", grid=True) as bot:
        published = bot.views[BTC]
        _order, stop = _long_stop(bot, published.state)
        bot.book.cancel(stop)
        told: list[object] = []
        sw = _watch(bot, published, told)
        assert sw.check_once() == 1 and told
    assert [line for line in lines if "WARNING" in line and "is canceled on the exchange" in line]
