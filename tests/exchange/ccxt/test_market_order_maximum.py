"""The market's maximum order amount is the one for MARKET orders. Every order the bot sends is
a market order (entries, closes) or triggers one (stops), but ccxt 4.5.90 puts the limit-order
maximum in `limits.amount.max` (Binance LOT_SIZE, Bybit maxOrderQty); the market-order one is
Binance's MARKET_LOT_SIZE (`limits.market.max`) and Bybit's lotSizeFilter.maxMktOrderQty (only
in the raw market). The emulators answer them as the venues do (BTC: 1000 / 120 on Binance,
1190 / 119 on Bybit), read through the real ccxt classes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize(("venue", "market_max"), [("binanceusdm", Decimal("120")),
                                                   ("bybit", Decimal("119"))])
def test_the_maximum_is_the_market_orders_one(tmp_path, venue, market_max):
    emu = start_emulator(venue)
    gw = make_gateway(venue, emu, tmp_path)
    try:
        gw.load_markets()
        assert gw.market(BTC).max_amount == market_max
    finally:
        gw.close()
        emu.stop()
