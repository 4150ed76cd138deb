"""The bot's own exchange gateway (CcxtGateway over ccxt bybit, built by the same factory the
bot uses for `exchange.api_url`) trading on the shared paper server, from two "nodes"."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange import errors
from exchange.ccxt.factory import exchange_factory
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from tests.exchange.paper_server.server_support import (
    API_KEY,
    API_SECRET,
    ServerProcess,
    bybit_client,
)

BTC = "BTC/USDT:USDT"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    yield proc
    assert proc.stop() == 0


def node_gateway(server: ServerProcess, tmp_path: Path, name: str) -> CcxtGateway:
    return CcxtGateway(exchange_factory("bybit", 5000, api_url=server.base_url),
                       credentials=Credentials(API_KEY, API_SECRET, source="test"),
                       markets_cache=tmp_path / f"{name}-markets.json", symbols=[BTC])


def test_gateway_entry_stop_lookup_and_cancel_across_two_nodes(
    server: ServerProcess, tmp_path: Path,
) -> None:
    one, two = node_gateway(server, tmp_path, "one"), node_gateway(server, tmp_path, "two")
    try:
        entry = one.create_order(BTC, "market", "buy", D("0.01"), None,
                                 {"clientOrderId": "a-e1-1"})
        assert entry.status == "closed" and entry.filled == D("0.01")
        last = one.fetch_tickers([BTC])[BTC].last
        assert last is not None
        stop_px = one.price_to_precision(BTC, last * D("0.8"))
        stop = one.place_stop(BTC, "sell", D("0.01"), stop_px, "a-s1-1")
        assert stop.status == "open" and stop.trigger_price == stop_px

        # the other node finds the same orders by our client ids, and the same position
        seen = two.fetch_order(None, BTC, {"clientOrderId": "a-s1-1"})
        assert seen.id == stop.id and seen.status == "open"
        assert two.fetch_order(None, BTC, {"clientOrderId": "a-e1-1"}).status == "closed"
        positions = two.fetch_positions([BTC])
        assert [(p.side, p.contracts) for p in positions] == [("long", D("0.01"))]
        assert [t.client_order_id for t in two.fetch_my_trades(BTC)] == ["a-e1-1"]

        canceled = two.cancel_order(None, BTC, {"clientOrderId": "a-s1-1"})
        assert canceled.status == "canceled"
        assert one.fetch_open_orders(BTC) == []
        assert one.fetch_order(None, BTC, {"clientOrderId": "a-s1-1"}).status == "canceled"
    finally:
        one.close()
        two.close()


def test_gateway_reads_every_fill_page_by_bybit_cursor(
    server: ServerProcess, tmp_path: Path,
) -> None:
    client = bybit_client(server)
    gateway = node_gateway(server, tmp_path, "pager")
    try:
        since = int(client.fetch_time())
        for i in range(130):  # 130 fills: the gateway asks 100 a page
            client.create_order(BTC, "market", "buy" if i % 2 == 0 else "sell", 0.001, None,
                                {"clientOrderId": f"f-{i}"})
        fills = gateway.poll_updates(since - 1, [BTC])
        assert sorted(f.client_order_id or "" for f in fills) == sorted(
            f"f-{i}" for i in range(130))
        assert len({f.id for f in fills}) == 130
    finally:
        gateway.close()


def test_a_listing_by_settle_coin_lists_that_coins_symbols_only(tmp_path: Path) -> None:
    """The gateway reads Bybit's symbol-less listings once per settle coin of its symbols
    (settleCoin=USDT, then USDC); the paper server ignored settleCoin and answered every
    symbol each time, so each position and open order was listed twice: the sweep saw twice
    each position's size and sent a Reconcile every sweep."""
    usdc = "BTC/USDC:USDC"
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite",
                           symbols=f"{BTC},{usdc}").start()
    gateway = CcxtGateway(exchange_factory("bybit", 5000, api_url=server.base_url),
                          credentials=Credentials(API_KEY, API_SECRET, source="test"),
                          markets_cache=tmp_path / "markets.json", symbols=[BTC, usdc])
    try:
        for symbol, cid in ((BTC, "a-e1-1"), (usdc, "a-e2-1")):
            gateway.create_order(symbol, "market", "buy", D("0.01"), None, {"clientOrderId": cid})
            last = gateway.fetch_tickers([symbol])[symbol].last
            assert last is not None
            gateway.create_order(symbol, "limit", "buy", D("0.01"),
                                 gateway.price_to_precision(symbol, last * D("0.5")),
                                 {"clientOrderId": cid.replace("e", "l")})
        assert sorted((p.symbol, p.contracts) for p in gateway.fetch_positions(None)) == [
            (usdc, D("0.01")), (BTC, D("0.01"))]
        assert sorted(o.client_order_id or "" for o in gateway.fetch_open_orders(None)) == [
            "a-l1-1", "a-l2-1"]
    finally:
        gateway.close()
        assert server.stop() == 0


def test_gateway_sets_leverage_on_the_paper_server(server: ServerProcess, tmp_path: Path) -> None:
    """The bot sets `risk.leverage` before a symbol's first entry (actors/leverage.py); on the
    paper server as on Bybit: set, unchanged (110043) as success, above the maximum refused."""
    node = node_gateway(server, tmp_path, "one")
    try:
        node.set_leverage(3, BTC)
        node.set_leverage(3, BTC)  # "leverage not modified": success
        with pytest.raises(errors.BadRequest, match="leverage invalid"):
            node.set_leverage(101, BTC)
    finally:
        node.close()
