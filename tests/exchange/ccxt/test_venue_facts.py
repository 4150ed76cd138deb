"""Venue facts (issue 12 item 6) through the real ccxt classes against the emulators: Binance
USDⓈ-M fees come from the order's trades, read once per filled order (by its lookup, never
before the create's answer returns); a triggered Binance algo
stop is a fill (or still working), never a cancel; Bybit answers with `cumExecFee` but without
`cumFeeDetail` still carry the fee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.order_results import events_for
from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from trading.events import OrderAccepted, OrderFilled

S = "BTC/USDT:USDT"
D = Decimal
TRADES = "/fapi/v1/userTrades"


@pytest.fixture
def binance(tmp_path):
    emu = start_emulator("binanceusdm")
    yield emu, make_gateway("binanceusdm", emu, tmp_path)
    emu.stop()


def _venue_fee(emu, cid: str) -> Decimal:
    book = emu.venue.book
    order = book.find(cid=cid)
    child = book.orders.get(order.extra.get("actualOrderId") or "") or order
    return book.fees_of(child)


def _triggered_stop(gw, book):  # noqa: ANN001, ANN202
    """A long of 0.01 (e-1) and its reduce-only stop at 49000 (s-1), then the price through it
    (48900): algoStatus TRIGGERED, the order it placed held in the matching engine."""
    gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    stop = gw.create_order(S, "market", "sell", D("0.01"), None,
                           {"clientOrderId": "s-1", "reduceOnly": True,
                            "stopLossPrice": D("49000")})
    book.hold_children = True
    book.set_price("BTCUSDT", D("48900"))
    return stop


def test_binance_market_order_books_the_fee_from_its_trades(binance):
    emu, gw = binance
    placed = gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    assert placed.fee is None and emu.hits(TRADES) == []  # the answer did not wait for it
    found = gw.fetch_order(placed.id, S, {"clientOrderId": "e-1"})
    assert found.fee is not None and found.fee.cost == _venue_fee(emu, "e-1") > 0
    (call,) = emu.hits(TRADES)
    assert call.params["orderId"] == placed.id  # that order's trades, not a symbol's history


def test_binance_trades_are_read_only_for_orders_that_filled(binance):
    emu, gw = binance
    gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    emu.clear()
    stop = gw.create_order(S, "market", "sell", D("0.01"), None,
                           {"clientOrderId": "s-1", "reduceOnly": True,
                            "stopLossPrice": D("49000")})
    gw.fetch_order(stop.id, S, {"clientOrderId": "s-1"})
    gw.fetch_open_orders(S)
    assert emu.hits(TRADES) == []


def test_binance_triggered_algo_stop_is_working_then_a_fill_with_its_fee(binance):
    emu, gw = binance
    book = emu.venue.book
    stop = _triggered_stop(gw, book)
    working = gw.fetch_order(stop.id, S, {"clientOrderId": "s-1", "trigger": True})
    assert working.status.value == "open" and working.filled == 0
    assert events_for("s-1", working, pending=False) == [
        OrderAccepted(client_order_id="s-1", exchange_id=stop.id)]  # not OrderCanceled
    book.fill_children()  # algoStatus FINISHED
    done = gw.fetch_order(stop.id, S, {"clientOrderId": "s-1", "trigger": True})
    assert (done.status.value, done.filled, done.average) == ("closed", D("0.01"), D("48900"))
    assert done.fee is not None and done.fee.cost == _venue_fee(emu, "s-1") > 0
    (event,) = events_for("s-1", done, pending=False)
    assert isinstance(event, OrderFilled) and event.fee == done.fee.cost


def test_binance_triggered_stop_whose_order_filled_part_and_works_on_is_open(binance):
    """The order a triggered stop placed has filled part of it and still works in the matching
    engine: the stop is open with that part filled, never ended (an unfilled-ending rule for
    FINISHED stops, read from the placed order's status, took this one for the stop's own
    'closed' once anything had filled)."""
    emu, gw = binance
    book = emu.venue.book
    stop = _triggered_stop(gw, book)
    with book.lock:
        child = book.orders[book.find(cid="s-1").extra["actualOrderId"]]
        child.filled, child.avg = D("0.004"), D("48900")
    working = gw.fetch_order(stop.id, S, {"clientOrderId": "s-1", "trigger": True})
    assert (working.status.value, working.filled) == ("open", D("0.004"))


@pytest.mark.parametrize("fee_detail", [True, False])
def test_bybit_fee_with_and_without_cum_fee_detail(tmp_path, fee_detail):
    emu = start_emulator("bybit")
    try:
        emu.venue.fee_detail = fee_detail
        gw = make_gateway("bybit", emu, tmp_path)
        gw.create_order(S, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        found = gw.fetch_order(None, S, {"clientOrderId": "e-1"})
        assert found.fee is not None and found.fee.cost == _venue_fee(emu, "e-1") > 0
        _, body = emu.venue.h_v5_order_history({"orderLinkId": "e-1"})
        (row,) = body["result"]["list"]
        assert ("cumFeeDetail" in row) is fee_detail and row["cumExecFee"]
    finally:
        emu.stop()


def test_binance_triggered_stop_whose_order_is_not_listed_yet_is_no_missing_order(binance):
    """The algo stop TRIGGERED but the order it placed is not readable yet: the lookup must
    not answer "no such order" (the stop fired; it exists), it reports an unreadable answer."""
    emu, gw = binance
    book = emu.venue.book
    _triggered_stop(gw, book)
    with book.lock:  # its order not listed by GET /fapi/v1/order (yet)
        book.orders.pop(book.find(cid="s-1").extra["actualOrderId"])
    with pytest.raises(errors.ExchangeError) as raised:
        gw.fetch_order(None, S, {"clientOrderId": "s-1", "trigger": True})
    assert not isinstance(raised.value, errors.OrderNotFound)
    assert "triggered order" in str(raised.value)


def test_binance_triggered_stop_without_its_placed_order_id_yet_is_working(binance):
    """algoStatus TRIGGERED with `actualOrderId` still empty: the stop is working (ccxt maps
    TRIGGERED to 'closed'; read as closed with nothing filled it was reported canceled)."""
    emu, gw = binance
    book = emu.venue.book
    stop = _triggered_stop(gw, book)
    with book.lock:  # the venue does not name the order it placed yet
        book.find(cid="s-1").extra.pop("actualOrderId")
    working = gw.fetch_order(stop.id, S, {"clientOrderId": "s-1", "trigger": True})
    assert working.status.value == "open" and working.filled == 0
    assert events_for("s-1", working, pending=False) == [
        OrderAccepted(client_order_id="s-1", exchange_id=stop.id)]
