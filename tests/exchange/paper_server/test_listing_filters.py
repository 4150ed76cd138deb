"""/v5/execution/list and /v5/order/history keep the filters Bybit keeps (and ccxt's bybit and
the gateway send): an order's executions by orderId or orderLinkId, an order history by
createdTime window and orderStatus. A closing execution carries its realized P&L (`execPnl`),
which the gateway reads (exchange/ccxt/convert.py)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from exchange.ccxt import convert
from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC, FakeClock, Market, ScriptedPrices
from tests.exchange.paper_server.test_bybit_api import in_process_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def paper(tmp_path: Path, clock: FakeClock) -> Iterator[PaperExchange]:
    prices = ScriptedPrices({BTC: D(60000)})
    exchange = PaperExchange(store_path=tmp_path / "p.sqlite", symbols=[BTC],
                             price_source=prices, clock=clock)
    exchange.test_market = Market(clock, prices)  # type: ignore[attr-defined]
    yield exchange
    exchange.close()


def _trade_round(paper: PaperExchange) -> None:
    """e-1 opens a long near 60000, x-1 closes it near 61000 (a profit near 10 USDT)."""
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    paper.test_market.move(BTC, "61000")  # type: ignore[attr-defined]
    paper.create_order(BTC, "market", "sell", D("0.01"), None, {"clientOrderId": "x-1"})


def _listed(api: BybitApi, path: str, **query: Any) -> list[dict[str, Any]]:
    status, reply = api.route("GET", path, {"category": "linear", "symbol": "BTCUSDT", **query})
    assert status == 200 and isinstance(reply, dict) and reply["retCode"] == 0, reply
    return list(reply["result"]["list"])


def test_executions_of_one_order_by_order_id_or_link_id(paper: PaperExchange) -> None:
    _trade_round(paper)
    api = BybitApi(paper)
    closing = [o for o in paper.fetch_my_trades(BTC) if o.client_order_id == "x-1"][0]
    by_id = _listed(api, "/v5/execution/list", orderId=str(closing.order_id))
    assert [r["orderLinkId"] for r in by_id] == ["x-1"]
    assert [r["orderLinkId"] for r in _listed(api, "/v5/execution/list",
                                              orderLinkId="e-1")] == ["e-1"]
    assert _listed(api, "/v5/execution/list", orderLinkId="nobody") == []
    client = in_process_client(api)
    client.load_markets()
    assert [t["info"]["orderLinkId"] for t in
            client.fetch_my_trades(BTC, None, None, {"orderLinkId": "x-1"})] == ["x-1"]


def test_a_closing_execution_carries_its_realized_pnl(paper: PaperExchange) -> None:
    _trade_round(paper)
    fills = {f.client_order_id: f for f in paper.fetch_my_trades(BTC)}
    pnl = fills["x-1"].realized_pnl
    assert pnl is not None and D(9) < pnl < D(11) and fills["e-1"].realized_pnl == 0
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    raw = {t["info"]["orderLinkId"]: t for t in client.fetch_my_trades(BTC)}
    assert D(raw["x-1"]["info"]["execPnl"]) == pnl
    for link in ("e-1", "x-1"):
        got = convert.fill(raw[link], client_order_id=link)
        assert got.realized_pnl == fills[link].realized_pnl


def test_order_history_keeps_its_time_window_and_status(
    paper: PaperExchange, clock: FakeClock,
) -> None:
    _trade_round(paper)
    clock.advance(3600)
    later = clock.ms
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-2"})
    api = BybitApi(paper)
    history = "/v5/order/history"
    assert [r["orderLinkId"] for r in _listed(api, history, startTime=str(later))] == ["e-2"]
    assert sorted(r["orderLinkId"] for r in _listed(api, history, endTime=str(later - 1))) == \
        ["e-1", "x-1"]
    assert _listed(api, history, orderStatus="Cancelled") == []
    assert len(_listed(api, history, orderStatus="Filled")) == 3
    client = in_process_client(api)
    client.load_markets()
    assert [o["clientOrderId"] for o in client.fetch_closed_orders(BTC, later)] == ["e-2"]
    assert client.fetch_canceled_orders(BTC) == []
