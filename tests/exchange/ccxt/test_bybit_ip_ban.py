"""Bybit's IP ban (v5 rate-limit docs: over 600 requests per 5 s the IP gets HTTP 403 "access
too frequent" and is banned; stop all HTTP requests for at least 10 minutes): the real gateway
(real ccxt class, real HTTP) against the emulator enforcing it, on a fake clock."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from exchange.fence import CallScope, call_scope
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_limits import BybitLimiter

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BAN_S = 600.0
"""The docs' "at least 10 minutes"."""
BAN_BODIES = {"json": None, "text": "access too frequent"}
"""The limiter's JSON body (ccxt: plain ExchangeError) and a text body (ccxt: its HTTP 403 map,
RateLimitExceeded)."""


@pytest.mark.parametrize("body", sorted(BAN_BODIES))
def test_a_403_ban_stops_every_request_to_the_venue_until_it_ends(tmp_path, body):
    fake = FakeTime()
    limiter = BybitLimiter(clock=fake.clock, ban_body=BAN_BODIES[body])
    emu = start_emulator("bybit", limiter)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        gw = make_gateway("bybit", emu, tmp_path, fake=fake, rate_limit_per_s=None)
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "b-1"})
        limiter.crowd(600)  # another program on this IP spent the 5 s window
        banned_at = fake.now
        with pytest.raises(errors.RateLimited):  # retryable later, never permanent
            gw.fetch_positions([BTC])
        assert limiter.banned_until == banned_at + BAN_S
        for call in (lambda: gw.fetch_tickers([BTC, ETH]), lambda: gw.fetch_open_orders(BTC),
                     gw.fetch_balance, lambda: gw.create_order(
                         BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "b-2"})):
            with pytest.raises(errors.RateLimited, match="blocked by the venue for 59"):
                call()
        assert len(limiter.refused_at) == 1  # only the request that met the ban
        assert gw.meter.venue.ip.status()["blocked_s"] >= BAN_S - 1
        bans = [line for line in lines if "banned this IP" in line]
        assert len(bans) == 1 and "until 2023-11-14T22:23:20+00:00 (600 s)" in bans[0]
        # a protective call waits the ban out, announced as one bounded wait (the supervisor
        # honours it instead of restarting the actor), then goes out once
        waits: list[float] = []
        with call_scope(CallScope(busy=waits.append)):
            stop = gw.place_stop(BTC, "sell", D("0.01"), D("49000"), "b-s")
        assert stop.client_order_id == "b-s" and stop.is_stop
        assert fake.now >= banned_at + BAN_S and max(waits) >= BAN_S - 1
        assert len(limiter.refused_at) == 1 and limiter.banned_until is None
    finally:
        logger.remove(sink)
        emu.stop()
