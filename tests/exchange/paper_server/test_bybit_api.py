"""BybitApi in-process over a real PaperExchange: its replies read by the real ccxt `bybit`
class's own parsers and error handling, then by the bot's gateway converters, come back as
the records and error classes the paper exchange itself gave."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt
import pytest
import requests

from exchange import errors
from exchange.ccxt import convert
from exchange.ccxt.errors import translate
from exchange.ccxt.factory import DEFAULT_OPTIONS, point_api_at
from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from exchange.records import PositionSide
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices

URL = "http://127.0.0.1/v5/account/wallet-balance"



def ccxt_error(status: int, body: dict[str, Any] | str) -> ccxt.BaseError | None:
    """What ccxt's bybit raises for this HTTP reply (as its fetch() checks one)."""
    client = ccxt.bybit()
    text = body if isinstance(body, str) else json.dumps(body)
    parsed = body if isinstance(body, dict) else None
    try:
        client.handle_errors(status, "", URL, "GET", {}, text, parsed, {}, None)
        client.handle_http_status_code(status, "", URL, "GET", text)
    except ccxt.BaseError as exc:
        return exc
    return None


@pytest.mark.parametrize(("error", "expected"), [
    (errors.OrderNotFound("paper: gone"), errors.OrderNotFound),
    (errors.InsufficientFunds("paper: poor"), errors.InsufficientFunds),
    (errors.BadSymbol("paper: no such market"), errors.BadSymbol),
    (errors.InvalidOrder("paper: illegal"), errors.InvalidOrder),
    (errors.AuthenticationError("paper: who"), errors.AuthenticationError),
    (errors.BadRequest("paper: malformed"), errors.BadRequest),
    (errors.NotSupported("paper: cannot"), errors.BadRequest),  # no Bybit code for it
    (errors.RateLimited("paper: slow down"), errors.RateLimited),
    (errors.RequestTimeout("paper: no answer"), errors.RequestTimeout),
    (errors.ExchangeUnavailable("paper: maintenance"), errors.ExchangeUnavailable),
    (errors.NetworkError("paper: reset"), errors.ExchangeUnavailable),  # still temporary
])
def test_port_errors_come_back_through_ccxt_bybit_as_the_same_class(
    paper: PaperExchange, error: errors.ExchangeError, expected: type[errors.ExchangeError],
) -> None:
    api = BybitApi(paper)
    paper.faults.fail_next("fetch_balance", 1, error)
    status, body = api.route("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    raised = ccxt_error(status, body)
    assert raised is not None
    assert type(translate(raised)) is expected
    assert str(error) in str(raised)


def test_unknown_symbol_and_order_are_bybit_refusals(paper: PaperExchange) -> None:
    api = BybitApi(paper)
    _, body = api.route("GET", "/v5/market/tickers", {"category": "linear", "symbol": "FOOUSDT"})
    assert isinstance(body, dict) and body["retCode"] == 10001
    assert isinstance(ccxt_error(200, body), ccxt.BadSymbol)
    _, body = api.route("POST", "/v5/order/cancel", {"symbol": "BTCUSDT", "orderId": "42"})
    assert isinstance(body, dict) and body["retCode"] == 110001


@pytest.mark.parametrize(("qty", "price", "trigger"), [
    ("1e30", None, None), ("0.01", "1e40", None), ("0.01", None, "1e40"),
])
def test_out_of_range_numbers_are_refused_as_an_illegal_order(
    paper: PaperExchange, qty: str, price: str | None, trigger: str | None,
) -> None:
    order: dict[str, Any] = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                             "orderType": "Limit" if price else "Market", "qty": qty,
                             "orderLinkId": "huge-1"}
    if price:
        order["price"] = price
    if trigger:
        order.update(triggerPrice=trigger, triggerDirection="1")
    status, body = BybitApi(paper).route("POST", "/v5/order/create", order)
    assert isinstance(body, dict) and body["retCode"] == 110032
    raised = ccxt_error(status, body)
    assert raised is not None and type(translate(raised)) is errors.InvalidOrder
    assert [s["outcome"] for s in paper.submissions("huge-1")] == ["rejected"]


class RouteAdapter(requests.adapters.BaseAdapter):
    """A requests transport that hands each request to `BybitApi.route` (no HTTP server)."""

    def __init__(self, api: BybitApi) -> None:
        super().__init__()
        self.api = api

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        url = urlsplit(str(request.url))
        params: dict[str, Any] = dict(parse_qsl(url.query))
        if request.body:
            params.update(json.loads(request.body))
        status, body = self.api.route(str(request.method), url.path, params)
        response = requests.Response()
        response.status_code = status
        response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
        response.url, response.request = str(request.url), request
        return response

    def close(self) -> None:
        pass


def in_process_client(api: BybitApi) -> ccxt.bybit:
    client = ccxt.bybit({"apiKey": "k", "secret": "s", "enableRateLimit": False,
                         "options": dict(DEFAULT_OPTIONS["bybit"])})
    point_api_at(client, "http://paper.test")
    client.session.mount("http://paper.test", RouteAdapter(api))
    return client


