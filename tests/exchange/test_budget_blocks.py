"""A block of the venue's IP budget (a 429 / 418 with its Retry-After) holds every request to
that IP, also those that weigh nothing on the IP's weight: Binance's new orders (weight 0, paid
from the account's order windows). Real meter and buckets, a fake clock whose sleep advances
it: waits are counted, not timed."""

from __future__ import annotations

import pytest

from exchange.budget import BudgetRefused, Priority, call_priority
from exchange.budget_meter import RequestMeter
from exchange.budget_venues import BINANCE_USDM, BudgetRegistry
from tests.exchange.ccxt.ccxt_fixtures import FakeTime


def meter(fake: FakeTime) -> RequestMeter:
    venue = BudgetRegistry().venue(BINANCE_USDM, "", 0.5, clock=fake.clock, sleep=fake.sleep)
    return RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)


def test_binance_new_order_waits_out_the_ips_block():
    """A 418 (IP banned, Retry-After 120) answered to a ticker read: a close sent during the
    ban is refused too and keeps the ban growing ('failing to back off'); it went out at once
    because an order weighs 0 on the IP and the IP bucket was never asked."""
    fake = FakeTime()
    m = meter(fake)
    m.after(["fapiPublic"], "ticker/24hr", {"Retry-After": "120"}, True,
            error='binanceusdm 418 I\'m a teapot {"code":-1003}')
    start = fake.now
    with call_priority(Priority.PROTECTIVE):
        m.before(["fapiPrivate"], "POST", "order", 1)
    assert fake.now - start >= 120.0
    m.after(["fapiPublic"], "ticker/24hr", {"Retry-After": "120"}, True, error="429")
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused, match="blocked"):
        m.before(["fapiPrivate"], "POST", "order", 1)
    assert m.requests == 1
