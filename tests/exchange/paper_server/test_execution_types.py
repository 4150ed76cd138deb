"""/v5/execution/list answers by `execType` as Bybit does: the paper exchange's executions are
all trades, so a read of funding, liquidations (BustTrade) or auto-deleveraging (AdlTrade) lists
none of them. The funding feed reads `execType=Funding` every 5 minutes: an answer listing the
account's trades made it log one 'funding row skipped' warning per trade ever made."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from exchange.ccxt import funding
from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.exchange.paper_server.test_bybit_api import in_process_client


def test_funding_read_through_ccxt_bybit_lists_no_trades(paper: PaperExchange) -> None:
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    paper.create_order(BTC, "market", "sell", D("0.01"), None, {"clientOrderId": "x-1"})
    warnings: list[str] = []

    def run(call: Any, name: str) -> Any:
        return call(client)

    assert funding.read(run, "bybit", 0, warnings.append) == []
    assert warnings == []
    assert len(client.fetch_my_trades(BTC)) == 2  # the trades are still listed as trades


@pytest.mark.parametrize(("exec_type", "listed"), [
    (None, ["e-1"]), ("Trade", ["e-1"]), ("Funding", []), ("BustTrade", []),
    ("AdlTrade", []), ("Settle", []),
])
def test_execution_list_keeps_the_asked_exec_type(
    paper: PaperExchange, exec_type: str | None, listed: list[str],
) -> None:
    api = BybitApi(paper)
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    query = {"category": "linear", "symbol": "BTCUSDT"}
    if exec_type is not None:
        query["execType"] = exec_type
    _, reply = api.route("GET", "/v5/execution/list", query)
    assert isinstance(reply, dict) and reply["retCode"] == 0
    assert [r["orderLinkId"] for r in reply["result"]["list"]] == listed


def test_execution_list_ends_at_end_time(tmp_path: Path) -> None:
    """A read of one week (startTime..endTime, as the gateway reads a position older than a
    week, exchange/ccxt/own_fills.py) lists that week only, as on Bybit. Listing up to now,
    newest first, a week's pages could be filled by later trades: its own were never read and
    the next week's read started after the newest trade listed."""
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "w.sqlite", symbols=[BTC],
                          price_source=ScriptedPrices({BTC: D(60000)}), clock=clock)
    try:
        client = in_process_client(BybitApi(paper))
        client.load_markets()
        start = clock.ms
        paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "old-1"})
        clock.advance(8 * 86_400)
        paper.create_order(BTC, "market", "sell", D("0.01"), None, {"clientOrderId": "new-1"})
        week = client.fetch_my_trades(BTC, start - 1, 100, {"until": start + 7 * 86_400_000})
        assert [t["info"]["orderLinkId"] for t in week] == ["old-1"]
        later = client.fetch_my_trades(BTC, start - 1, 100)
        assert sorted(t["info"]["orderLinkId"] for t in later) == ["new-1", "old-1"]
    finally:
        paper.close()
