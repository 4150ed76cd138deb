"""Binance's "please try again" answers (-1001 DISCONNECTED "Internal error; unable to process
your request. Please try again.", -1008 SERVER_BUSY / "Request throttled by system-level
protection") are temporary: ccxt raises them as OperationFailed, which the gateway took for a
permanent refusal on reads and cancels (no retry; a reconciliation counted it as a failure that
is not temporary). The real gateway against the Binance emulator, over HTTP."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator

BTC = "BTC/USDT:USDT"
TRY_AGAIN = [
    {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
    {"code": -1008, "msg": "Server is currently overloaded with other requests. Please try "
                           "again in a few minutes."},
]


@pytest.fixture
def binance(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as pair:
        yield pair


@pytest.mark.parametrize("body", TRY_AGAIN)
def test_a_read_answered_try_again_is_retried(binance, body):
    gw, emu = binance
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "t-1"})
    emu.fail_next("/fapi/v3/positionRisk", 2, status=503, body=body)
    assert [(p.symbol, p.contracts) for p in gw.fetch_positions()] == [(BTC, D("0.01"))]
    assert len(emu.hits("/fapi/v3/positionRisk")) == 3


@pytest.mark.parametrize("body", TRY_AGAIN)
def test_a_read_still_answered_try_again_is_a_temporary_error(binance, body):
    gw, emu = binance
    emu.fail_next("/fapi/v3/positionRisk", 20, status=503, body=body)
    with pytest.raises(errors.TemporaryError, match=str(body["code"])):
        gw.fetch_positions()


@pytest.mark.parametrize("body", TRY_AGAIN)
def test_a_cancel_answered_try_again_is_asked_again(binance, body):
    gw, emu = binance
    gw.create_order(BTC, "limit", "buy", D("0.01"), D("40000"), {"clientOrderId": "l-1"})
    emu.fail_next("/fapi/v1/order", status=503, body=body)
    order = gw.cancel_order(None, BTC, {"clientOrderId": "l-1"})
    assert (order.client_order_id, order.status.value) == ("l-1", "canceled")


BYBIT = [
    {"retCode": 429, "retMsg": "The trading service is experiencing a high server load. Please "
                               "retry if you encounter this issue.", "result": {},
     "retExtInfo": {}, "time": 0},
    {"retCode": 5004, "retMsg": "Server Timeout", "result": None, "retExtInfo": {}, "time": 0},
]


@pytest.fixture
def bybit(tmp_path):
    with gateway_on_emulator("bybit", tmp_path) as pair:
        yield pair


@pytest.mark.parametrize("body", BYBIT)
def test_bybit_high_load_and_server_timeout_on_a_read_are_retried(bybit, body):
    """Bybit's unified account answers retCode 429 under high load ("Please retry") and 5004
    "Server Timeout"; ccxt raises both as a plain ExchangeError, which was permanent."""
    gw, emu = bybit
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "y-1"})
    emu.fail_next("/v5/position/list", 2, body=body)
    assert [(p.symbol, p.contracts) for p in gw.fetch_positions([BTC])] == [(BTC, D("0.01"))]
    emu.fail_next("/v5/position/list", 20, body=body)
    with pytest.raises(errors.TemporaryError, match=str(body["retCode"])):
        gw.fetch_positions([BTC])


@pytest.mark.parametrize("body", BYBIT)
def test_bybit_high_load_and_server_timeout_on_a_create_are_looked_up(bybit, body):
    """A create answered so may have landed (5004) or been refused (429): either way it is
    looked up by its client id, never raised as a permanent refusal while it filled."""
    gw, emu = bybit
    emu.fail_next("/v5/order/create", body=body, land=True)
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "y-2"})
    assert (order.client_order_id, order.filled) == ("y-2", D("0.01"))
    assert len(emu.hits("/v5/order/create")) == 1
