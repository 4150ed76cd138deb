"""Binance user-data stream rows name their hedge leg as `ps` (the REST rows as `positionSide`).

What ccxt.pro 4.5.90's binanceusdm makes of an ORDER_TRADE_UPDATE (its `parse_ws_order` and
`parse_ws_trade`, the real parsers, `info` = the venue's `o` object) goes through our
conversion as the streams do (exchange/ccxt/streams.py). The leg was read from `positionSide`
only, so every streamed Binance order and fill had no leg: a hand-made fill on one leg counted
for either leg in a grid's reconciliation, and for none in its hand-fill booking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.pro
import pytest

from exchange.ccxt import convert
from exchange.records import PositionSide


def _update(ps: str, side: str = "SELL") -> dict[str, Any]:
    """An ORDER_TRADE_UPDATE `o` object of a filled market order, as Binance documents it."""
    return {"s": "BTCUSDT", "c": "acc-x1", "S": side, "o": "MARKET", "f": "GTC", "q": "0.010",
            "p": "0", "ap": "30000.0", "sp": "0", "x": "TRADE", "X": "FILLED", "i": 8886774,
            "l": "0.010", "z": "0.010", "L": "30000.0", "N": "USDT", "n": "0.12",
            "T": 1_700_000_000_000, "t": 4411, "b": "0", "a": "0", "m": False, "R": False,
            "wt": "CONTRACT_PRICE", "ot": "MARKET", "ps": ps, "cp": False, "rp": "1.5",
            "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0}


@pytest.fixture(scope="module")
def ex() -> Any:
    return ccxt.pro.binanceusdm()


@pytest.mark.parametrize(("ps", "leg"), [("LONG", PositionSide.LONG),
                                         ("SHORT", PositionSide.SHORT),
                                         ("BOTH", PositionSide.NET)])
def test_a_streamed_order_and_its_fill_name_their_leg(ex: Any, ps: str, leg: PositionSide) -> None:
    row = _update(ps)
    order = convert.order(ex.parse_ws_order(row), settle="USDT", exchange_id="binanceusdm")
    trade = convert.fill(ex.parse_ws_trade(row), settle="USDT", exchange_id="binanceusdm")
    assert order.position_side is leg
    assert trade.position_side is leg
    assert trade.amount == Decimal("0.010") and trade.fee is not None


def test_a_streamed_row_without_a_leg_names_none(ex: Any) -> None:
    row = _update("LONG")
    del row["ps"]
    order = convert.order(ex.parse_ws_order(row), settle="USDT", exchange_id="binanceusdm")
    assert order.position_side is None
