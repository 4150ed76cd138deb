"""Fees charged in another asset than the settle currency (Binance USDⓈ-M with the BNB fee
discount on: `commissionAsset: "BNB"`) are booked in USDT at BNB's price from the venue, so the
ledger moves with the wallet in USDT terms; without a price the fee is unknown (None), never
0.0004 BNB booked as 0.0004 USDT. Through the real ccxt classes against the emulator. A create's
answer carries no fee on Binance (its stop must not wait for the trade read): the order's
lookup, the late-fee look of trading/late_fees.py, reads and books it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from loguru import logger

from actors.order_results import events_for
from exchange.ccxt import convert
from exchange.records import Fee
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from trading.events import OrderFilled

S = "BTC/USDT:USDT"
D = Decimal
BNB_PRICE = D("600")
TICKER = "/fapi/v1/ticker/24hr"


@pytest.fixture
def binance(tmp_path):
    emu = start_emulator("binanceusdm")
    book = emu.venue.book
    book.bnb_fees, book.bnb_balance, book.bnb_price = True, D("1"), BNB_PRICE
    book.prices["BNBUSDT"] = BNB_PRICE  # its perpetual's price: what the fee is booked at
    yield emu, make_gateway("binanceusdm", emu, tmp_path)
    emu.stop()


def _wallet_in_usdt(gw) -> Decimal:
    balance = gw.fetch_balance()
    return balance.funds("USDT").total + balance.funds("BNB").total * BNB_PRICE


def _booked(gw, cid: str, order_id: str) -> OrderFilled:
    (event,) = events_for(cid, gw.fetch_order(order_id, S, {"clientOrderId": cid}),
                          pending=False)
    assert isinstance(event, OrderFilled)
    return event


def test_bnb_fees_are_booked_in_usdt_and_the_ledger_moves_with_the_wallet(binance):
    emu, gw = binance
    book = emu.venue.book
    before = _wallet_in_usdt(gw)
    entry = gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    book.set_price("BTCUSDT", D("51000"))
    close = gw.create_order(S, "market", "sell", D("0.01"), None,
                            {"clientOrderId": "x-1", "reduceOnly": True})
    charged = [(t.fee, t.fee_asset) for t in book.trades]
    assert [asset for _, asset in charged] == ["BNB", "BNB"]
    assert entry.fee is None and close.fee is None  # told by the later look
    booked = [_booked(gw, "e-1", str(entry.id)), _booked(gw, "x-1", str(close.id))]
    for placed, event in zip((entry, close), booked, strict=True):
        venue_fee = book.fees_of(book.find(cid=placed.client_order_id))
        assert event.fee_known and event.fee == venue_fee * BNB_PRICE  # not BNB as USDT
    fills = gw.fetch_my_trades(S)
    assert [f.fee for f in fills] == [Fee(cost=fee * BNB_PRICE, currency="USDT")
                                      for fee, _ in charged]
    realized = sum((f.realized_pnl or D(0) for f in fills), D(0))
    ledger = realized - sum((e.fee for e in booked), D(0))
    assert realized == D("10")  # (51000 - 50000) * 0.01
    assert ledger == _wallet_in_usdt(gw) - before
    # BNB's price was read once, from its perpetual's one-symbol ticker, and kept
    assert [h.params.get("symbol") for h in emu.hits(TICKER)] == ["BNBUSDT"]


def test_without_a_bnb_price_the_fee_is_unknown_and_one_warning_says_so(binance):
    emu, gw = binance
    del emu.venue.book.prices["BNBUSDT"]  # the venue answers -1121 Invalid symbol
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        placed = gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        found = gw.fetch_order(placed.id, S, {"clientOrderId": "e-1"})  # the late-fee look
    finally:
        logger.remove(handler)
    assert found.fee is None and found.filled == D("0.01")  # unknown, not 0.0000x "USDT"
    warned = [line for line in lines if "fee of" in line]
    assert len(warned) == 1
    assert S in warned[0] and str(placed.id) in warned[0] and "BNB" in warned[0]


def _price(table: dict[str, Decimal]) -> Callable[[str, str], Decimal | None]:
    return lambda asset, settle: table.get(f"{asset}/{settle}")


def test_fees_in_several_currencies_are_added_up_in_the_settle_currency():
    raw = {"symbol": S, "id": "7", "fee": None,
           "fees": [{"cost": "0.5", "currency": "USDT"}, {"cost": "0.001", "currency": "BNB"}]}
    got = convert.fee(raw, settle="USDT", price=_price({"BNB/USDT": D("600")}))
    assert got == Fee(cost=D("1.1"), currency="USDT")
    assert convert.fee(raw, settle="USDT", price=_price({})) is None
    assert convert.fee(raw, settle="USDT") is None  # the streams: cannot price, unknown


def test_bybit_fee_detail_counts_every_coin_not_only_the_first():
    # ccxt 4.5.90's bybit.parse_order keeps only cumFeeDetail's first coin as the fee
    info = {"orderId": "1", "cumExecFee": "0.3", "cumFeeDetail": {"USDT": "0.2", "BNB": "0.0002"}}
    raw = {"symbol": S, "id": "1", "fee": {"cost": 0.2, "currency": "USDT"}, "info": info}
    got = convert.fee(raw, info_fee_key="cumExecFee", currency="USDT", settle="USDT",
                      price=_price({"BNB/USDT": D("500")}))
    assert got == Fee(cost=D("0.3"), currency="USDT")
    only_usdt = {**raw, "info": {**info, "cumFeeDetail": {"USDT": "0.2"}}}
    assert convert.fee(only_usdt, info_fee_key="cumExecFee", currency="USDT",
                       settle="USDT") == Fee(cost=D("0.2"), currency="USDT")


def test_a_trade_naming_no_fee_currency_leaves_the_fee_unknown_not_usdt(binance):
    """A trade without its `commissionAsset` (ccxt 4.5.90: fee currency None) was summed as
    the settle currency: 0.0004 BNB booked as 0.0004 USDT. Its order's fee and the trade's
    own are unknown now (booked later when a whole answer tells it, as for an unpriced BNB);
    the same order's next whole answer is read as it is."""
    emu, gw = binance
    book = emu.venue.book
    entry = gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    emu.venue.fee_asset_left_out.add("e-1")
    (event,) = events_for("e-1", gw.fetch_order(str(entry.id), S, {"clientOrderId": "e-1"}),
                          pending=False)
    assert isinstance(event, OrderFilled) and not event.fee_known
    (fill,) = gw.fetch_my_trades(S)
    assert fill.fee is None
    emu.venue.fee_asset_left_out.clear()
    venue_fee = book.fees_of(book.find(cid="e-1"))
    assert _booked(gw, "e-1", str(entry.id)).fee == venue_fee * BNB_PRICE
    (fill,) = gw.fetch_my_trades(S)
    assert fill.fee == Fee(cost=venue_fee * BNB_PRICE, currency="USDT")
