"""Binance answering a list read (positions, open orders, open stops, own trades, funding
income, all-symbol tickers) with a JSON object instead of its array, or the account read
without its `assets`, is an unreadable answer naming the path, never an empty list: ccxt
4.5.90 read `{}` as no positions, no open orders, no trades, an empty balance, no prices (an
empty position answer made a held position look gone). Real gateway, real ccxt.binanceusdm,
the emulator on 127.0.0.1."""

from __future__ import annotations

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator

BTC = "BTC/USDT:USDT"
SINCE = 1_700_000_000_000 - 3_600_000
READS = [
    ("/fapi/v3/positionRisk", {}, lambda gw: gw.fetch_positions()),
    ("/fapi/v3/positionRisk", {}, lambda gw: gw.fetch_positions([BTC])),
    ("/fapi/v1/openOrders", {}, lambda gw: gw.fetch_open_orders(BTC)),
    ("/fapi/v1/openAlgoOrders", {}, lambda gw: gw.fetch_open_orders(BTC)),
    ("/fapi/v1/userTrades", {}, lambda gw: gw.fetch_my_trades(BTC, SINCE)),
    ("/fapi/v1/income", {}, lambda gw: gw.fetch_funding_history(None, SINCE)),
    ("/fapi/v3/account", {"totalWalletBalance": "0"}, lambda gw: gw.fetch_balance()),
    ("/fapi/v2/ticker/price", {}, lambda gw: gw.fetch_tickers()),
    ("/fapi/v2/ticker/price", {}, lambda gw: gw.fetch_tickers([BTC, "ETH/USDT:USDT"])),
]


@pytest.fixture
def gw(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path, timeout_ms=5000,
                             max_attempts=2) as pair:  # 5 s recvWindow, see the Bybit sibling
        yield pair


@pytest.mark.parametrize("path,body,read", READS, ids=[f"{p}-{i}" for i, (p, _, _) in
                                                       enumerate(READS)])
def test_a_list_read_answered_with_an_object_is_a_temporary_error(gw, path, body, read):
    gateway, emu = gw
    emu.fail_next(path, 10, body=body)
    with pytest.raises(errors.TemporaryError, match=f"{path}: "):
        read(gateway)


def test_empty_arrays_are_still_empty_answers(gw):
    gateway, emu = gw
    emu.fail_next("/fapi/v3/positionRisk", 10, body=[])
    emu.fail_next("/fapi/v1/openOrders", 10, body=[])
    assert gateway.fetch_positions([BTC]) == []
    assert gateway.fetch_open_orders(BTC) == []
    assert gateway.fetch_tickers([BTC])[BTC].last is not None  # one symbol: an object
