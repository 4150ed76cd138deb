"""A short's exchange stop is on the market's tick and never below its level (trading/
trailing_stop.py `_away`: a protective price is rounded away from the market, never tighter
than computed). Real actors, the paper exchange, real SQLite: the stop that rests on the
exchange is read back. Found by the mutation audit: rounding the short's stop to the nearest
tick instead of up (rules.py `price_ceil`) failed no test, only the long's floor was covered."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from tests.support.harness import Harness
from trading.model import Side

BTC = "BTC/USDT:USDT"
PCT = Decimal("3")
"""The stop distance: with the harness's seeded prices the short's raw level lies less than
half a tick above a tick, so the nearest tick is below it (checked in the test)."""


def test_a_shorts_stop_rests_on_the_tick_at_or_above_its_level(tmp_path):
    h = Harness(tmp_path, [BTC], risk={"stop_loss_pct": PCT}).start()
    try:
        h.poll()
        h.idle(BTC)
        assert h.signal(BTC, Side.SHORT)
        h.idle(BTC)
        pos = h.views[BTC].state.position
        assert pos is not None and pos.side is Side.SHORT
        tick = h.paper.market(BTC).price_tick
        raw = pos.entry_price * (1 + PCT / 100)
        ticks = raw / tick
        assert ticks % 1 != 0 and ticks % 1 < Decimal("0.5"), \
            f"the level {raw} must lie in the lower half of a tick for this test to tell"
        (stop,) = h.exchange_stops(BTC)
        assert stop.side == "buy"
        assert stop.trigger_price == ticks.to_integral_value(rounding=ROUND_CEILING) * tick
        assert stop.trigger_price >= raw  # never tighter than the level the risk rules ask
    finally:
        h.stop()
