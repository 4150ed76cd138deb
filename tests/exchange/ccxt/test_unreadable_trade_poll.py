"""One trade row the venue lists without its price (or amount) must not stop the own-fills poll
for every symbol: it was a BadResponse for the whole poll, its start never advanced past the
row, and no fill came from REST again (the REST feed and the streams' gap fill) until a restart
(found by review); ccxt reads a row without its price as a price of 0.0, which was taken as
a fill at 0. The row is skipped with one line naming it; the other fills are delivered,
each once; the position it changed is found by its symbol's reconciliation or the sweep.
Real gateway, real ccxt bybit class, the Bybit emulator listing the bad row on every read."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator


@pytest.fixture
def emu():
    server = start_emulator("bybit")
    yield server
    server.stop()


def test_a_trade_row_without_a_price_is_skipped_and_the_poll_goes_on(emu, tmp_path):
    gw = make_gateway("bybit", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms
    emu.venue.book.place(cid="m-1", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
    emu.venue.forced.append({  # the venue's history keeps this row: every read lists it
        "symbol": "BTCUSDT", "orderId": "x-1", "orderLinkId": "", "side": "Buy",
        "orderPrice": "0", "orderQty": "0.001", "leavesQty": "0", "orderType": "Market",
        "execFee": "0", "execId": "bad-1", "execQty": "0.001", "execType": "Trade",
        "execValue": "", "execTime": str(since + 1), "feeCurrency": "USDT", "isMaker": False,
        "feeRate": "0.00055", "seq": 1, "closedSize": "0"})  # no execPrice
    fills = gw.poll_updates(since)
    assert [f.client_order_id for f in fills] == ["m-1"]
    emu.venue.book.place(cid="m-2", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
    assert [f.client_order_id for f in gw.poll_updates(since)] == ["m-2"]  # each once
    gw.close()


def test_the_lookups_refuse_a_trade_at_price_zero_rather_than_book_it(emu, tmp_path):
    """fetch_my_trades feeds the books (a position's fills, a fill's P&L): a row ccxt reads at
    price 0.0 is an unreadable answer there (retried), never a fill at 0."""
    gw = make_gateway("bybit", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms
    emu.venue.forced.append({
        "symbol": "BTCUSDT", "orderId": "x-1", "orderLinkId": "", "side": "Buy",
        "orderPrice": "0", "orderQty": "0.001", "leavesQty": "0", "orderType": "Market",
        "execFee": "0", "execId": "bad-1", "execQty": "0.001", "execType": "Trade",
        "execValue": "", "execTime": str(since + 1), "feeCurrency": "USDT", "isMaker": False,
        "feeRate": "0.00055", "seq": 1, "closedSize": "0"})
    with pytest.raises(errors.NetworkError, match="bad-1 of BTC/USDT:USDT has no usable price"):
        gw.fetch_my_trades("BTC/USDT:USDT", since)
    gw.close()
