"""A position read that lags the fills the same reconciliation books. The reconciliation reads
the position list first, then looks our orders up; a stop that filled is booked from its lookup
and closes the position in our books. A list older than that fill (a venue's position read lags
its order state; Binance: the triggered stop's own fill comes on the user data stream as a fill
of an order that is not ours, which reconciles at once) still showed the position, and the
reconciliation adopted it as "a position storage does not know": a phantom long with a stop on
a flat symbol, that no fill could ever close again (believed open for good, alerted later). Now
that list is journaled (PositionListedAfterClose) and nothing is adopted; the next look reads
the venue again. Real actor, real ccxt gateway, the Bybit and Binance emulators."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.messages import OrderActivity, Reconcile
from storage import queries
from tests.actors.live_emulator import BTC, live_long

STALE = {"bybit": ("/v5/position/list", "h_v5_position_list"),
         "binanceusdm": ("/fapi/v3/positionRisk", "get_fapi_v3_positionRisk")}


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_stop_fill_booked_beside_a_lagging_position_list_adopts_no_phantom(tmp_path, venue):
    path, handler = STALE[venue]
    with live_long(tmp_path, venue) as bot:
        (stop,) = bot.stops()
        _, listed = getattr(bot.emu.venue, handler)({"category": "linear", "symbol": "BTCUSDT"})
        bot.book.set_price("BTCUSDT", stop.trigger - Decimal(10))  # the stop fills
        assert bot.position() == 0
        bot.emu.fail_next(path, 2, body=listed)  # both reads of the snapshot lag the fill
        # what the feeds send: Binance's triggered stop fills through an order that is not
        # ours (an unknown fill: reconcile); on Bybit the position stream's difference
        bot.ref.tell(OrderActivity(unknown=True) if venue == "binanceusdm"
                     else Reconcile(reason="position stream"))
        bot.sync()
        assert queries.events(BTC, "PositionAdopted") == []
        assert [e["data"]["side"] for e in queries.events(BTC, "PositionListedAfterClose")] == [
            "long"]
        (closed,) = queries.events(BTC, "PositionClosed")
        assert closed["data"]["reason"] == "stop_loss"
        bot.reconcile(1)  # the venue read afresh
        view = bot.view()
        assert view.phase == "flat" and view.position is None
        assert bot.stops() == [] and queries.events(BTC, "PositionAdopted") == []
