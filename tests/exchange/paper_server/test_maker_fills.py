"""A resting limit order filled by a later price is a maker fill, and the paper server's
executions say so as Bybit's do: read by the real ccxt `bybit` class (4.5.90's unified trade:
`type`, `takerOrMaker`, `fee.rate`), it is a limit order's maker fill charged the maker rate;
a market order's fill stays a taker fill at the taker rate."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

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
def prices() -> ScriptedPrices:
    return ScriptedPrices({BTC: D(60000)})


@pytest.fixture
def paper(tmp_path: Path, clock: FakeClock, prices: ScriptedPrices) -> Iterator[PaperExchange]:
    exchange = PaperExchange(store_path=tmp_path / "p.sqlite", symbols=[BTC],
                             price_source=prices, clock=clock, maker_fee=D("0.0002"),
                             taker_fee=D("0.00055"))
    yield exchange
    exchange.close()


def test_a_resting_limit_fill_reads_as_a_maker_fill_at_the_maker_rate(
    paper: PaperExchange, clock: FakeClock, prices: ScriptedPrices,
) -> None:
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    paper.create_order(BTC, "limit", "buy", D("0.01"), D("59000"), {"clientOrderId": "rest-1"})
    Market(clock, prices).move(BTC, "58900")  # through the resting bid: filled at 59000
    paper.create_order(BTC, "market", "sell", D("0.01"), None, {"clientOrderId": "mkt-1"})

    trades = {t["info"]["orderLinkId"]: t for t in client.fetch_my_trades(BTC)}
    maker, taker = trades["rest-1"], trades["mkt-1"]
    assert (maker["type"], maker["takerOrMaker"]) == ("limit", "maker")
    assert maker["price"] == 59000.0 and maker["info"]["orderPrice"] == "59000"
    assert maker["fee"]["rate"] == 0.0002
    assert D(str(maker["fee"]["cost"])) == D("0.118")  # 590 USDT at the maker rate
    assert (taker["type"], taker["takerOrMaker"]) == ("market", "taker")
    assert taker["fee"]["rate"] == 0.00055


def test_a_triggered_stop_fill_reads_as_a_stop_orders_taker_fill(
    paper: PaperExchange, clock: FakeClock, prices: ScriptedPrices,
) -> None:
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
    paper.create_order(BTC, "market", "sell", D("0.01"), None,
                       {"clientOrderId": "s-1", "stopLossPrice": D(59000)})
    Market(clock, prices).move(BTC, "58900")

    [stop] = [t for t in client.fetch_my_trades(BTC) if t["info"]["orderLinkId"] == "s-1"]
    assert (stop["type"], stop["takerOrMaker"]) == ("market", "taker")
    assert stop["info"]["stopOrderType"] == "Stop"
    assert stop["fee"]["rate"] == 0.00055


def test_orders_say_the_time_in_force_bybit_gives_them(paper: PaperExchange) -> None:
    """Bybit answers a market order's timeInForce as IOC ("Market order will use IOC
    directly"); ccxt's unified order reads it from there."""
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    market = paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "m-1"})
    limit = paper.create_order(BTC, "limit", "buy", D("0.01"), D("59000"),
                               {"clientOrderId": "l-1"})
    assert client.fetch_closed_order(str(market.id), BTC)["timeInForce"] == "IOC"
    [resting] = client.fetch_open_orders(BTC)
    assert resting["id"] == str(limit.id) and resting["timeInForce"] == "GTC"


def test_a_resting_limit_orders_fill_time_is_when_it_filled_not_when_it_was_placed(
    paper: PaperExchange, clock: FakeClock, prices: ScriptedPrices,
) -> None:
    """Bybit's `updatedTime` (ccxt's lastTradeTimestamp, the gateway's `last_fill_at`) of a
    limit order that rested, then filled: the fill's time, which reconciliation journals as
    the fill's `filled_at`; its creation time would date the fill to when it was placed."""
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    placed = paper.create_order(BTC, "limit", "buy", D("0.01"), D("59000"),
                                {"clientOrderId": "rest-2"})
    Market(clock, prices).move(BTC, "59500", "58900", step_s=30)  # filled a minute later
    filled = paper.fetch_order(str(placed.id), BTC)
    assert filled.last_fill_at == placed.timestamp + 60_000
    assert convert.order(client.fetch_closed_order(str(placed.id), BTC), settle="USDT") == filled


def test_an_open_positions_unrealized_pnl_and_mark_read_back_as_the_paper_exchange_says(
    paper: PaperExchange, clock: FakeClock, prices: ScriptedPrices,
) -> None:
    """The position row's `unrealisedPnl` and `markPrice` (ccxt's unrealizedPnl / markPrice,
    the gateway's VenuePosition): after the price moved, the P&L the status shows is the paper
    exchange's, not a 0 read from a row that never carried it."""
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    paper.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "long-1"})
    Market(clock, prices).move(BTC, "61000")
    [mine] = paper.fetch_positions([BTC])
    assert mine.unrealized_pnl is not None and mine.unrealized_pnl > 0
    [raw] = [p for p in client.fetch_positions([BTC]) if p["contracts"]]
    theirs = convert.position(raw)
    assert (theirs.unrealized_pnl, theirs.mark_price) == (mine.unrealized_pnl, mine.mark_price)
