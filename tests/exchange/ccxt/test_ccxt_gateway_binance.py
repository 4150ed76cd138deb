"""CcxtGateway over a REAL ccxt.binanceusdm talking to the local /fapi emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.errors import OrderOutcomeUnknown
from tests.exchange.ccxt.ccxt_fixtures import (
    HELD_TIMEOUT_MS,
    FakeTime,
    make_gateway,
    start_emulator,
)

BTC = "BTC/USDT:USDT"


@pytest.fixture
def emu():
    server = start_emulator("binanceusdm")
    yield server
    server.stop()


@pytest.fixture
def gw(emu, tmp_path):
    gateway = make_gateway("binanceusdm", emu, tmp_path)
    gateway.load_markets()
    emu.clear()
    yield gateway
    gateway.close()


def test_markets_cached_then_reused_without_exchange_info(emu, tmp_path):
    cache = tmp_path / "b.json"
    make_gateway("binanceusdm", emu, tmp_path, cache=cache).load_markets()
    assert len(emu.hits("/fapi/v1/exchangeInfo")) == 1
    gw = make_gateway("binanceusdm", emu, tmp_path, cache=cache)
    assert gw.market(BTC).min_cost == D("100")
    assert len(emu.hits("/fapi/v1/exchangeInfo")) == 1


def test_entry_uses_new_client_order_id(gw, emu):
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e.1:a/b"})
    sent = emu.hits("/fapi/v1/order", "POST")[0].params
    assert sent["newClientOrderId"] == "e.1:a/b" and sent["type"] == "MARKET"
    assert sent["quantity"] == "0.01"
    assert order.status == "closed" and order.filled == D("0.01")


def test_stop_goes_to_the_algo_endpoint_and_moves_by_place_then_cancel(gw, emu):
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-2"})
    stop = gw.place_stop(BTC, "sell", D("0.01"), D("49000.06"), "s-1")
    sent = emu.hits("/fapi/v1/algoOrder", "POST")[0].params
    assert sent["algoType"] == "CONDITIONAL" and sent["type"] == "STOP_MARKET"
    assert sent["triggerPrice"] == "49000.1" and sent["reduceOnly"] == "true"
    assert sent["clientAlgoId"] == "s-1" and sent["side"] == "SELL"
    assert stop.status == "open" and stop.client_order_id == "s-1"

    emu.clear()
    moved = gw.move_stop(BTC, stop, D("49500"), "s-2")
    order_of_calls = [(r.method, r.path) for r in emu.requests if "algoOrder" in r.path]
    assert order_of_calls[:2] == [("POST", "/fapi/v1/algoOrder"), ("DELETE", "/fapi/v1/algoOrder")]
    assert emu.requests[1].params["clientAlgoId"] == "s-1"
    assert moved.client_order_id == "s-2" and moved.trigger_price == D("49500")
    assert [o.client_order_id for o in gw.fetch_open_orders(BTC)] == ["s-2"]

    found = gw.fetch_order(None, BTC, {"clientOrderId": "s-2"})
    assert found.trigger_price == D("49500")
    canceled = gw.cancel_order(None, BTC, {"clientOrderId": "s-2"})
    assert canceled.status == "canceled"


def test_hedge_mode_sends_position_side_instead_of_reduce_only(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path, hedge_mode=True)
    gw.place_stop(BTC, "sell", D("0.01"), D("49000"), "s-h")
    sent = emu.hits("/fapi/v1/algoOrder", "POST")[0].params
    assert sent["positionSide"] == "LONG" and "reduceOnly" not in sent
    gw.close()


def test_timeout_after_landing_found_by_client_id_once(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path, timeout_ms=HELD_TIMEOUT_MS)
    gw.load_markets()
    emu.fail_next("/fapi/v1/order", hold="after")
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "t-1"})
    assert order.client_order_id == "t-1"
    assert len(emu.hits("/fapi/v1/order", "POST")) == 1
    gw.close()


def test_binance_1007_on_create_is_ambiguous_and_looked_up(gw, emu):
    emu.fail_next("/fapi/v1/order", status=503,
                  body={"code": -1007, "msg": "Timeout waiting for response from backend "
                        "server. Send status unknown; execution status unknown."})
    with pytest.raises(OrderOutcomeUnknown):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "t-2"})
    assert len(emu.hits("/fapi/v1/order", "POST")) == 1
    assert emu.hits("/fapi/v1/order", "GET")[0].params["origClientOrderId"] == "t-2"


def test_rate_limit_429_backs_off_and_insufficient_margin_does_not(gw, emu):
    emu.fail_next("/fapi/v1/order", status=429, body={"code": -1003, "msg": "Too many requests"})
    assert gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "r-1"})
    assert len(emu.hits("/fapi/v1/order", "POST")) == 2
    emu.clear()
    emu.fail_next("/fapi/v1/order", body={"code": -2019, "msg": "Margin is insufficient."},
                  status=400)
    with pytest.raises(errors.InsufficientFunds):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "f-1"})
    assert len(emu.hits("/fapi/v1/order", "POST")) == 1


def test_unknown_order_cancel_tries_both_books_then_raises(gw, emu):
    with pytest.raises(errors.OrderNotFound):
        gw.cancel_order(None, BTC, {"clientOrderId": "ghost"})
    assert [r.path for r in emu.requests] == ["/fapi/v1/order", "/fapi/v1/algoOrder"]


def test_positions_filter_zero_and_trades_polled_per_active_symbol(gw, emu):
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "p-1"})
    emu.clear()  # the order's own trades were read for its fee (issue 12)
    positions = gw.fetch_positions()
    assert [(p.symbol, p.contracts) for p in positions] == [(BTC, D("0.01"))]
    # since a minute ago (userTrades answers at most 7 days from startTime: 0 reads 1970)
    fills = gw.poll_updates(emu.venue.book.now_ms - 60_000, symbols=[BTC])
    assert [(f.client_order_id, f.price) for f in fills] == [("p-1", D("50000"))]
    assert [r.params["symbol"] for r in emu.hits("/fapi/v1/userTrades")] == ["BTCUSDT"]


def test_one_symbols_price_reads_its_own_ticker_not_all_symbols(gw, emu):
    """A reconcile asks one symbol's price: the symbol's ticker (weight 1), never the all-symbol
    read (a reconcile of each of 500 symbols would cost 500 such reads)."""
    (ticker,) = gw.fetch_tickers([BTC]).values()
    assert ticker.last == D("50000")
    assert [r.params.get("symbol") for r in emu.hits("/fapi/v1/ticker/24hr")] == ["BTCUSDT"]
    spent = gw.meter.venue.ip.spent
    before = sum(spent.values())
    assert set(gw.fetch_tickers([BTC, "ETH/USDT:USDT"])) == {BTC, "ETH/USDT:USDT"}
    # several symbols: the all-symbol price ticker (2), and the 24 h volumes' all-symbol read
    # (40) the first time (then once a minute: rest_tickers.py)
    assert sum(spent.values()) - before == 2 + 40
    assert [r.params.get("symbol") for r in emu.hits("/fapi/v2/ticker/price")] == [None]
    assert emu.hits("/fapi/v1/ticker/24hr")[-1].params.get("symbol") is None


def test_a_stop_filled_long_after_the_entry_is_polled_once_a_reconcile_saw_the_position(
        emu, tmp_path):
    """While the streams carry fills the REST poll does not run; when the socket drops and the
    stop fills meanwhile, the first poll finds the symbol flat. The reconcile's position read
    (long before) marked it as holding, so the poll still asks for its trades."""
    fake = FakeTime()
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
    try:
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        assert [p.symbol for p in gw.fetch_positions([BTC])] == [BTC]  # a reconcile's read
        fake.sleep(600)  # ten minutes later, the entry is no longer a recent order
        book = emu.venue.book
        since_ms = book.now_ms + 1  # after the entry's fill
        book.place(cid="stop-fill", symbol="BTCUSDT", side="sell", type="market", qty=D("0.01"),
                   price=None, trigger=None, trigger_direction=None, reduce_only=True,
                   extra={})
        assert book.position("BTCUSDT")[0] == 0
        fills = gw.poll_updates(since_ms, symbols=[BTC, "ETH/USDT:USDT"])
        assert [f.client_order_id for f in fills] == ["stop-fill"]
        assert [r.params["symbol"] for r in emu.hits("/fapi/v1/userTrades")][-1:] == ["BTCUSDT"]
        assert gw.poll_updates(since_ms, symbols=[BTC]) == []  # each fill once
        fake.sleep(120)  # flat for longer than the window: nothing more to read there
        emu.clear()
        assert gw.poll_updates(since_ms, symbols=[BTC]) == []
        assert emu.hits("/fapi/v1/userTrades") == []
    finally:
        gw.close()


def test_a_held_position_that_did_not_change_costs_no_trade_reads(emu, tmp_path):
    """userTrades weighs 5 per symbol: a position holding the same size since the last look
    has no new fill, so the poll asks nothing for it; a size change (here by hand) is asked."""
    fake = FakeTime()
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
    try:
        gw.create_order(BTC, "market", "buy", D("0.02"), None, {"clientOrderId": "h-1"})
        since_ms = emu.venue.book.now_ms - 1
        assert [f.client_order_id for f in gw.poll_updates(since_ms, symbols=[BTC])] == ["h-1"]
        fake.sleep(600)  # the entry is long past; the position is unchanged
        emu.clear()
        for _ in range(3):
            assert gw.poll_updates(since_ms, symbols=[BTC]) == []
        assert emu.hits("/fapi/v1/userTrades") == []  # three polls, no trade read
        assert len(emu.hits("/fapi/v3/positionRisk")) == 3  # one all-symbol read (5) each
        emu.venue.book.place(cid="by-hand", symbol="BTCUSDT", side="sell", type="market",
                             qty=D("0.005"), price=None, trigger=None, trigger_direction=None,
                             reduce_only=True, extra={})
        fills = gw.poll_updates(since_ms, symbols=[BTC])
        assert [f.client_order_id for f in fills] == ["by-hand"]
        assert [r.params["symbol"] for r in emu.hits("/fapi/v1/userTrades")] == ["BTCUSDT"]
    finally:
        gw.close()
