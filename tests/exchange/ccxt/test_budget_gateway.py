"""The real gateway (real ccxt classes, real HTTP) against emulators that enforce the venues'
documented limits: the budget counts what the venue counts, obeys its headers and refusals,
and a replaced incarnation's retry never goes out."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.budget import BudgetRefused
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from exchange.fence import CallScope, FenceBoard, Fenced, call_scope
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    FakeTime,
    factory_for,
    gateway_on_emulator,
    start_emulator,
)
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter, BybitLimiter

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_binance_weight_counted_like_the_venue(tmp_path):
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        spent_before, venue_before = sum(gw.meter.venue.ip.spent.values()), limiter.weight_total
        gw.fetch_tickers([BTC, ETH])
        gw.fetch_positions()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "w-1"})
        gw.poll_updates(0, symbols=[BTC, ETH])
        spent = sum(gw.meter.venue.ip.spent.values()) - spent_before
        assert spent == limiter.weight_total - venue_before == 2 + 40 + 1 + 5 + 5 + 5
        # (the bot's estimate is the venue's count: prices 2 and the first 24 h volume read
        # 40 (then once a minute, rest_tickers.py), order 1 (its fee is read
        # later, by the order's lookup), positions 5; the poll: one all-symbol positions 5,
        # then userTrades 5 for BTC only, the one symbol with a recent order: ETH costs nothing)
        assert limiter.refused == 0
        budget = gw.status()["budget"]["ip"]
        assert budget["unit"] == "weight" and budget["spent"]["polling"] >= 42


def test_binance_used_weight_header_stops_polling_before_a_429(tmp_path):
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "o-1"})
        limiter.used = 2350  # another program on the same IP spent most of this minute
        gw.fetch_tickers([BTC, ETH])  # prices 2, the first 24 h volume read 40
        with pytest.raises(BudgetRefused):
            gw.fetch_tickers([BTC, ETH])  # polling waits at most 5 s; the header says: not now
        assert len(emu.hits("/fapi/v1/ticker/24hr")) == 1 and limiter.refused == 0
        # a protective call still goes at once: polling did not take its share (and its fee
        # is not read before it returns: a later lookup reads it)
        asked_at = fake.now
        gw.create_order(BTC, "market", "sell", D("0.01"), None,
                        {"clientOrderId": "c-1", "reduceOnly": True})
        posts = [t for t, m, p in limiter.admitted if (m, p) == ("POST", "/fapi/v1/order")]
        assert len(posts) == 2 and posts[-1] == asked_at


def test_binance_429_blocks_until_retry_after(tmp_path):
    fake = FakeTime()
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake,
                             rate_limit_per_s=None) as (gw, emu):
        emu.fail_next("/fapi/v3/positionRisk", status=429,
                      body={"code": -1003, "msg": "Too many requests"},
                      headers={"Retry-After": "7", "X-MBX-USED-WEIGHT-1M": "2401"})
        before = fake.now
        gw.fetch_positions()
        assert fake.now - before >= 7.0  # waited out the venue's reset, then asked once more
        assert len([r for r in emu.requests if r.path.endswith("positionRisk")]) == 2


def test_bybit_limit_headers_make_the_bot_wait_instead_of_asking(tmp_path):
    fake = FakeTime()
    limiter = BybitLimiter(uid_limits={"/v5/position/list": 1}, clock=fake.clock)
    with gateway_on_emulator("bybit", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        gw.fetch_positions([BTC])  # X-Bapi-Limit-Status: 0 left for this second
        start = fake.now
        gw.fetch_positions([BTC])
        assert fake.now - start >= 1.0  # waited for the rolling second instead of asking
        assert len(emu.hits("/v5/position/list")) == 2 and limiter.refused == 0
        # a 10006 refusal: nothing is sent again before its reset timestamp
        reset_ms = int((fake.now + 3.0) * 1000)
        emu.fail_next("/v5/position/list", body={"retCode": 10006, "retMsg": "Too many visits!",
                                                 "result": {}, "retExtInfo": {}},
                      headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "1",
                               "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)})
        gw.fetch_positions([BTC])
        hits = emu.hits("/v5/position/list")
        assert len(hits) == 4 and fake.now * 1000 >= reset_ms


def test_a_replaced_incarnation_sends_no_retry(tmp_path):
    """The actor's create gets a 429; during the backoff a newer incarnation takes the symbol's
    fence: the retry is not sent (the emulator's request log has one create only)."""
    fake = FakeTime()
    fences = FenceBoard()
    emu = start_emulator("bybit")

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if seconds >= 0.5:  # the retry backoff (not a budget wait): the supervisor restarts
            fences.issue(BTC)

    try:
        gw = CcxtGateway(factory_for("bybit", emu), markets_cache=tmp_path / "m.json",
                         credentials=Credentials(API_KEY, API_SECRET, source="test"),
                         clock=fake.clock, monotonic=fake.clock, sleep=sleep,
                         rng=random.Random(7), symbols=[BTC, ETH])
        gw.load_markets()
        emu.fail_next("/v5/order/create", status=429, body={"retCode": 10006,
                                                            "retMsg": "Too many visits!"})
        old = fences.issue(BTC)
        with call_scope(CallScope(fence=old)), pytest.raises(Fenced):
            gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "z-1"})
        assert len(emu.hits("/v5/order/create")) == 1
        with call_scope(CallScope(fence=old)), pytest.raises(Fenced):
            gw.fetch_positions([BTC])  # and nothing else either
        assert emu.hits("/v5/position/list") == []
    finally:
        emu.stop()


