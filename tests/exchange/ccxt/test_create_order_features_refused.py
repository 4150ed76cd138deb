"""An order asking for something the venue's ccxt class says it cannot do is refused before it
is sent (exchange/ccxt/order_params.py `check_features`, asked by the gateway's create): sent,
ccxt (or the venue) drops the unsupported parameter and the order goes as a plain one, a
reduce-only close that can open the other side, a stop that fills at once, an order of the
wrong hedge leg. The real CcxtGateway over the Bybit emulator, with subclasses of the real
ccxt.bybit whose `has` / `features` say False (injected through the gateway's factory).
Mutation audit of `check_features`: each of its guards made always-supported (reduceOnly,
stopLossPrice, takeProfitPrice, triggerPrice, hedged) and a False value counted as asking
survived the tests naming the module (114 passed)."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import ccxt
import pytest

from exchange import errors
from exchange.ccxt import order_params as op
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.exchange.ccxt.emu_server import point_at

BTC = "BTC/USDT:USDT"


class BybitWithoutReduceOnly(ccxt.bybit):
    """The real bybit class, its `has` saying it cannot send a reduce-only order."""

    def describe(self):  # type: ignore[no-untyped-def]
        return self.deep_extend(super().describe(), {"has": {"createReduceOnlyOrder": False}})


def bybit_without(feature: str) -> type[ccxt.bybit]:
    """The real bybit class, its linear swap `features.createOrder[feature]` False (a copy of
    this instance's features: the class's own stay as they are)."""

    class Without(ccxt.bybit):
        def __init__(self, config: Any = None) -> None:
            super().__init__(config or {})
            self.features = copy.deepcopy(self.features)
            self.features["swap"]["linear"]["createOrder"][feature] = False

    return Without


@pytest.fixture
def emu():
    server = start_emulator("bybit")
    yield server
    server.stop()


def gateway(cls: type[ccxt.bybit], emu, tmp_path, **kwargs: Any):
    def build() -> ccxt.Exchange:
        ex = cls({"timeout": 2000})
        point_at(ex, emu.base_url)
        return ex

    gw = make_gateway("bybit", emu, tmp_path, factory=build, **kwargs)
    gw.load_markets()
    emu.clear()
    return gw


def creates(emu) -> list:
    return emu.hits("/v5/order/create", "POST")


def refused(gw, emu, key: str, params: dict[str, Any], side: str = "sell") -> None:
    try:
        with pytest.raises(errors.NotSupported, match=f"does not support '{key}'"):
            gw.create_order(BTC, "market", side, D("0.01"), None,
                            {"clientOrderId": "c-1", **params})
        assert creates(emu) == [], f"an order asking for {key} was sent"
    finally:
        gw.close()


def test_a_reduce_only_close_is_refused_for_a_venue_without_reduce_only():
    """Such a venue is refused at start in either stop mode (test_reduce_only_capability); the
    create's own check refuses the order too (the real class's `has`)."""
    feats = ccxt.bybit().features["swap"]["linear"]["createOrder"]
    with pytest.raises(ccxt.NotSupported, match="does not support 'reduceOnly'"):
        op.check_features("bybit", {"reduceOnly": True}, feats, BybitWithoutReduceOnly().has)


def test_a_stop_is_not_sent_as_a_market_order_to_a_venue_without_stop_loss_orders(emu, tmp_path):
    gw = gateway(bybit_without("stopLossPrice"), emu, tmp_path, stop_mode="bot")
    refused(gw, emu, "stopLossPrice", {"stopLossPrice": D("49000")})


def test_a_take_profit_is_not_sent_to_a_venue_without_take_profit_orders(emu, tmp_path):
    gw = gateway(bybit_without("takeProfitPrice"), emu, tmp_path)
    refused(gw, emu, "takeProfitPrice", {"takeProfitPrice": D("51000"), "reduceOnly": True})


def test_a_trigger_order_is_not_sent_to_a_venue_without_trigger_orders(emu, tmp_path):
    gw = gateway(bybit_without("triggerPrice"), emu, tmp_path)
    refused(gw, emu, "triggerPrice", {"triggerPrice": D("51000"),
                                      "triggerDirection": "ascending"}, side="buy")


def test_a_hedge_mode_order_is_not_sent_to_a_venue_without_hedge_mode(emu, tmp_path):
    gw = gateway(bybit_without("hedged"), emu, tmp_path, hedge_mode=True)
    refused(gw, emu, "hedged", {}, side="buy")


def test_a_parameter_set_to_false_asks_for_nothing():
    """reduceOnly False is a plain order, which the venue can send."""
    feats = ccxt.bybit().features["swap"]["linear"]["createOrder"]
    op.check_features("bybit", {"reduceOnly": False}, feats, BybitWithoutReduceOnly().has)
