"""CcxtGateway over a REAL ccxt.bybit talking to the local Bybit v5 emulator."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.errors import OrderOutcomeUnknown
from tests.exchange.ccxt.ccxt_fixtures import (
    HELD_TIMEOUT_MS,
    FakeTime,
    factory_for,
    make_gateway,
    start_emulator,
)

BTC = "BTC/USDT:USDT"


@pytest.fixture
def emu():
    server = start_emulator("bybit")
    yield server
    server.stop()


@pytest.fixture
def gw(emu, tmp_path):
    gateway = make_gateway("bybit", emu, tmp_path)
    gateway.load_markets()
    emu.clear()
    yield gateway
    gateway.close()


def creates(emu):
    return emu.hits("/v5/order/create", "POST")


def test_markets_from_cache_do_not_hit_the_market_endpoint(emu, tmp_path):
    cache = tmp_path / "m.json"
    first = make_gateway("bybit", emu, tmp_path, cache=cache)
    first.load_markets()
    first.close()
    assert emu.hits("/v5/market/instruments-info")
    assert json.loads(cache.read_text())["exchange"] == "bybit"
    emu.clear()
    second = make_gateway("bybit", emu, tmp_path, cache=cache)
    markets = second.load_markets()
    assert {BTC, "ETH/USDT:USDT"} <= set(markets)
    assert second.market(BTC).min_amount == D("0.001")
    assert not emu.hits("/v5/market/instruments-info")
    second.close()


def test_entry_market_order_is_refetched_into_a_full_decimal_order(gw, emu):
    order = gw.create_order(BTC, "market", "buy", D("0.0105"), None, {"clientOrderId": "e-1"})
    sent = creates(emu)[0].params
    assert sent["qty"] == "0.01" and sent["orderLinkId"] == "e-1" and sent["side"] == "Buy"
    assert order.status == "closed" and order.client_order_id == "e-1"
    assert order.filled == D("0.01") and isinstance(order.average, D)
    assert emu.hits("/v5/order/realtime")  # Bybit create returns ids only -> re-fetched


def test_place_move_cancel_stop_send_reduce_only_trigger_fields(gw, emu):
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-2"})
    stop = gw.place_stop(BTC, "sell", D("0.01"), D("49000.04"), "s-1")
    sent = creates(emu)[-1].params
    assert sent["orderType"] == "Market" and sent["side"] == "Sell"
    assert sent["triggerPrice"] == "49000" and sent["triggerDirection"] == 2
    assert sent["reduceOnly"] is True and sent["orderLinkId"] == "s-1"
    assert stop.status == "open" and stop.trigger_price == D("49000")

    moved = gw.move_stop(BTC, stop, D("49500"), "s-2")
    amend = emu.hits("/v5/order/amend", "POST")[0].params
    assert amend["orderId"] == stop.id and amend["triggerPrice"] == "49500"
    assert moved.trigger_price == D("49500") and moved.client_order_id == "s-1"
    assert len(creates(emu)) == 2  # amended in place, no second stop

    canceled = gw.cancel_order(None, BTC, {"clientOrderId": "s-1"})
    assert emu.hits("/v5/order/cancel", "POST")[0].params["orderLinkId"] == "s-1"
    assert canceled.status == "canceled"
    assert gw.fetch_order(None, BTC, {"clientOrderId": "s-1"}).status == "canceled"


def test_buy_stop_for_a_short_rises_and_hedge_mode_sets_position_idx(emu, tmp_path):
    gw = make_gateway("bybit", emu, tmp_path, hedge_mode=True)
    gw.place_stop(BTC, "buy", D("0.01"), D("51000"), "s-h")
    sent = creates(emu)[-1].params
    assert sent["triggerDirection"] == 1 and sent["positionIdx"] == 2
    assert sent["reduceOnly"] is True
    gw.close()


def test_close_position_then_zero_contract_positions_are_ignored(gw, emu):
    gw.create_order(BTC, "market", "buy", D("0.02"), None, {"clientOrderId": "e-3"})
    assert [p.contracts for p in gw.fetch_positions()] == [D("0.02")]
    gw.create_order(BTC, "market", "sell", D("0.02"), None,
                    {"clientOrderId": "x-3", "reduceOnly": True})
    assert creates(emu)[-1].params["reduceOnly"] is True
    assert gw.fetch_positions() == []  # emulator still lists both symbols with size 0


def test_timeout_after_the_order_landed_is_resolved_by_client_id(emu, tmp_path):
    gw = make_gateway("bybit", emu, tmp_path, timeout_ms=HELD_TIMEOUT_MS)
    gw.load_markets()
    emu.fail_next("/v5/order/create", hold="after")
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "t-1"})
    assert order.client_order_id == "t-1" and order.status == "closed"
    assert len(creates(emu)) == 1
    gw.close()


def test_timeout_before_the_order_landed_raises_outcome_unknown_without_resend(emu, tmp_path):
    fake = FakeTime()
    gw = make_gateway("bybit", emu, tmp_path, timeout_ms=HELD_TIMEOUT_MS, fake=fake)
    gw.load_markets()
    emu.fail_next("/v5/order/create", hold="before")
    with pytest.raises(OrderOutcomeUnknown) as info:
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "t-2"})
    assert info.value.client_order_id == "t-2"
    assert len(creates(emu)) == 1
    assert len(emu.hits("/v5/order/realtime")) == 2  # looked up twice, one backoff apart
    gw.close()


def test_rate_limit_backs_off_then_succeeds(gw, emu):
    body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": 0}
    emu.fail_next("/v5/order/create", 2, body=body)
    order = gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "r-1"})
    assert order.client_order_id == "r-1"
    assert len(creates(emu)) == 3
    # FakeTime.sleep records the backoff waits, the rate budget's wait for the rest of the
    # venue's window after a 10006 (between the two backoffs) and tiny token-bucket waits
    waits = [w for w in gw.retry._sleep.__self__.sleeps if w >= 0.1]
    assert len(waits) in (2, 3) and waits[-1] > waits[0] >= 0.5
    assert not emu.hits("/v5/order/realtime", "GET")[:-1]  # no lookup before a rate-limit resend


def test_insufficient_funds_is_not_retried(gw, emu):
    body = {"retCode": 110007, "retMsg": "ab not enough for new order", "result": {}, "time": 0}
    emu.fail_next("/v5/order/create", body=body)
    with pytest.raises(errors.InsufficientFunds):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "f-1"})
    assert len(creates(emu)) == 1 and not emu.hits("/v5/order/realtime")


def test_cancel_unknown_order_raises_order_not_found(gw, emu):
    with pytest.raises(errors.OrderNotFound):
        gw.cancel_order(None, BTC, {"clientOrderId": "nope"})
    with pytest.raises(errors.OrderNotFound):
        gw.fetch_order("123", BTC)


def test_minimums_and_client_ids_are_checked_before_sending(gw, emu):
    with pytest.raises(errors.InvalidOrder, match="minimum"):
        gw.create_order(BTC, "market", "buy", D("0.0004"), None, {"clientOrderId": "m-1"})
    with pytest.raises(errors.InvalidOrder, match="minimum cost"):
        gw.create_order(BTC, "limit", "buy", D("0.001"), D("100"), {"clientOrderId": "m-2"})
    with pytest.raises(errors.InvalidOrder, match="clientOrderId"):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "a.b"})
    with pytest.raises(errors.InvalidOrder, match="clientOrderId"):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "x" * 37})
    assert creates(emu) == []


def test_reads_balance_tickers_and_polled_fills_are_decimal(gw, emu):
    since = emu.venue.book.now_ms  # the execution list answers 7 days from startTime at most
    gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "p-1"})
    assert gw.fetch_balance().funds("USDT").total > D("9999")
    assert gw.fetch_tickers([BTC])[BTC].last == D("50000")
    fills = gw.poll_updates(since)
    assert [(f.client_order_id, f.amount) for f in fills] == [("p-1", D("0.01"))]
    assert isinstance(fills[0].timestamp, int)
    assert gw.poll_updates(since) == []  # each fill reported once
    trade_reads = [r for r in emu.hits("/v5/execution/list")
                   if r.params.get("execType") == "Trade"]  # (+ liquidations, own_fills.py)
    assert len(trade_reads) == 2  # one call for all symbols


def test_each_thread_gets_its_own_ccxt_instance(emu, tmp_path):
    import threading

    created: list = []
    gw = make_gateway("bybit", emu, tmp_path, factory=factory_for("bybit", emu, created))
    gw.load_markets()
    emu.clear()
    seen: dict[int, object] = {}
    lock = threading.Lock()

    def work(i: int) -> None:
        gw.fetch_tickers([BTC])
        ex = gw.exchange_for_current_thread()
        with lock:
            seen[i] = ex

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len({id(ex) for ex in seen.values()}) == 6
    assert all(ex.enableRateLimit is False and ex.markets for ex in seen.values())
    assert not emu.hits("/v5/market/instruments-info")  # markets shared, not re-fetched
    gw.close()


@pytest.mark.parametrize("modes", [dict(sandbox=True, hedge_mode=True), dict(demo=True)],
                         ids=["sandbox-hedge", "demo"])
def test_the_venue_modes_of_the_settings_reach_the_gateway(modes):
    """exchange.sandbox / demo / hedge_mode from the settings decide which host and account
    the orders go to (testnet, demo, or the real money's) and how they are sided; the test
    above builds only with all three off, so dropping one went unseen."""
    from types import SimpleNamespace

    from exchange.ccxt.factory import gateway_from_settings

    settings = SimpleNamespace(**{"exchange": "bybit", "sandbox": False, "demo": False,
                                  "hedge_mode": False, "timeout_ms": 1500,
                                  "entry_max_wait_s": 0.25, **modes})
    gw = gateway_from_settings(settings, environ={})  # nothing is asked of the venue yet
    try:
        assert (gw.sandbox, gw.demo, gw.hedge_mode) == (
            modes.get("sandbox", False), modes.get("demo", False), modes.get("hedge_mode", False))
        # exchange.entry_max_wait_s: how long an entry may wait for budget before it is
        # refused (found by a mutation audit: the setting dropped here failed no test)
        assert gw.meter.waits.entry_s == 0.25
    finally:
        gw.close()


@pytest.mark.parametrize("modes, host", [({}, "wss://stream.{hostname}/"),
                                         (dict(demo=True), "wss://stream-demo.{hostname}/"),
                                         (dict(sandbox=True), "wss://stream-testnet.{hostname}/")],
                         ids=["live", "demo", "sandbox"])
def test_the_streams_log_in_on_the_host_of_the_accounts_mode(modes, host):
    """The private stream of a demo or testnet account goes to that mode's host, as its REST
    calls do (runtime/stream_wiring.py passes exchange.sandbox / demo to the streams' factory).
    Found by a mutation audit: the factory ignoring `demo` failed no test; the demo keys' login
    would then be refused on the real-money host, every stream down and REST polling alone."""
    import asyncio

    from exchange.ccxt.factory import pro_exchange_factory

    async def private_url() -> str:
        ex = pro_exchange_factory("bybit", None, **modes)()  # built in the streams' loop
        try:
            return str(ex.urls["api"]["ws"]["private"]["contract"])
        finally:
            await ex.close()

    assert asyncio.run(private_url()).startswith(host)


def test_built_from_settings_fields_and_satisfies_the_port(emu, tmp_path):
    from types import SimpleNamespace

    from exchange.ccxt.factory import gateway_from_settings
    from exchange.port import ExchangePort

    settings = SimpleNamespace(
        exchange="bybit", api_key_env="BOT_KEY", api_secret_env="BOT_SECRET",
        secrets_file=None, sandbox=False, demo=False, hedge_mode=False, stop_mode="exchange",
        markets_cache=str(tmp_path / "s.json"), rate_limit_per_s=100.0, timeout_ms=1500)
    emu.venue.keys = {"k-env": "s-env"}  # the venue knows the keys from the environment only
    gw = gateway_from_settings(settings, environ={"BOT_KEY": "k-env", "BOT_SECRET": "s-env"},
                               exchange_factory=factory_for("bybit", emu))
    assert isinstance(gw, ExchangePort) and gw.bucket.rate_per_s == 100.0
    ex = gw.exchange_for_current_thread()
    assert ex.timeout == 1500 and ex.apiKey == "k-env"
    assert gw.fetch_tickers([BTC])[BTC].last == D("50000")
    gw.close()
