"""A trade row ccxt's own parser cannot read (Bybit `execPrice` "NaN": Precise raises
ValueError while ccxt works out the trade's cost) failed the whole own-fills poll: Bybit's
poll reads every symbol's executions in one answer, ccxt parses every row before it hands any
back, and the poll's start never passed the row, so no fill came from REST again (the REST
feed, the streams' gap fill) for as long as the venue listed it. The page is read row by row
then (own_fills._apart, as a row without its time already was): that row is skipped in the
poll with one line naming it, the other fills are delivered, each once; a lookup reading it
still refuses it (an unreadable answer naming the row, never a fill). Real gateway, real
ccxt bybit, the HTTP emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator, warning_lines

BTC = "BTC/USDT:USDT"


def _market_buy(book, cid: str) -> None:  # noqa: ANN001
    book.place(cid=cid, symbol="BTCUSDT", side="buy", type="market", qty=D("0.001"),
               price=None, trigger=None, trigger_direction=None, reduce_only=False)


def test_a_trade_row_ccxt_cannot_parse_is_skipped_and_the_poll_goes_on(tmp_path) -> None:  # noqa: ANN001
    emu = start_emulator("bybit")
    lines, sink = warning_lines()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        since = emu.venue.book.now_ms
        _market_buy(emu.venue.book, "m-1")
        emu.venue.forced.append({  # a trade made by hand; the venue lists it on every read
            "symbol": "ETHUSDT", "orderId": "x-1", "orderLinkId": "", "side": "Buy",
            "orderPrice": "0", "orderQty": "0.1", "leavesQty": "0", "orderType": "Market",
            "execFee": "0", "execId": "bad-1", "execQty": "0.1", "execType": "Trade",
            "execPrice": "NaN", "execValue": "", "execTime": str(since + 1),
            "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055", "seq": 1,
            "closedSize": "0"})
        assert [f.client_order_id for f in gw.poll_updates(since)] == ["m-1"]
        _market_buy(emu.venue.book, "m-2")
        assert [f.client_order_id for f in gw.poll_updates(since)] == ["m-2"]  # each once
        said = [line for line in lines if "bad-1" in line and "skipped" in line]
        assert len(said) == 1, lines

        with pytest.raises(errors.TemporaryError, match="bad-1"):
            gw.fetch_my_trades(None, since, 50)
    finally:
        logger.remove(sink)
        gw.close()
        emu.stop()
