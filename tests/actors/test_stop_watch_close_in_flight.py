"""A stop the venue cancelled while its position's close is in flight is said at INFO, not as a
lost stop. Bybit cancels a reduce-only stop once the position it reduces is gone; a round of
the stop watch that looked while the actor's own close (published before it is sent, `loop.py`
`publishes_first`) was in flight logged `WARNING stop X is canceled on the exchange` (a live
one-way chaos review): a person reading the log takes it for a position that lost its stop.
The actor handles the report correctly, so it is still told; only the line changes. A stop
cancelled with no close in flight still warns (`test_stop_watch_closed_position.py`).
Real actor state, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import BTC, live_long
from trading.frozen import replace
from trading.orders import Order, OrderPurpose, OrderStatus


def test_a_stop_cancelled_while_its_positions_close_is_in_flight_is_said_at_info(tmp_path,
                                                                                  lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        published = bot.views[BTC]
        state = published.state
        assert state.position is not None
        close = Order(client_order_id="main-close-1", purpose=OrderPurpose.CLOSE, side="sell",
                      amount=state.position.contracts, reduce_only=True, status=OrderStatus.PENDING,
                      position_id=state.position.position_id)
        closing = replace(published, state=replace(state, orders=(*state.orders, close)))
        bot.book.cancel(stop)  # as the venue does once the close has filled
        told: list[object] = []
        sw = StopWatch(exchange=bot.gateway, views={BTC: closing},
                       deliver=lambda symbol, message: told.append(message) is None,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1 and told  # still told: its actor decides
    said = [line for line in lines if f"stop {stop.cid} is canceled on the exchange" in line]
    assert said and all("| INFO" in line for line in said), said
    assert all("close is in flight" in line for line in said), said
