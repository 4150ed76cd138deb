"""Binance's Symbol Price Ticker V2 (`GET /fapi/v2/ticker/price`, ccxt's fetch_last_prices),
the REST feed's price read, is paid as the venue weighs it: 2 without a symbol, 1 with one.
ccxt 4.5.90's table prices it at 0, which the budget took as 1: every all-symbol price read
spent one weight the budget never saw. And the venue's docs say its `X-MBX-USED-WEIGHT-1M`
"is not accurate from this endpoint, please ignore": believed, a wrong count capped or blocked
the IP budget every call pays from (a stop's cancel too). The real gateway and ccxt class
against the Binance emulator, whose limiter counts the documented weight and sends a wrong
header on that endpoint (the minute spent); and the real meter on a fake clock."""

from __future__ import annotations

import pytest

from exchange.budget import Priority, call_priority
from exchange.budget_meter import RequestMeter
from exchange.budget_venues import BINANCE_USDM, BudgetRegistry
from exchange.ccxt.request_costs import Request, units
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, gateway_on_emulator
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_the_price_ticker_weighs_2_without_a_symbol_and_1_with_one(tmp_path):
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        ex = gw.exchange_for_current_thread()
        for read, weight in ((lambda: ex.fetch_last_prices([BTC, ETH]), 2),
                             (lambda: ex.fapiPublicV2GetTickerPrice({"symbol": "BTCUSDT"}), 1)):
            spent, venue = sum(gw.meter.venue.ip.spent.values()), limiter.weight_total
            read()
            assert limiter.weight_total - venue == weight
            assert sum(gw.meter.venue.ip.spent.values()) - spent == pytest.approx(weight)
        assert [r.params.get("symbol") for r in emu.hits("/fapi/v2/ticker/price")] == [
            None, "BTCUSDT"]
    # the start's check of the REST schedule prices it the same (runtime/rest_demand.py)
    price = ("fapiPublicV2", "GET", "ticker/price")
    assert units("binanceusdm", Request(*price, one_symbol=False)) == 2
    assert units("binanceusdm", Request(*price, one_symbol=True)) == 1


def test_its_inaccurate_used_weight_header_blocks_nothing(tmp_path):
    """The header says the minute is spent; the venue's count is 2. A cancel, a position read
    and the next price read all go at once (a believed header blocked them until the minute
    turned, 40 s here, or refused them)."""
    fake = FakeTime()  # 40 s before the venue's minute turns
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None) as (gw, emu):
        ex = gw.exchange_for_current_thread()
        ex.fetch_last_prices([BTC, ETH])
        assert emu.requests[-1].path == "/fapi/v2/ticker/price" and limiter.used < 100
        waited = len(fake.sleeps)
        gw.fetch_positions()
        with call_priority(Priority.POLLING):
            ex.fetch_last_prices([BTC, ETH])
        assert fake.sleeps[waited:] == [] and limiter.refused == 0


def test_the_meter_ignores_that_header_of_that_endpoint_only():
    fake = FakeTime(start=1_700_000_020.0)  # 40 s into the venue's minute
    venue = BudgetRegistry().venue(BINANCE_USDM, "", 0.5, clock=fake.clock, sleep=fake.sleep)
    m = RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)
    spent = {"X-MBX-USED-WEIGHT-1M": "2400"}
    with call_priority(Priority.PROTECTIVE):
        m.after(["fapiPublicV2"], "ticker/price", spent, False)
        assert m.before(["fapiPrivate"], "DELETE", "order", 1) == 0.0
        m.after(["fapiPublic"], "ticker/24hr", spent, False)  # an accurate one: believed
        assert m.before(["fapiPrivate"], "DELETE", "order", 1) > 15.0
