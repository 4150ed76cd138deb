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


def test_a_peers_block_does_not_hold_a_close_that_weighs_nothing():
    """The worker processes of one data dir share their IP blocks through a file that keeps
    only deadlines, a spent minute's (no refusal: a new order still goes) among them. Read as
    a refusal, a peer's spent minute held this worker's closes and stops up to 60 s; the
    weighted calls still wait it out."""
    fake = FakeTime()
    m = meter(fake)
    m.venue.ip.peer_blocks = lambda: max(1_700_000_040.0 - fake.now, 0.0)  # the shared file
    start = fake.now
    with call_priority(Priority.PROTECTIVE):
        m.before(["fapiPrivate"], "POST", "order", 1)
        assert fake.now == start
        m.before(["fapiPrivate"], "DELETE", "order", 1)
    assert fake.now - start >= 40.0


def test_a_block_kept_over_a_restart_does_not_hold_a_close_that_weighs_nothing(tmp_path):
    """The same file read at start: a block kept from before the restart (a spent minute
    maybe) holds the weighted calls, not the first close."""
    from exchange.venue_blocks import VenueBlocks

    fake = FakeTime()
    VenueBlocks(tmp_path / "b.json", wall=fake.clock).note("binanceusdm", "", 40.0)
    reg = BudgetRegistry(VenueBlocks(tmp_path / "b.json", wall=fake.clock))
    venue = reg.venue(BINANCE_USDM, "", 0.5, clock=fake.clock, sleep=fake.sleep)
    m = RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)
    start = fake.now
    with call_priority(Priority.PROTECTIVE):
        m.before(["fapiPrivate"], "POST", "order", 1)
        assert fake.now == start
        m.before(["fapiPrivate"], "DELETE", "order", 1)
    assert fake.now - start >= 40.0