def test_an_entry_refused_by_the_budget_sends_nothing(tmp_path):
    fake = FakeTime()
    with gateway_on_emulator("bybit", tmp_path, fake=fake, rate_limit_per_s=None) as (gw, emu):
        gw.meter.venue.ip.block_for(60)  # e.g. after the venue's "too many"
        with pytest.raises(errors.RateLimited):
            gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        assert emu.hits("/v5/order/create") == []


def test_each_port_call_is_paid_at_its_priority(tmp_path):
    fake = FakeTime()
    with gateway_on_emulator("bybit", tmp_path, fake=fake, rate_limit_per_s=None) as (gw, emu):
        ip = gw.meter.venue.ip

        def paid(call) -> dict[str, float]:  # noqa: ANN001
            before = dict(ip.spent)
            call()
            return {p.name.lower(): ip.spent[p] - before[p] for p in ip.spent
                    if ip.spent[p] != before[p]}

        assert set(paid(lambda: gw.fetch_tickers([BTC]))) == {"polling"}
        assert set(paid(lambda: gw.poll_updates(0))) == {"polling"}
        # the entry itself; the re-fetch of Bybit's sparse answer settles what was sent, and
        # its answer (the fill) decides the entry's stop: protective (at an entry's 2 s bound
        # its refusal escaped as "nothing sent"; at reconcile priority it waited for budget
        # while the position had no stop)
        assert set(paid(lambda: gw.create_order(BTC, "market", "buy", D("0.01"), None,
                                                {"clientOrderId": "p-1"}))) == {"entry",
                                                                                "protective"}
        stop = None

        def place() -> None:
            nonlocal stop
            stop = gw.place_stop(BTC, "sell", D("0.01"), D("49000"), "p-s")

        assert set(paid(place)) == {"protective"}
        assert set(paid(lambda: gw.move_stop(BTC, stop, D("49500"), "p-s2"))) == {"protective"}
        assert set(paid(lambda: gw.cancel_order(None, BTC, {"clientOrderId": "p-s"}))) \
            == {"protective"}
        assert set(paid(lambda: gw.create_order(BTC, "market", "sell", D("0.01"), None, {
            "clientOrderId": "p-c", "reduceOnly": True}))) == {"protective"}
        assert set(paid(lambda: gw.fetch_positions([BTC]))) == {"reconcile"}


