"""A venue whose ccxt class says it cannot send a reduce-only order is refused at start, in
either stop mode: its stops would be refused only when the first position needs one, and with
stop_mode = "bot" every close the bot sends (a reduce-only market order, the bot's own stop's
close and the emergency close included) would be refused by check_features (found by the
session 45 mutation follow-up: that mode started; ccxt 4.5.90 says this of 14 swap venues).
Mutation audit of exchange/ccxt/order_params.py."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from exchange import errors
from exchange.ccxt.gateway import CcxtGateway


class BybitWithoutReduceOnly(ccxt.bybit):
    """The real bybit class, its `has` saying it cannot send a reduce-only order."""

    def describe(self):  # type: ignore[no-untyped-def]
        return self.deep_extend(super().describe(), {"has": {"createReduceOnlyOrder": False}})


def test_a_venue_without_reduce_only_orders_is_refused_in_the_exchange_stop_mode(tmp_path):
    with pytest.raises(errors.NotSupported, match="has.createReduceOnlyOrder is False"):
        CcxtGateway(BybitWithoutReduceOnly, markets_cache=tmp_path / "m.json")


def test_with_bot_stops_it_is_refused_too_every_close_being_reduce_only(tmp_path):
    with pytest.raises(errors.NotSupported, match="every close the bot sends is one"):
        CcxtGateway(BybitWithoutReduceOnly, stop_mode="bot", markets_cache=tmp_path / "m.json")


class BybitWithoutStopOrders(ccxt.bybit):
    """The real bybit class, its linear swap features saying it has no stop orders."""

    def describe(self):  # type: ignore[no-untyped-def]
        return self.deep_extend(super().describe(), {"features": {"swap": {"linear": {
            "createOrder": {"stopLossPrice": False, "triggerPrice": False}}}}})


def test_with_bot_stops_a_venue_without_stop_orders_starts_and_refuses_an_exchange_stop(
        tmp_path):
    gw = CcxtGateway(BybitWithoutStopOrders, stop_mode="bot", markets_cache=tmp_path / "m.json")
    assert gw.status()["exchange_stops"] is False
    with pytest.raises(errors.NotSupported):
        gw.place_stop("BTC/USDT:USDT", "sell", D("1"), D("1"), "c")


def test_the_real_bybit_class_can_place_exchange_stops(tmp_path):
    gw = CcxtGateway(ccxt.bybit, markets_cache=tmp_path / "m.json")
    assert gw.status()["exchange_stops"] is True
