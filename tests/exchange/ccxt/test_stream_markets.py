"""One markets load at startup: the streams' ccxt.pro instance takes the REST gateway's loaded
markets instead of fetching them again (counted at the emulator: Bybit
`/v5/market/instruments-info`, Binance `/fapi/v1/exchangeInfo`), on both venues."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.exchange.ccxt.stream_rig import BTC, StreamRig
from tests.support.waiting import wait_until

MARKETS = {"bybit": "/v5/market/instruments-info", "binanceusdm": "/fapi/v1/exchangeInfo"}


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
@pytest.mark.parametrize("share,calls", [(True, 1), (False, 2)])
def test_streams_and_rest_load_markets_once(tmp_path, venue_id, share, calls):
    rig = StreamRig(venue_id, tmp_path, share_markets=share)
    rig.gateway.load_markets()  # as the bot's startup does (runtime/account.py open)
    rig.start()
    try:
        rig.wait_mode("stream")
        cid = rig.buy()  # REST (the gateway) and the streams both working
        rig.wait_delivered(cid)
        rig.book.set_price("BTCUSDT", Decimal("50321"))
        wait_until(lambda: Decimal("50321") in rig.prices_of(BTC), message="stream price")
        # without sharing, ccxt.pro fetches them itself: the count tells the two apart
        assert len(_loads(rig)) == calls
    finally:
        rig.stop()


def _loads(rig):
    """One request per markets load: Bybit's first linear page (a load of every category
    makes several requests), Binance's exchangeInfo."""
    return [r for r in rig.http.hits(MARKETS[rig.venue_id])
            if r.params.get("category", "linear") == "linear" and "status" not in r.params]
