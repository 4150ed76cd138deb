"""Hedge-mode position sides through the gateway: REAL ccxt.bybit / ccxt.binanceusdm talking to
the local emulators, checking the request each venue receives."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from exchange import errors
from exchange.ccxt import order_params as op
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.fixture(params=["bybit", "binanceusdm"])
def venue(request):
    server = start_emulator(request.param)
    yield request.param, server
    server.stop()


@pytest.fixture
def bybit():
    server = start_emulator("bybit")
    yield "bybit", server
    server.stop()


@pytest.fixture
def binance():
    server = start_emulator("binanceusdm")
    yield "binanceusdm", server
    server.stop()


def gateway(venue, tmp_path, *, hedge_mode: bool):
    exchange_id, emu = venue
    emu.venue.book.hedge = hedge_mode  # the venue account's position mode
    gw = make_gateway(exchange_id, emu, tmp_path, hedge_mode=hedge_mode)
    gw.load_markets()
    emu.clear()
    return gw


def bybit_creates(emu):
    return [r.params for r in emu.hits("/v5/order/create", "POST")]


def test_bybit_gets_position_idx_for_either_spelling(bybit, tmp_path):
    _, emu = bybit
    gw = gateway(bybit, tmp_path, hedge_mode=True)
    try:
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1, "clientOrderId": "o1"})
        gw.create_order(BTC, "market", "sell", D("0.02"), None, {"positionSide": "short"})
        close = gw.create_order(BTC, "limit", "sell", D("0.01"), D("51000"),
                                {"positionSide": "LONG", "reduceOnly": True, "clientOrderId": "tp"})
        gw.create_order(BTC, "market", "buy", D("0.02"), None,
                        {"positionIdx": "2", "stopLossPrice": D("52000"), "clientOrderId": "ss"})
        entry, short, tp, stop = bybit_creates(emu)
        assert entry["positionIdx"] == 1 and entry["side"] == "Buy" and "positionSide" not in entry
        assert short["positionIdx"] == 2 and short["side"] == "Sell"
        assert tp["positionIdx"] == 1 and tp["reduceOnly"] is True and tp["orderType"] == "Limit"
        assert stop["positionIdx"] == 2 and stop["triggerPrice"] == "52000"
        assert stop["triggerDirection"] == 1 and stop["reduceOnly"] is True  # buy stop: rises
        assert not any("hedged" in p for p in (entry, short, tp, stop))
        assert close.position_side.idx == 1  # Bybit's own order echo carries the side
    finally:
        gw.close()


def test_binance_gets_position_side_and_no_reduce_only_in_hedge_mode(binance, tmp_path):
    _, emu = binance
    gw = gateway(binance, tmp_path, hedge_mode=True)
    try:
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1})
        gw.create_order(BTC, "market", "sell", D("0.01"), None, {"positionSide": "Short"})
        # a short take-profit below Binance's 100 USDT minimum notional: closing orders are exempt
        tp = gw.create_order(BTC, "limit", "buy", D("0.001"), D("49000"),
                             {"positionIdx": 2, "reduceOnly": True, "clientOrderId": "tp-s"})
        gw.create_order(BTC, "market", "sell", D("0.01"), None,
                        {"positionSide": "LONG", "stopLossPrice": D("48000"), "clientOrderId": "sl"})
        entry, short, tp_sent = [r.params for r in emu.hits("/fapi/v1/order", "POST")]
        [stop] = [r.params for r in emu.hits("/fapi/v1/algoOrder", "POST")]
        assert entry["positionSide"] == "LONG" and entry["side"] == "BUY"
        assert short["positionSide"] == "SHORT" and short["side"] == "SELL"
        assert tp_sent["positionSide"] == "SHORT" and tp_sent["type"] == "LIMIT"
        assert stop["positionSide"] == "LONG" and stop["type"] == "STOP_MARKET"
        assert stop["triggerPrice"] == "48000" and stop["clientAlgoId"] == "sl"
        for sent in (entry, short, tp_sent, stop):
            assert "reduceOnly" not in sent and "positionIdx" not in sent
        assert tp.position_side == "short"
    finally:
        gw.close()


def test_mode_mismatch_is_refused_before_anything_is_sent(venue, tmp_path):
    _, emu = venue
    one_way = gateway(venue, tmp_path, hedge_mode=False)
    try:
        for params in ({"positionIdx": 1}, {"positionSide": "SHORT"}):
            with pytest.raises(errors.InvalidOrder, match="position idx not match position mode"):
                one_way.create_order(BTC, "market", "buy", D("0.01"), None, params)
        with pytest.raises(errors.InvalidOrder, match="disagree"):
            one_way.create_order(BTC, "market", "buy", D("0.01"), None,
                                 {"positionIdx": 1, "positionSide": "SHORT"})
        assert not [r for r in emu.requests if r.method == "POST"]
        one_way.create_order(BTC, "market", "buy", D("0.01"), None, {"positionSide": "both"})
    finally:
        one_way.close()
    hedge = gateway(venue, tmp_path, hedge_mode=True)
    try:
        with pytest.raises(errors.InvalidOrder, match="position idx not match position mode"):
            hedge.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 0})
    finally:
        hedge.close()


def test_translate_rewrites_the_side_per_venue():
    bybit, binance = op.VENUES["bybit"], op.VENUES["binanceusdm"]
    generic = op.venue_for("x", {"stopLossPrice": True})
    assert op.translate(bybit, "sell", {"positionSide": "long", "reduceOnly": True},
                        hedge_mode=True) == {"positionIdx": 1, "reduceOnly": True}
    assert op.translate(binance, "sell", {"positionIdx": "1", "reduceOnly": True},
                        hedge_mode=True) == {"positionSide": "LONG"}
    assert op.translate(binance, "buy", {"positionIdx": 0, "reduceOnly": True},
                        hedge_mode=False) == {"positionSide": "BOTH", "reduceOnly": True}
    assert op.translate(generic, "buy", {"positionSide": "SHORT"},
                        hedge_mode=True) == {"positionSide": "SHORT"}
    assert op.is_reducing("sell", {"positionIdx": 1}) and op.is_reducing("buy", {"positionSide": "short"})
    assert not op.is_reducing("buy", {"positionIdx": 1})
    with pytest.raises(ccxt.InvalidOrder, match="positionIdx must be"):
        op.translate(bybit, "buy", {"positionIdx": 5}, hedge_mode=True)
