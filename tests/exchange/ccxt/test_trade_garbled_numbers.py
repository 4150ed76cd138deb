"""A trade row whose realized P&L or fee is no finite number (Bybit `execPnl` / `execFee`
"NaN" or "Infinity"; ccxt 4.5.90 passes them on) came out of the port as a fill with that
P&L or fee: the hedge grid books the venue's reported P&L of an order's fills
(actors/fill_pnl.py), and a NaN booked made every later sum of the ledger NaN. Such a row
is unreadable now, like one without its price or side: the lookups refuse it (retried),
the fills poll skips it with one line and delivers the other fills. Real gateway, real ccxt
bybit, the HTTP emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator

S = "BTC/USDT:USDT"


def _row(since: int, **garbled: str) -> dict:
    return {"symbol": "BTCUSDT", "orderId": "x-1", "orderLinkId": "", "orderPrice": "0",
            "orderQty": "0.001", "leavesQty": "0", "orderType": "Market", "execFee": "0.01",
            "execId": "garbled-1", "execPrice": "50000", "execQty": "0.001", "side": "Buy",
            "execType": "Trade", "execValue": "50", "execTime": str(since + 1),
            "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055", "seq": 1,
            "closedSize": "0", "execPnl": "0", **garbled}


@pytest.fixture
def gw(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, max_attempts=2) as pair:
        yield pair


CASES = [({"execPnl": "NaN"}, "garbled-1 of BTC/USDT:USDT has an unreadable realized P&L"),
         ({"execPnl": "Infinity"}, "garbled-1 of BTC/USDT:USDT has an unreadable realized P&L"),
         ({"execFee": "NaN"}, "unreadable fee: not a finite number"),
         ({"execFee": "-Infinity"}, "unreadable fee: not a finite number")]


@pytest.mark.parametrize(("garbled", "said"), CASES)
def test_a_trade_with_a_garbled_pnl_or_fee_is_unreadable_in_a_lookup(gw, garbled, said):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced.append(_row(since, **garbled))
    with pytest.raises(errors.NetworkError, match=said):
        gateway.fetch_my_trades(S, since - 1000)
    emu.venue.forced.clear()
    emu.venue.forced.append(_row(since))  # the venue's next answer is whole
    (fill,) = gateway.fetch_my_trades(S, since - 1000)
    assert (fill.realized_pnl, fill.fee.cost if fill.fee else None) == (D("0"), D("0.01"))


@pytest.mark.parametrize(("garbled", "said"), CASES)
def test_the_fills_poll_skips_it_and_delivers_the_others(gw, garbled, said):
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced.append(_row(since, **garbled))
    emu.venue.book.place(cid="m-1", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
    fills = gateway.poll_updates(since)
    assert [f.client_order_id for f in fills] == ["m-1"]
    assert all(f.realized_pnl is None or f.realized_pnl.is_finite() for f in fills)


def test_a_trade_whose_pnl_the_venue_leaves_empty_is_read_without_one(gw):
    """Bybit writes a field it does not fill as "" (as it does `liqPrice`, `avgPrice`): such a
    P&L is not said, not garbled, and the fill is read with none (exchange/decimals.py
    `decimal_or_none`). Mutation audit: reading "" as a number (so refused) survived every
    test; it made every such fill unreadable, the lookup retried and the poll skipped it."""
    gateway, emu = gw
    since = emu.venue.book.now_ms
    emu.venue.forced.append(_row(since, execPnl=""))
    (fill,) = gateway.fetch_my_trades(S, since - 1000)
    assert fill.realized_pnl is None
    assert fill.fee is not None and fill.fee.cost == D("0.01")
