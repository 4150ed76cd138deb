"""The emulators refuse a stop its price has already fired, as the venues do (Bybit 110092 /
110093 "expect Falling, but trigger_price >= current", Binance -2021 "Order would immediately
trigger."): they rested it and fired it at the next price move, so the bot's own answer to that
refusal (StopAlreadyCrossed: close at once) was never met against them. The real gateway, real
ccxt, over HTTP: the port's InvalidOrder; a stop on the right side rests."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"  # the emulators' BTC is at 50,000


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_stop_through_the_price_is_refused_and_one_short_of_it_rests(tmp_path, venue):
    emu = start_emulator(venue)
    gw = make_gateway(venue, emu, tmp_path)
    try:
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "long-1"})
        with pytest.raises(errors.InvalidOrder, match="trigger"):
            gw.place_stop(BTC, "sell", D("0.01"), D("50100"), "stop-over")
        placed = gw.place_stop(BTC, "sell", D("0.01"), D("49000"), "stop-under")
        assert placed.client_order_id == "stop-under" and placed.status.value == "open"
        with pytest.raises(errors.InvalidOrder, match="trigger"):
            gw.place_stop(BTC, "buy", D("0.01"), D("49900"), "short-stop-under")
    finally:
        gw.close()
        emu.stop()
