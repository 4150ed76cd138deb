"""Binance USDⓈ-M's own error codes keep their meaning behind `exchange.api_url` (a forwarding
proxy, or the emulators of the live chaos runs). ccxt 4.5.90's binance picks a market's error
table by the request's host (`get_exceptions_by_url`: https://fapi.binance.com/ -> 'linear');
with every call sent to another host it found none, and -2019 "Margin is insufficient." (ccxt
InsufficientFunds) or -2022 "ReduceOnly Order is rejected." (InvalidOrder) became a bare
ExchangeError: a permanent error of unknown outcome, which the gateway looks up by client id
(a live Binance grid chaos run logged "create_order ... failed: PermanentError: ExchangeError:
binanceusdm {"code": -2022, ...}; looking it up by client id"). Production's factory
(exchange/ccxt/factory.py `exchange_factory`) and the real gateway against the emulator's server;
the test fixtures' own factory folds the table in by hand, so it is not used here."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.ccxt.factory import exchange_factory
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.fixture
def gw(tmp_path):
    emu = start_emulator("binanceusdm")
    emu.venue.book.hedge = True
    gateway = make_gateway("binanceusdm", emu, tmp_path, hedge_mode=True,
                           factory=exchange_factory("binanceusdm", 2000, api_url=emu.base_url))
    try:
        gateway.load_markets()
        yield gateway
    finally:
        gateway.close()
        emu.stop()


def test_margin_insufficient_is_insufficient_funds(gw):
    with pytest.raises(errors.InsufficientFunds, match="-2019"):  # 15,000 USDT of margin
        gw.create_order(BTC, "market", "buy", D("3"), None, {"positionIdx": 1})


def test_a_close_with_nothing_to_close_is_an_invalid_order(gw):
    with pytest.raises(errors.InvalidOrder, match="-2022"):  # the long leg is flat
        gw.create_order(BTC, "limit", "sell", D("0.01"), D("52000"),
                        {"positionIdx": 1, "reduceOnly": True, "clientOrderId": "tp-1"})


def test_codes_of_every_market_keep_their_generic_meaning(gw):
    # -2013 is in ccxt's generic table: still OrderNotFound
    with pytest.raises(errors.OrderNotFound):
        gw.fetch_order("123456", BTC)
