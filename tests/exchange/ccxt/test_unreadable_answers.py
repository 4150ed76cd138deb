"""An answer the venue's API would never give (not JSON; JSON of the wrong shape) is an
unreadable answer: a temporary error naming the call, never an empty list, never a raw
TypeError / AttributeError out of the port, and a create it answered is looked up by its client
order id. The real gateway (real ccxt classes, real HTTP) against the emulators."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"
HTML = "<html><body><h1>200 OK</h1>Please wait...</body></html>"
SINCE = 1_700_000_000_000 - 3_600_000


@pytest.fixture(params=["bybit", "binanceusdm"])
def venue(request, tmp_path):
    emu = start_emulator(request.param)
    gw = make_gateway(request.param, emu, tmp_path)  # 10 s: no request here is meant to time out
    gw.load_markets()
    yield request.param, gw, emu
    gw.close()
    emu.stop()


READS = {
    "bybit": [
        ("/v5/position/list", lambda gw: gw.fetch_positions([BTC])),
        ("/v5/order/realtime", lambda gw: gw.fetch_open_orders(BTC)),
        ("/v5/execution/list", lambda gw: gw.fetch_my_trades(BTC, SINCE)),
        ("/v5/account/wallet-balance", lambda gw: gw.fetch_balance()),
        ("/v5/market/tickers", lambda gw: gw.fetch_tickers()),
    ],
    "binanceusdm": [
        ("/fapi/v3/positionRisk", lambda gw: gw.fetch_positions()),
        ("/fapi/v1/openOrders", lambda gw: gw.fetch_open_orders(BTC)),
        ("/fapi/v1/userTrades", lambda gw: gw.fetch_my_trades(BTC, SINCE)),
        ("/fapi/v3/account", lambda gw: gw.fetch_balance()),
        ("/fapi/v2/ticker/price", lambda gw: gw.fetch_tickers()),  # the price read (the 24 h
        # one is the volumes' only: its failure leaves them unknown, test_binance_rest_feed_prices)
        ("/fapi/v1/order", lambda gw: gw.fetch_order(None, BTC, {"clientOrderId": "x-1"})),
    ],
}


@pytest.mark.parametrize("body", [HTML, "", "null"])
def test_a_read_answered_with_no_json_is_a_temporary_error(venue, body):
    """Bybit's parsers read such a page as nothing (no positions, no open orders, no trades,
    an empty balance); Binance's raised AttributeError out of the port."""
    name, gw, emu = venue
    for path, read in READS[name]:
        emu.fail_next(path, 10, body=body)
        with pytest.raises(errors.TemporaryError, match=f"{path}: the answer is not JSON"):
            read(gw)
        emu.clear_faults(path)


def test_a_create_answered_with_no_json_after_it_landed_is_found(venue):
    """The order landed and a proxy answered 200 with a page: the order is found by its client
    id and returned, sent once (a guard: before, ccxt's empty order was re-fetched)."""
    name, gw, emu = venue
    path = "/v5/order/create" if name == "bybit" else "/fapi/v1/order"
    emu.fail_next(path, body=HTML, land=True)
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "html-1"})
    assert (order.client_order_id, order.filled) == ("html-1", D("0.01"))
    assert len(emu.hits(path, "POST")) == 1


BYBIT_NULL_ROW = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [None],
                                                           "nextPageCursor": ""},
                  "retExtInfo": {}, "time": 0}
SHAPES = {
    "bybit": [
        ("/v5/position/list", BYBIT_NULL_ROW, "fetch_positions", lambda gw: gw.fetch_positions()),
        ("/v5/order/realtime", BYBIT_NULL_ROW, "fetch_open_orders",
         lambda gw: gw.fetch_open_orders(BTC)),
        ("/v5/execution/list", BYBIT_NULL_ROW, "fetch_my_trades",
         lambda gw: gw.fetch_my_trades(BTC, SINCE)),
    ],
    "binanceusdm": [
        ("/fapi/v2/ticker/price", [None], "ticker/price", lambda gw: gw.fetch_tickers()),
        ("/fapi/v1/openOrders", {"code": 0}, "fetch_open_orders",
         lambda gw: gw.fetch_open_orders(BTC)),
        ("/fapi/v1/userTrades", [None], "fetch_my_trades",
         lambda gw: gw.fetch_my_trades(BTC, SINCE)),
        ("/fapi/v1/income", {"code": 0}, "fetch_funding_history",
         lambda gw: gw.fetch_funding_history(None, SINCE)),
        ("/fapi/v1/order", [{}], "fetch_order",
         lambda gw: gw.fetch_order(None, BTC, {"clientOrderId": "x-1"})),
    ],
}


