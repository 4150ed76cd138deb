"""A fee charged in BNB is booked in USDT at BNB's last price from the venue, and only at a
price a market trades at: a last price that is no positive number (a garbled ticker answer)
leaves the fee unknown (fees.py `FeePrices._fresh`). Mutation audit (issue 12): taking any
price read failed no test; at a negative BNB price the fee was booked negative, a rebate that
never was, and the ledger's fees fell below the wallet's. Real ccxt.binanceusdm against the
emulator on 127.0.0.1 with Binance's BNB fee discount on (`commissionAsset: "BNB"`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

S = "BTC/USDT:USDT"


def test_a_bnb_fee_at_a_negative_bnb_price_is_unknown_not_a_rebate(tmp_path):
    emu = start_emulator("binanceusdm")
    book = emu.venue.book
    book.bnb_fees, book.bnb_balance, book.bnb_price = True, D("1"), D("600")
    book.prices["BNBUSDT"] = D("-600")  # the venue's BNB perpetual answers a garbled price
    gw = make_gateway("binanceusdm", emu, tmp_path)
    try:
        entry = gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        assert [t.fee_asset for t in book.trades] == ["BNB"]
        looked = gw.fetch_order(entry.id, S, {"clientOrderId": "e-1"})  # reads its trades
        assert looked.filled == D("0.01")
        assert looked.fee is None  # unknown, never -0.2475 USDT
        assert gw.fee_prices.reads == 1  # the price was read, and refused
    finally:
        gw.close()
        emu.stop()
