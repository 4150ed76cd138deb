"""Bybit states each UID's own per-second limit of an endpoint in `X-Bapi-Limit`; the bot's
endpoint bucket runs at that limit * share once an answer said it (ccxt's cost table only until
then), up or down, and a header that is no sane number changes nothing. The IP bucket (600
requests per 5 s) still holds over all of it. Real ccxt `bybit` against the emulator; rates are
counted on the fake clock the budget sleeps on."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from exchange import budget_venues
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_limits import BybitLimiter

BTC = "BTC/USDT:USDT"
REALTIME = "/v5/order/realtime"


class StatingLimiter(BybitLimiter):
    """The emulator's Bybit limits, recording when (fake clock) each request came; `stated`
    replaces what `X-Bapi-Limit` says (the venue's real limit is unchanged)."""

    def __init__(self, clock: Any, **kwargs: Any) -> None:
        super().__init__(clock=clock, **kwargs)
        self.arrived: list[tuple[float, str]] = []
        self.stated: str | None = None

    def admit(self, method: str, path: str, params: dict[str, Any]) -> Any:
        refusal, headers = super().admit(method, path, params)
        self.arrived.append((self._clock(), path))
        if self.stated is not None and "X-Bapi-Limit" in headers:
            headers = {**headers, "X-Bapi-Limit": self.stated}
            refusal = None if refusal is None else (refusal[0], refusal[1], headers)
        return refusal, headers


def lookup_rate(gw: Any, fake: FakeTime, limiter: StatingLimiter, n: int) -> float:
    """`n` lookups of one order (one order/realtime request each), the first answer of the
    current limit already seen: the steady rate the venue got them at (requests per second of
    the fake clock over the second half, once the bucket's bank is spent). The venue refused
    none of them."""
    gw.fetch_order(None, BTC, {"clientOrderId": "r-1"})
    before, refused = len(limiter.arrived), limiter.refused
    for _ in range(n):
        gw.fetch_order(None, BTC, {"clientOrderId": "r-1"})
    came = [t for t, p in limiter.arrived[before:] if p == REALTIME]
    assert len(came) == n and limiter.refused == refused
    steady = came[n // 2:]
    return (len(steady) - 1) / (steady[-1] - steady[0])


def rig(tmp_path: Any, **limits: int):
    fake = FakeTime()
    limiter = StatingLimiter(fake.clock, uid_limits={"/v5/order/create": 10, REALTIME: 50,
                                                     **limits})
    emu = start_emulator("bybit", limiter)
    gw = make_gateway("bybit", emu, tmp_path, fake=fake, rate_limit_per_s=None)
    gw.load_markets()
    gw.create_order(BTC, "limit", "buy", D("0.01"), D("40000"), {"clientOrderId": "r-1"})
    return fake, limiter, emu, gw


def test_the_stated_limit_raises_the_endpoint_rate_and_a_lower_one_lowers_it(tmp_path):
    fake, limiter, emu, gw = rig(tmp_path)
    try:
        # ccxt's cost 5 says 10/s (5/s at share 0.5); the venue says 50 for this UID: 25/s
        assert lookup_rate(gw, fake, limiter, 30) == pytest.approx(25, rel=0.05)
        # the account's level went down (the venue refuses what its window already holds
        # above the new limit, then the bot keeps to the new one)
        limiter.uid_limits[REALTIME] = 10
        assert lookup_rate(gw, fake, limiter, 16) == pytest.approx(5, rel=0.05)
        limiter.uid_limits[REALTIME] = 4  # below ccxt's figure too
        assert lookup_rate(gw, fake, limiter, 10) == pytest.approx(2, rel=0.05)
    finally:
        emu.stop()


def test_a_header_that_is_no_sane_number_keeps_the_rate(tmp_path):
    fake, limiter, emu, gw = rig(tmp_path)
    try:
        assert lookup_rate(gw, fake, limiter, 20) == pytest.approx(25, rel=0.05)
        for garbage in ("abc", "0", "-5", "inf", ""):
            limiter.stated = garbage
            assert lookup_rate(gw, fake, limiter, 20) == pytest.approx(25, rel=0.05), garbage
    finally:
        emu.stop()


def test_an_absurd_limit_is_clamped_and_the_ip_budget_still_holds(tmp_path):
    fake, limiter, emu, gw = rig(tmp_path, **{REALTIME: 100_000})
    try:
        limiter.stated = "1e9"
        rate = lookup_rate(gw, fake, limiter, 70)
        bucket = gw.meter.account.endpoint("v5/order/realtime", 0)
        assert bucket.rate_per_s == budget_venues.BYBIT_UID_LIMIT_MAX * 0.5
        # the IP bucket: 600 per 5 s at share 0.5 is 60/s, whatever the endpoint allows
        assert rate == pytest.approx(60, rel=0.05)
        assert limiter.refused == 0
    finally:
        emu.stop()
