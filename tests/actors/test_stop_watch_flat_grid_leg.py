"""A hedge grid leg that closed keeps its stop while a level of its side is live
(trading/grid/leg_exit.py `close_leg`: a level filling before its cancel lands opens a position
that stop covers). When that stop then ends on the exchange (the price ran through it: a
reduce-only trigger of a flat side is canceled by the venue), the stop watch logged
`WARNING stop X is canceled on the exchange` and reported it to the actor as protection lost,
for a leg that holds nothing. Seen in a paper grid chaos run (seed 4742, 100 kills): 3 such
WARNINGs, each a closed leg's stop kept for a level whose create a kill left in its send grace
(grid-c814-ETH-50s, SOL-51s, SOL-156s). The watch reads the stops of open positions (its module
doc); a flat leg's stop protects none, and reconciliation books its end.
Real GridActors under the real supervisor, the paper exchange in hedge mode."""

from __future__ import annotations

from loguru import logger

from actors.stop_watch import StopWatch, resting_stops
from tests.actors.test_grid_actor import BTC, GridBot
from trading.frozen import replace
from trading.grid.model import GridKind, Leg
from trading.model import Side


def test_a_flat_grid_legs_kept_stop_canceled_on_the_exchange_is_not_reported_lost(tmp_path, lines):
    bot = GridBot(tmp_path)
    try:
        bot.start()
        bot.move("100")
        published = bot.views[BTC]
        state = published.state
        (stop,) = state.orders_of(Side.LONG, GridKind.STOP)
        assert state.long.is_open and state.orders_of(Side.LONG, GridKind.ADD)
        # as close_leg leaves it while the side's level is live: the leg flat, its stop open
        flat = replace(state, long=Leg(side=Side.LONG, ref_qty=state.long.ref_qty))
        restored = replace(published, state=flat)
        assert stop.client_order_id in {w.client_order_id for w in resting_stops(bot.views)}
        bot.paper.cancel_order(None, BTC, {"clientOrderId": stop.client_order_id})
        told: list[object] = []
        sw = StopWatch(exchange=bot.exchange, views={BTC: restored},
                       deliver=lambda symbol, message: told.append(message) is None,
                       interval_s=0.05, logger=logger)
        assert sw.check_once() == 0
        assert sw.reported == 0 and told == []
    finally:
        bot.stop()
    assert not [line for line in lines if "is canceled on the exchange" in line], lines
