"""A trade row the venue lists without its id (Bybit `execId` missing or empty; ccxt 4.5.90
reads it as None) came out of the port as a fill with the id 'None': the fills poll and the
lookups keep each symbol's trades by id, so a second id-less trade of the symbol (another
order's fill) was dropped as a duplicate of the first, never reported. Such a row is
unreadable now, as one without its price or side: the lookups refuse it (retried), the fills
poll skips it with one line and delivers the other fills. Real gateway, real ccxt bybit, the
HTTP emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator

S = "BTC/USDT:USDT"


def _row(since: int, n: int, cid: str, exec_id: str | None) -> dict:
    row = {"symbol": "BTCUSDT", "orderId": f"o-{n}", "orderLinkId": cid, "orderPrice": "0",
           "orderQty": "0.001", "leavesQty": "0", "orderType": "Market", "execFee": "0.01",
           "execPrice": "50000", "execQty": "0.001", "side": "Buy", "execType": "Trade",
           "execValue": "50", "execTime": str(since + n), "feeCurrency": "USDT",
           "isMaker": False, "feeRate": "0.00055", "seq": n, "closedSize": "0",
           "execPnl": "0"}
    return row if exec_id is None else {**row, "execId": exec_id}


@pytest.fixture
def gw(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, max_attempts=2) as pair:
        yield pair


@pytest.mark.parametrize("exec_id", [None, ""])
def test_trades_without_their_id_are_unreadable_in_a_lookup(gw, exec_id):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced += [_row(since, 1, "main-a", exec_id), _row(since, 2, "main-b", exec_id)]
    with pytest.raises(errors.NetworkError, match="trade of BTC/USDT:USDT order o-1 has no "
                                                  "trade id"):
        gateway.fetch_my_trades(S, since - 1000)
    emu.venue.forced[:] = [_row(since, 1, "main-a", "e-1"), _row(since, 2, "main-b", "e-2")]
    fills = gateway.fetch_my_trades(S, since - 1000)  # the next whole answer: both fills
    assert sorted(f.client_order_id for f in fills) == ["main-a", "main-b"]


def test_the_fills_poll_skips_them_and_delivers_the_others(gw):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced += [_row(since, 1, "main-a", None), _row(since, 2, "main-b", None)]
    emu.venue.book.place(cid="m-1", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
    fills = gateway.poll_updates(since)
    assert [(f.client_order_id, f.id != "None") for f in fills] == [("m-1", True)]
