"""Fencing covers sends, not only commits: two nodes trade one account on the shared paper
server (real server process, the bot's ccxt bybit gateway) under leases on a real PostgreSQL;
node A is cut off from the database, stops sending before its lease expires, node B takes over,
and the exchange's own order record shows no overlap."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from cluster import LeaseLost
from cluster.fenced_port import FencedExchange
from exchange.ccxt.factory import exchange_factory
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from tests.cluster.leases_support import (
    make_keeper,
    make_store,
    running,
    wait_acting,
    watch_first_flip,
)
from tests.exchange.paper_server.server_support import (
    API_KEY,
    API_SECRET,
    ServerProcess,
    bybit_client,
)
from tests.support.postgres import host_port, with_host_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def gateway(server: ServerProcess, tmp_path: Path, name: str) -> CcxtGateway:
    return CcxtGateway(exchange_factory("bybit", 3000, api_url=server.base_url),
                       credentials=Credentials(API_KEY, API_SECRET, source="test"),
                       markets_cache=tmp_path / f"{name}-markets.json", symbols=[BTC],
                       rate_limit_per_s=1000.0)


def test_cut_off_node_sends_nothing_and_the_survivor_trades_after_it(
    pg_url: str, tmp_path: Path,
) -> None:
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    observer = make_store(pg_url)
    host, port = host_port(pg_url)
    try:
        with TcpProxy(host, port) as proxy:
            keeper_a = make_keeper(make_store(with_host_port(pg_url, "127.0.0.1", proxy.port)),
                                   "node-a")
            keeper_b = make_keeper(make_store(pg_url), "node-b")
            node_a = FencedExchange(gateway(server, tmp_path, "a"), keeper_a)
            node_b = FencedExchange(gateway(server, tmp_path, "b"), keeper_b)
            with running(keeper_a):
                wait_acting(keeper_a, "node-a acquires", timeout=30)
                keeper_b.start()
                assert not keeper_b.may_act()
                with pytest.raises(LeaseLost):  # node-b does not hold the account
                    node_b.create_order(BTC, "market", "buy", D("0.001"), None,
                                        {"clientOrderId": "b-early"})
                sent_a = node_a.create_order(BTC, "market", "buy", D("0.01"), None,
                                             {"clientOrderId": "a-1"})
                watcher, flips = watch_first_flip(keeper_a, observer)
                proxy.cut()
                watcher.join(10)
                assert flips, "node-a never stopped acting"
                with pytest.raises(LeaseLost, match="node-a no longer holds account alpha"):
                    node_a.create_order(BTC, "market", "buy", D("0.01"), None,
                                        {"clientOrderId": "a-2"})
                taken = wait_acting(keeper_b, "node-b takes over")
                sent_b = node_b.create_order(BTC, "market", "sell", D("0.01"), None,
                                             {"clientOrderId": "b-1"})
                assert node_a.fetch_positions([BTC]) == []  # reads still work for node-a
                keeper_b.stop(release=True)
            node_a.close()
            node_b.close()
        # the exchange's record: only a-1 then b-1, and a-1 before node-a stopped acting,
        # b-1 after node-b's lease began (server and database share this machine's clock)
        trades = bybit_client(server).fetch_my_trades(BTC)
        assert [t["order"] for t in trades] == [sent_a.id, sent_b.id]
        assert sent_a.timestamp is not None and sent_a.timestamp <= flips[0].db_now_ms
        assert sent_b.timestamp is not None and sent_b.timestamp >= taken.renewed_at_ms
        client = bybit_client(server)
        for cid in ("a-2", "b-early"):  # never reached the exchange
            assert client.fetch_canceled_and_closed_orders(BTC, None, None,
                                                           {"orderLinkId": cid}) == []
            assert client.fetch_open_orders(BTC, None, None, {"orderLinkId": cid}) == []
    finally:
        assert server.stop() == 0
