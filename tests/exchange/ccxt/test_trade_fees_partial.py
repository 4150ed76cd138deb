"""Defect 2a: a Binance order's fee is read from its trades (userTrades); when the trades
listed so far do not add up to what the order filled (the venue's trade list lags its order
state), the fee is unknown: None, never the partial sum (booked as the order's whole fee,
the rest would be lost)."""

from __future__ import annotations

from exchange.ccxt.lookup import with_trade_fees
from exchange.ccxt.order_params import venue_for


def order(filled: str) -> dict:
    return {"id": "7", "symbol": "BTC/USDT:USDT", "filled": filled, "fee": None, "fees": [],
            "info": {}}


def trade(amount: str, fee: str) -> dict:
    return {"order": "7", "amount": amount, "fee": {"cost": fee, "currency": "USDT"}}


def read(trades: list[dict], filled: str) -> dict:
    return with_trade_fees(lambda call, why: trades, venue_for("binanceusdm", None), order(filled))


def test_trades_that_make_up_the_fill_give_its_fee():
    got = read([trade("0.001", "0.02"), trade("0.001", "0.03")], "0.002")
    assert got["fees"] == [{"cost": "0.05", "currency": "USDT"}]


def test_trades_not_listed_yet_leave_the_fee_unknown():
    got = read([], "0.002")
    assert got.get("fee") is None and not got.get("fees")


def test_some_trades_listed_leave_the_fee_unknown_not_partial():
    got = read([trade("0.001", "0.02")], "0.002")
    assert got.get("fee") is None and not got.get("fees")