def test_a_read_answered_in_a_shape_the_venue_never_gives_is_a_temporary_error(venue):
    """ccxt's parsers raise TypeError / AttributeError / KeyError on such JSON (a `null` row, an
    object where the list belongs), and they left the port as they were: a reconciliation
    counted such a failure as not temporary (ReconcileFailed, toward escalating a symbol whose
    close is pending). Now a temporary error naming the call, retried with backoff like any
    unreadable answer."""
    name, gw, emu = venue
    for path, body, call, read in SHAPES[name]:
        emu.fail_next(path, 10, body=body)
        # an object for an array is refused where it arrives, naming the path
        named = f"({name} {call}.*: unreadable answer|{name} GET {path}: )"
        with pytest.raises(errors.TemporaryError, match=named):
            read(gw)
        emu.clear_faults(path)


def test_a_create_answered_with_a_number_that_is_not_one_is_looked_up(venue):
    """The order landed and its answer carries `"avgPrice": "abc"`: ccxt's Precise raised
    ValueError, which left the gateway as it was, without the lookup by client id (to the
    actor a failed create of unknown kind). Now the order is found and returned, sent once."""
    name, gw, emu = venue
    row = {"orderId": "5", "status": "FILLED", "avgPrice": "abc", "executedQty": "0.01",
           "origQty": "0.01", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    path, body = ("/fapi/v1/order", {**row, "clientOrderId": "shape-1"}) if name != "bybit" \
        else ("/v5/order/create", {"retCode": 0, "retMsg": "OK", "time": 0, "result": {
            "orderId": "5", "orderLinkId": "shape-1", "avgPrice": "abc", "orderStatus": "Filled",
            "qty": "0.01", "cumExecQty": "0.01"}})
    emu.fail_next(path, body=body, land=True)
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "shape-1"})
    assert (order.client_order_id, order.filled) == ("shape-1", D("0.01"))
    assert len(emu.hits(path, "POST")) == 1


def test_an_order_row_with_a_status_nobody_knows_is_named_in_the_error(tmp_path):
    """The error of an unreadable status named neither the order nor its symbol ("unknown
    order status 'Weird'"), so a sweep's failure over every symbol told nobody where to look."""
    emu = start_emulator("bybit")
    gw = make_gateway("bybit", emu, tmp_path)
    try:
        gw.load_markets()
        row = {"orderId": "77", "orderLinkId": "w-1", "symbol": "BTCUSDT", "side": "Buy",
               "orderType": "Limit", "price": "40000", "qty": "0.01", "orderStatus": "Weird",
               "cumExecQty": "0", "leavesQty": "0.01", "createdTime": "1700000000000",
               "updatedTime": "1700000000000", "positionIdx": 0}
        emu.fail_next("/v5/order/realtime", 10, body={
            "retCode": 0, "retMsg": "OK", "time": 0, "retExtInfo": {},
            "result": {"category": "linear", "list": [row], "nextPageCursor": ""}})
        with pytest.raises(errors.TemporaryError,
                           match=r"unknown order status 'Weird' \(order 77 of BTC/USDT:USDT\)"):
            gw.fetch_open_orders(BTC)
    finally:
        gw.close()
        emu.stop()


@pytest.mark.parametrize("body", [[{}], [None]])
def test_a_cancel_answered_with_a_list_returns_what_was_sent_not_an_attribute_error(tmp_path,
                                                                                   body):
    """Binance answered a cancel (and the look-ups after it) with a list where its order
    object belongs: ccxt keeps the list as the order's `info`, and reading the position side
    from it raised AttributeError out of the port. Now the cancel that went out comes back as
    what was sent (cancelled, looked up later), as for any answer the re-fetch cannot read."""
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path)
    try:
        gw.load_markets()
        gw.create_order(BTC, "limit", "buy", D("0.01"), D("40000"), {"clientOrderId": "l-1"})
        emu.fail_next("/fapi/v1/order", 10, body=body, land=True)
        order = gw.cancel_order(None, BTC, {"clientOrderId": "l-1"})
        assert (order.client_order_id, order.status.value) == ("l-1", "canceled")
    finally:
        gw.close()
        emu.stop()
