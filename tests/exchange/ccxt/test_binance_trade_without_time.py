"""Binance USDⓈ-M: an own-trade row listed without its time must be said, not dropped unsaid.
Given a `since`, ccxt 4.5.90's binance.fetch_my_trades filters its answer by timestamp and
dropped the row (alone on its page, or with other rows without a time: its sort did not fail
then): a fill nobody was told about, never booked (the ledger short of the wallet). The read
sends the start as the venue's startTime (as on Bybit), so ccxt filters nothing; the poll skips
the row with one line naming it, and a lookup refuses the answer. Real gateway, real ccxt
binanceusdm class, the Binance emulator listing the row on every read."""

from __future__ import annotations

import pytest
from loguru import logger

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.fixture
def emu():
    server = start_emulator("binanceusdm")
    yield server
    server.stop()


def _timeless() -> dict:
    return {"symbol": "BTCUSDT", "id": 777, "orderId": 778, "side": "BUY", "price": "50000",
            "qty": "0.001", "realizedPnl": "0", "quoteQty": "50", "commission": "0.02",
            "commissionAsset": "USDT", "time": None, "buyer": True, "maker": False,
            "positionSide": "BOTH"}


def test_a_lone_trade_row_without_a_time_is_said_not_dropped_unsaid(emu, tmp_path):
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path)
        gw.load_markets()
        since = emu.venue.book.now_ms
        emu.venue.raw_trades.append(_timeless())
        gw.active.ordered(BTC)  # an order of ours on the symbol: its trades are read
        assert gw.poll_updates(since, symbols=[BTC]) == []
        gw.close()
    finally:
        logger.remove(sink)
    said = [line for line in lines if "777" in line and "no time" in line]
    assert len(said) == 1


def test_the_lookups_refuse_a_lone_trade_without_a_time(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms
    emu.venue.raw_trades.append(_timeless())
    with pytest.raises(errors.NetworkError, match="777 of BTC/USDT:USDT has no time"):
        gw.fetch_my_trades(BTC, since)
    with pytest.raises(errors.NetworkError, match="777 of BTC/USDT:USDT has no time"):
        gw.fetch_my_trades(BTC, since, limit=100)  # one page
    gw.close()
