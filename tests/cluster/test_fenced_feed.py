"""A cluster node's account feed reads its fills through the lease-fenced port (FencedExchange)
as a single bot's does through the gateway: real gateway against the Binance emulator."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import OrderActivity
from cluster.fenced_port import FencedExchange
from exchange.counting import CountingPort
from runtime.exchanges import fills_poller
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class HeldLease:
    """The node holds the account's lease (reads never ask)."""

    account, node_id = "main", "node-a"

    def acting_lease(self) -> object:
        return object()

    def last_lease(self) -> None:
        return None


def test_a_nodes_feed_reads_binance_fills_through_the_fenced_port(tmp_path: Path) -> None:
    """FencedExchange had no poll_updates, so a node's feed fell back to fetch_my_trades(None,
    since), which Binance refuses without a symbol (ccxt ArgumentsRequired): every REST fills
    poll and every streams' gap fill failed, no fill came from REST, and the streams never
    counted as up (their gap never read)."""
    emu = start_emulator("binanceusdm")
    fake = FakeTime()
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
    port = FencedExchange(CountingPort(gw), HeldLease())  # type: ignore[arg-type]
    delivered: list[tuple[str, object]] = []
    feed = MarketFeed(exchange=port, symbols=[BTC, ETH],  # type: ignore[arg-type]
                      deliver=lambda s, m: delivered.append((s, m)) or True, interval_s=1,
                      own_prefix="main-t1-", logger=logger, clock=fake.clock,
                      fetch_fills=fills_poller(port, [BTC, ETH]),  # type: ignore[arg-type]
                      gap_fills=fills_poller(port, [BTC, ETH], forced=True))  # type: ignore[arg-type]
    try:
        gw.load_markets()
        port.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "main-t1-1"})
        feed.poll_once()  # the REST feed's poll
        feed.poll_fills()  # the streams' gap fill
        assert [(s, m.client_order_ids) for s, m in delivered
                if isinstance(m, OrderActivity)] == [(BTC, ("main-t1-1",))]
        # the streams pay their REST calls from the gateway's budget and take its markets
        assert getattr(port, "meter", None) is gw.meter
        assert getattr(port, "markets", lambda: None)() is gw.markets()
    finally:
        gw.close()
        emu.stop()
