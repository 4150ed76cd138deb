"""A bucket's rate follows the venue's stated limit (Bybit's `X-Bapi-Limit`): up or down, the
tokens earned so far kept, nonsense ignored. Fake clock: waits are counted, not timed."""

from __future__ import annotations

import pytest

from exchange import budget_venues
from exchange.budget import Priority, PriorityBucket
from exchange.budget_venues import BYBIT, VenueBudget
from tests.exchange.ccxt.ccxt_fixtures import FakeTime


def test_retune_keeps_the_tokens_and_scales_the_capacity():
    fake = FakeTime()
    b = PriorityBucket("t", rate_per_s=10, capacity=1, unit="requests", clock=fake.clock,
                       sleep=fake.sleep)
    b.take(1, Priority.PROTECTIVE, max_wait_s=0)  # empty
    fake.sleep(0.05)  # half a token earned at the old rate
    b.retune(50)
    assert (b.rate_per_s, b.capacity) == (50, 5)
    assert b.status()["available"] == pytest.approx(0.5)
    fake.sleep(0.05)  # at the new rate: 2.5 more
    assert b.status()["available"] == pytest.approx(3.0)
    b.retune(5, 1)  # lower: never more than the new capacity
    assert b.status()["available"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        b.retune(0)


def test_a_protective_debt_stays_a_debt_across_a_retune():
    fake = FakeTime()
    slept: list[float] = []  # the clock does not move: three protective calls book ahead
    b = PriorityBucket("t", rate_per_s=10, capacity=1, unit="requests", clock=fake.clock,
                       sleep=slept.append)
    for _ in range(3):
        b.take(1, Priority.PROTECTIVE, max_wait_s=0)
    b.retune(20, 2)
    assert b.status()["available"] == pytest.approx(-2.0)
    fake.sleep(0.1)  # repaid at the new rate
    assert b.status()["available"] == pytest.approx(0.0)


def test_stated_limit_sets_the_endpoint_rate_up_down_and_ignores_nonsense():
    account = VenueBudget(BYBIT, 0.5).account("k")
    bucket = account.endpoint("v5/order/realtime", 5)
    assert bucket.rate_per_s == 5  # ccxt: cost 5 -> 10/s, half of it
    account.stated_limit("v5/order/realtime", 50, "50")
    assert (bucket.rate_per_s, bucket.capacity) == (25, 2.5)
    account.stated_limit("v5/order/realtime", 10, "10")
    assert (bucket.rate_per_s, bucket.capacity) == (5, 1)
    for raw in (None, 0.0, -3.0):
        account.stated_limit("v5/order/realtime", raw, str(raw))
        assert bucket.rate_per_s == 5
    account.stated_limit("v5/order/realtime", 1e12, "1e12")
    assert bucket.rate_per_s == budget_venues.BYBIT_UID_LIMIT_MAX * 0.5
    assert account.endpoint("v5/order/create", 2.5).rate_per_s == 10  # others untouched
