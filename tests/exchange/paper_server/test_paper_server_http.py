"""HTTP-level answers of the paper server as Bybit gives them: a method an endpoint does not
serve, and a body over the size limit, come back as Bybit's JSON error shape (never a handler
run with the wrong method, never aiohttp's plain-text page)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest

from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC
from tests.exchange.paper_server.server_support import ServerProcess
from tests.exchange.paper_server.test_bybit_api import ccxt_error


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    yield proc
    assert proc.stop() == 0


def _send(server: ServerProcess, method: str, path: str,
          body: bytes | None = None) -> tuple[int, str, Any]:
    request = urllib.request.Request(f"{server.base_url}{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            status, ctype, text = reply.status, reply.headers.get_content_type(), reply.read()
    except urllib.error.HTTPError as exc:
        status, ctype, text = exc.code, exc.headers.get_content_type(), exc.read()
    return status, ctype, json.loads(text) if ctype == "application/json" else text


@pytest.mark.parametrize(("method", "path", "status"), [
    ("DELETE", "/v5/market/time", 400),  # Bybit: "send the request with GET / POST"
    ("PUT", "/v5/order/create", 400),
    ("POST", "/v5/market/tickers", 404),  # a GET endpoint asked by POST: no such route
    ("GET", "/v5/order/create", 404),  # a POST endpoint asked by GET
    ("GET", "/v5/order/cancel", 404),
])
def test_a_method_the_endpoint_does_not_serve_runs_no_handler(
    paper: PaperExchange, method: str, path: str, status: int,
) -> None:
    api = BybitApi(paper)
    order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
             "qty": "0.01", "orderLinkId": "wrong-1"}
    got, body = api.route(method, path, order)
    assert got == status
    assert isinstance(body, dict) and body["retCode"] == 10001 and method in body["retMsg"]
    assert isinstance(ccxt_error(got, body), ccxt.BadRequest)
    assert paper.fetch_positions([BTC]) == [] and paper.submissions("wrong-1") == []


def test_a_wrong_method_over_http_is_a_bybit_refusal(server: ServerProcess) -> None:
    status, ctype, body = _send(server, "DELETE", "/v5/market/time")
    assert (status, ctype, body["retCode"]) == (400, "application/json", 10001)
    status, _, body = _send(server, "POST", "/v5/market/time", b"{}")
    assert (status, body["retCode"]) == (404, 10001)
    status, _, body = _send(server, "GET", "/v5/market/time")
    assert (status, body["retCode"]) == (200, 0)


def test_a_body_over_the_limit_is_a_bybit_json_refusal(server: ServerProcess) -> None:
    status, ctype, body = _send(server, "POST", "/v5/order/create",
                                b'{"pad": "' + b"x" * 70_000 + b'"}')
    assert (status, ctype) == (413, "application/json")
    assert body["retCode"] == 10001 and "too large" in body["retMsg"]
    assert isinstance(ccxt_error(status, body), ccxt.BadRequest)
    assert _send(server, "GET", "/v5/market/time")[2]["retCode"] == 0
    assert "Traceback" not in server.output
