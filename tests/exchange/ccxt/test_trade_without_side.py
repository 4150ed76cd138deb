"""A trade row the venue lists without its side (ccxt 4.5.90 reads it as side None) is an
unreadable row, like one without its price: it came out of the port as a fill of side 'none',
which matched no position's side. The lookups refuse it (retried); the fills poll skips it with
one line and delivers the other fills. Real gateway, real ccxt bybit, the emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator


def _sideless_row(since: int) -> dict:
    return {"symbol": "BTCUSDT", "orderId": "x-1", "orderLinkId": "", "orderPrice": "0",
            "orderQty": "0.001", "leavesQty": "0", "orderType": "Market", "execFee": "0.01",
            "execId": "sideless-1", "execPrice": "50000", "execQty": "0.001",
            "execType": "Trade", "execValue": "50", "execTime": str(since + 1),
            "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055", "seq": 1,
            "closedSize": "0"}  # no side


@pytest.fixture
def gw(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, max_attempts=2) as pair:
        yield pair


def test_a_trade_without_its_side_is_unreadable_in_a_lookup(gw):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced.append(_sideless_row(since))
    with pytest.raises(errors.NetworkError, match="sideless-1 of BTC/USDT:USDT has no side"):
        gateway.fetch_my_trades("BTC/USDT:USDT", since - 1000)


def test_the_fills_poll_skips_it_and_delivers_the_others(gw):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced.append(_sideless_row(since))
    emu.venue.book.place(cid="m-1", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
    fills = gateway.poll_updates(since)
    assert [(f.client_order_id, f.side) for f in fills] == [("m-1", "buy")]
