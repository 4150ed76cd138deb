"""A Bybit cancel answered 110008 ("order has been finished or canceled") or 110010 ("order
already cancelled") is the port's OrderNotFound (none still open), like Binance's -2011 and
Bybit's 110001: ccxt 4.5.90 raises InvalidOrder for them, and the executor took the harmless
race (the order filled or was cancelled as we cancelled it) for a failed cancel instead of
looking the order up. Real gateway, real ccxt bybit, the emulator on 127.0.0.1."""

from __future__ import annotations

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator

BTC = "BTC/USDT:USDT"
CANCEL = "/v5/order/cancel"


def _refusal(code: int, msg: str) -> dict:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 0}


@pytest.fixture
def gw(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, timeout_ms=5000) as pair:  # 5 s recvWindow
        yield pair


@pytest.mark.parametrize("code,msg", [(110008, "Order has been finished or canceled"),
                                      (110010, "Order already cancelled")])
def test_a_cancel_of_an_order_that_ended_is_order_not_found(gw, code, msg):
    gateway, emu = gw
    emu.fail_next(CANCEL, body=_refusal(code, msg))
    with pytest.raises(errors.OrderNotFound, match=str(code)):
        gateway.cancel_order(None, BTC, {"clientOrderId": "ended-1"})
    assert len(emu.hits(CANCEL)) == 1  # not retried: the answer is clear


def test_another_invalid_order_refusal_of_a_cancel_stays_invalid_order(gw):
    gateway, emu = gw
    emu.fail_next(CANCEL, body=_refusal(110019, "orderId illegal"))
    with pytest.raises(errors.InvalidOrder) as raised:
        gateway.cancel_order("nonsense", BTC)
    assert not isinstance(raised.value, errors.OrderNotFound)