def test_gap_fill_and_a_reconciles_price_read_go_out_when_polling_cannot(tmp_path):
    """While the budget is too short for polling, the streams' gap fill (MarketFeed.poll_fills)
    and a reconciliation's price read still go out: both run at reconcile priority. At polling
    priority the gap fill starved while the streams were down (reconciliations filled the
    budget), and since the streams count as up only after it, they stayed down."""
    from loguru import logger

    from actors.exchange_snapshot import last_price
    from actors.market_feed import MarketFeed
    from runtime.exchanges import fills_poller

    fake = FakeTime(start=1_700_000_030.0)  # 10 s before the venue's minute turns
    limiter = BinanceWeightLimiter(clock=fake.clock)

    def minute_nearly_spent() -> None:
        limiter.used = 2390  # another program on the same IP spent most of this minute
        gw.fetch_my_trades(BTC)  # the answer's header says so: nothing until :00

    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "o-1"})
        minute_nearly_spent()
        with pytest.raises(BudgetRefused):
            gw.fetch_tickers([BTC])  # a poll's price: refused
        tickers = len(emu.hits("/fapi/v1/ticker/24hr"))
        assert last_price(gw, BTC) is not None  # a reconciliation's: waits for :00, goes
        assert len(emu.hits("/fapi/v1/ticker/24hr")) == tickers + 1
        fake.sleep(50 - fake.clock() % 60)  # :50 of the next minute
        minute_nearly_spent()
        with pytest.raises(BudgetRefused):
            gw.poll_updates(0, symbols=[BTC, ETH])  # a fills poll: refused
        trades = len(emu.hits("/fapi/v1/userTrades"))
        feed = MarketFeed(exchange=gw, symbols=[BTC, ETH], deliver=lambda s, m: True,
                          interval_s=1.0, own_prefix="o-", logger=logger,
                          fetch_fills=fills_poller(gw, [BTC, ETH]))
        feed.poll_fills()  # the same read as the streams' gap fill: waits, goes
        assert len(emu.hits("/fapi/v1/userTrades")) > trades
        assert limiter.refused == 0


def test_binance_spent_minute_sends_nothing_before_it_turns(tmp_path):
    """Binance counts weight per fixed minute. Once its header says the minute is spent, a
    local refill must not let a call out before the minute turns (that call is a 429, and
    repeated 429s are an IP ban): a reconciliation that cannot wait that long (40 s here, its
    bound is 30 s) is refused locally, and the venue refuses nothing."""
    from actors.exchange_snapshot import last_price

    fake = FakeTime()  # 40 s before the venue's minute turns
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "o-1"})
        limiter.used = 2350
        gw.fetch_tickers([BTC, ETH])  # 2 + 40: the header now says 2392 of 2400
        with pytest.raises(BudgetRefused, match="reconcile call"):
            for _ in range(3):
                gw.fetch_my_trades(BTC)  # weight 5 each, reconcile priority
            last_price(gw, BTC)
        assert limiter.refused == 0


def test_binance_balance_read_weighs_what_the_venue_counts(tmp_path):
    # GET /fapi/v3/account (ccxt's fetch_balance) weighs 5 on Binance; ccxt 4.5.90's table
    # says 1, so each balance read spent 4 weight the budget never saw
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        spent_before, venue_before = sum(gw.meter.venue.ip.spent.values()), limiter.weight_total
        gw.fetch_balance()
        assert len(emu.hits("/fapi/v3/account")) == 1
        spent = sum(gw.meter.venue.ip.spent.values()) - spent_before
        assert spent == limiter.weight_total - venue_before == 5


def test_bybit_ip_limit_refusal_blocks_the_ip_not_only_the_endpoint(tmp_path):
    """retCode 10018 is Bybit's per-IP limit ("Exceeded the IP Rate Limit"), not the UID's
    endpoint limit: it blocked only the endpoint that drew it, so every other endpoint kept
    sending from the IP that was over its limit (the next step is a 10-minute 403 ban)."""
    fake = FakeTime()
    with gateway_on_emulator("bybit", tmp_path, fake=fake, rate_limit_per_s=None) as (gw, emu):
        emu.fail_next("/v5/position/list", body={"retCode": 10018, "retMsg": "Exceeded the IP "
                                                 "Rate Limit", "result": {}, "retExtInfo": {}})
        blocks: list[float] = []
        gw.meter.venue.ip.on_block = blocks.append
        gw.fetch_positions([BTC])  # retried after the block
        assert blocks and blocks[0] >= 5.0  # the IP's window (5 s): no reset was named
        assert len(emu.hits("/v5/position/list")) == 2