def test_records_round_trip_through_ccxt_bybit_parsers(paper: PaperExchange) -> None:
    client = in_process_client(BybitApi(paper))
    assert client.load_markets()[BTC]["precision"]["amount"] == 0.001
    entry = paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    stop = paper.create_order(BTC, "market", "sell", D("0.01"), None,
                              {"clientOrderId": "s-1", "stopLossPrice": D(50000)})

    [raw_stop] = client.fetch_open_orders(BTC)
    assert convert.order(raw_stop, settle="USDT") == stop
    assert raw_stop["stopLossPrice"] == 50000.0
    raw_entry = client.fetch_closed_order(str(entry.id), BTC)
    assert convert.order(raw_entry, settle="USDT") == entry
    [raw_position] = [p for p in client.fetch_positions([BTC]) if p["contracts"]]
    position = convert.position(raw_position)
    assert (position.side, position.contracts, position.entry_price) == ("long", D("0.01"),
                                                                           entry.average)
    [raw_fill] = client.fetch_my_trades(BTC)
    [fill] = paper.fetch_my_trades(BTC)
    got = convert.fill(raw_fill, client_order_id=raw_fill["info"]["orderLinkId"])
    assert (got.id, got.order_id, got.client_order_id, got.side, got.price, got.amount,
            got.fee, got.timestamp) == (fill.id, fill.order_id, fill.client_order_id,
                                        fill.side, fill.price, fill.amount, fill.fee,
                                        fill.timestamp)
    usdt = client.fetch_balance()["USDT"]
    assert D(str(usdt["total"])) == paper.wallet_balance()
    assert D(str(usdt["free"])) == paper.fetch_balance().free("USDT")


def test_hedge_mode_sides_are_bybit_position_idx(tmp_path: Path) -> None:
    paper = PaperExchange(store_path=tmp_path / "h.sqlite", symbols=[BTC], hedge_mode=True,
                          price_source=ScriptedPrices({BTC: D(60000)}), clock=FakeClock())
    try:
        client = in_process_client(BybitApi(paper))
        client.load_markets()
        paper.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1})
        paper.create_order(BTC, "market", "sell", D("0.02"), None, {"positionIdx": 2})
        stop = paper.create_order(BTC, "market", "buy", D("0.02"), None,
                                  {"positionIdx": 2, "stopLossPrice": D(70000)})
        raw = [p for p in client.fetch_positions([BTC]) if p["contracts"]]
        assert [convert.position(p) for p in raw] == paper.fetch_positions([BTC])
        [raw_stop] = client.fetch_open_orders(BTC)
        assert convert.order(raw_stop, settle="USDT") == stop
        assert stop.position_side is PositionSide.SHORT
    finally:
        paper.close()


def test_order_history_pages_by_cursor_through_ccxt_bybit(paper: PaperExchange) -> None:
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    for i in range(60):  # one page of /v5/order/history is 50 orders
        paper.create_order(BTC, "market", "buy" if i % 2 == 0 else "sell", D("0.001"), None,
                           {"clientOrderId": f"o-{i}"})
    orders = client.fetch_canceled_and_closed_orders(BTC, 1, None, {"paginate": True})
    assert sorted(o["clientOrderId"] for o in orders) == sorted(f"o-{i}" for i in range(60))


def test_execution_cursor_is_not_shifted_by_newer_fills(paper: PaperExchange) -> None:
    api = BybitApi(paper)
    for i in range(8):
        paper.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": f"x-{i}"})
    query = {"category": "linear", "symbol": "BTCUSDT", "limit": "5"}
    _, first = api.route("GET", "/v5/execution/list", query)
    assert isinstance(first, dict)
    cursor = first["result"]["nextPageCursor"]
    assert cursor
    paper.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": "x-new"})
    _, second = api.route("GET", "/v5/execution/list", {**query, "cursor": cursor})
    assert isinstance(second, dict) and second["result"]["nextPageCursor"] == ""
    pages = first["result"]["list"] + second["result"]["list"]
    assert [r["orderLinkId"] for r in pages] == [f"x-{i}" for i in reversed(range(8))]


def test_hedge_mode_lists_each_flat_leg_of_the_symbol_asked(tmp_path: Path) -> None:
    """As Bybit: both legs of the symbol asked, a flat one with size "0" (the gateway takes an
    answer missing a leg as unreadable, never as that leg closed)."""
    paper = PaperExchange(store_path=tmp_path / "h.sqlite", symbols=[BTC], hedge_mode=True,
                          price_source=ScriptedPrices({BTC: D(60000)}), clock=FakeClock())
    try:
        client = in_process_client(BybitApi(paper))
        client.load_markets()
        legs = [(p["info"]["positionIdx"], p["contracts"]) for p in client.fetch_positions([BTC])]
        assert sorted(legs) == [(1, 0), (2, 0)]
        paper.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1})
        legs = [(p["info"]["positionIdx"], p["contracts"]) for p in client.fetch_positions([BTC])]
        assert sorted(legs) == [(1, 0.01), (2, 0)]
    finally:
        paper.close()
