"""A restart after a kill that landed while the actor cancelled the stop of a position it had
just closed: the books hold the position closed and its stop still open (the one-way core marks
no cancel for the stops `position_closed` cancels), the venue has the stop canceled. The stop
watch read that stop as a resting stop and logged `WARNING stop X is canceled on the exchange`,
reporting it to the actor as protection lost, of a position that no longer exists (live chaos,
Bybit, seed 4511: main-ffab-BTC-45s, the close booked at 07:53:20, the kill during the held
cancel, the WARNING at the restart's first round). A stop of no current position protects
nothing: the actor cancels such strays itself (`SymbolState.strays`) and reconciliation books
their end; the watch leaves them alone.
Real actor state, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import BTC, live_long
from trading.frozen import replace
from trading.model import Phase


def test_a_closed_positions_stop_canceled_on_the_exchange_is_not_reported_lost(tmp_path, lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        published = bot.views[BTC]
        state = published.state
        assert state.position is not None and state.active_stop() is not None
        # as restored after the kill: flat, the closed position's stop still open, unmarked
        restored = replace(published, state=replace(state, position=None, phase=Phase.FLAT))
        assert [o.client_order_id for o in restored.state.orders] == [stop.cid]
        bot.book.cancel(stop)  # the cancel the killed incarnation sent
        told: list[object] = []
        sw = StopWatch(exchange=bot.gateway, views={BTC: restored},
                       deliver=lambda symbol, message: told.append(message) is None,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 0
        assert sw.reported == 0 and told == []
    assert not [line for line in lines if "on the exchange" in line], lines


def test_the_open_positions_stop_canceled_on_the_exchange_is_still_reported(tmp_path, lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        published = bot.views[BTC]
        bot.book.cancel(stop)
        told: list[object] = []
        sw = StopWatch(exchange=bot.gateway, views={BTC: published},
                       deliver=lambda symbol, message: told.append(message) is None,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 1 and told
    assert [line for line in lines if "WARNING" in line and "is canceled on the exchange" in line]
