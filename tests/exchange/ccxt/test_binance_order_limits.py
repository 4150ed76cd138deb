"""Binance USDⓈ-M's per-account new-order limits, 300 per 10 s and 1,200 per minute (over either:
429, -1015): the real meter on a fake clock keeps the bot inside both, and the real gateway
(real ccxt class, real HTTP) against the emulator enforcing them obeys the answers'
`X-MBX-ORDER-COUNT-10S` / `X-MBX-ORDER-COUNT-1M` headers."""

from __future__ import annotations

from bisect import bisect_left
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.budget import Priority, call_priority
from exchange.budget_meter import RequestMeter
from exchange.budget_venues import BINANCE_USDM, BudgetRegistry
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_limits import BINANCE_ORDER_LIMITS, BinanceWeightLimiter

BTC = "BTC/USDT:USDT"
SHARE = 0.5


def _most_in_any(window_s: float, times: list[float]) -> int:
    return max(bisect_left(times, t + window_s) - i for i, t in enumerate(times))


def test_new_orders_stay_inside_both_windows_of_the_bots_share():
    """Protective orders as fast as the meter lets them out, for two minutes: in any 10 s and
    any 60 s no more than the bot's share of the venue's limit (the buckets' documented 10 %
    edge allowance included)."""
    fake = FakeTime()
    venue = BudgetRegistry().venue(BINANCE_USDM, "fapi.binance.com", SHARE, clock=fake.clock,
                                   sleep=fake.sleep)
    meter = RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)
    start, sent = fake.now, []
    with call_priority(Priority.PROTECTIVE):  # stops and closes: never refused, only paced
        while fake.now < start + 120:
            meter.before(["fapiPrivate"], "POST", "order", 1)
            sent.append(fake.now)
    for window, limit in BINANCE_ORDER_LIMITS.items():
        assert _most_in_any(window, sent) <= limit * SHARE * 1.1, window


@pytest.mark.parametrize("window", sorted(BINANCE_ORDER_LIMITS))
def test_order_count_headers_stop_new_orders_before_the_venue_refuses(tmp_path, window):
    """Another program on the same account has placed nearly the window's limit: after the
    first order's answer says so, entries are refused locally and a close waits for the
    window to turn; the venue refuses nothing."""
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    emu = start_emulator("binanceusdm", limiter)
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=None)
        gw.load_markets()
        limit = BINANCE_ORDER_LIMITS[window]
        limiter.placed_elsewhere(limit - 5, windows=(window,))
        refused = 0
        for i in range(12):
            try:
                gw.create_order(BTC, "market", "buy", D("0.01"), None,
                                {"clientOrderId": f"n-{i}"})
            except errors.RateLimited:
                refused += 1
        assert limiter.refused == 0 and refused == 11 and limiter.orders_admitted == 1
        turns_at = (fake.now // window + 1) * window
        gw.create_order(BTC, "market", "sell", D("0.01"), None,
                        {"clientOrderId": "c-1", "reduceOnly": True})
        assert limiter.refused == 0 and limiter.orders_admitted == 2
        assert fake.now >= turns_at  # sent once the venue's window had turned
    finally:
        emu.stop()


def test_an_accounts_order_limit_refusal_does_not_block_the_ip(tmp_path):
    """-1015 (429, too many new orders) is the account's order limit, not the IP's weight: it
    blocked the IP budget every account of the process shares (protective calls included, and
    kept in venue_blocks.json across a restart) for a second. Only the order windows wait."""
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    emu = start_emulator("binanceusdm", limiter)
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=None)
        gw.load_markets()
        blocks: list[float] = []
        gw.meter.venue.ip.on_block = blocks.append
        limiter.placed_elsewhere(BINANCE_ORDER_LIMITS[10], windows=(10,))
        with pytest.raises(errors.RateLimited):
            gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "n-1"})
        assert limiter.refused >= 1  # the venue said -1015
        assert blocks == [] and gw.meter.venue.ip.status()["blocked_s"] == 0
        assert gw.meter.account.orders.status()["blocked_s"] > 0
    finally:
        emu.stop()


def test_an_order_limit_refusal_without_counts_still_stops_new_orders():
    fake = FakeTime()
    venue = BudgetRegistry().venue(BINANCE_USDM, "fapi.binance.com", SHARE, clock=fake.clock,
                                   sleep=fake.sleep)
    meter = RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)
    body = '{"code":-1015,"msg":"Too many new orders; current limit is 300 orders per 10 SECOND."}'
    assert meter.after(["fapiPrivate"], "order", {}, True, status=429,
                       error=f"binanceusdm 429 Too Many Requests {body}")
    assert venue.ip.status()["blocked_s"] == 0
    assert 0 < meter.account.orders.status()["blocked_s"] <= 10
