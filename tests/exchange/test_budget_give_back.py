"""A call the budget refuses, or that is set aside or fenced while it waits, was never sent: the
units it had booked from the buckets it paid first are given back. The meter books the IP
bucket first, then the account's; a refusal there left the IP weight (every account's on the
venue) spent although nothing went out. Real meter and buckets, a fake clock whose sleep
advances it: waits are counted, not timed."""

from __future__ import annotations

import pytest

from exchange.budget import BudgetRefused, Priority, PriorityBucket, call_priority
from exchange.budget_meter import MaxWaits, RequestMeter
from exchange.budget_venues import BINANCE_USDM, BYBIT, VenueBudget
from exchange.fence import (
    CallScope,
    FenceBoard,
    Fenced,
    Preempted,
    call_scope,
    preemptible,
)
from tests.exchange.ccxt.ccxt_fixtures import FakeTime

CREATE = (["private"], "POST", "v5/order/create", 2.5)


class Meanwhile:
    """The buckets' sleep: before the first wait it runs `then` (another thread's answer
    arriving while this call waits), then advances the fake clock."""

    def __init__(self, fake: FakeTime) -> None:
        self.fake = fake
        self.then: list[object] = []
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        if not self.waits:
            for action in self.then:
                action()  # type: ignore[operator]
        self.waits.append(seconds)
        self.fake.sleep(seconds)


def bybit(fake: FakeTime, rate: float = 0.1,
          meanwhile: Meanwhile | None = None) -> tuple[RequestMeter, PriorityBucket]:
    """A Bybit meter whose order/create endpoint bucket is spent and refills at `rate`/s."""
    sleep = fake.sleep if meanwhile is None else meanwhile.sleep
    venue = VenueBudget(BYBIT, 0.5, clock=fake.clock, sleep=sleep)
    account = venue.account("key-1")
    meter = RequestMeter(venue, account, timeout_s=1.0, waits=MaxWaits(entry_s=2.0),
                         wall_clock=fake.clock)
    create = account.endpoint("v5/order/create", 2.5)
    create.retune(rate, 1.0)
    create.cap_remaining(0)
    return meter, create


def level(bucket: PriorityBucket) -> tuple[object, object]:
    status = bucket.status()
    return status["available"], status["spent"]


def test_an_entry_refused_by_its_endpoint_leaves_the_ip_weight_unspent():
    fake = FakeTime()
    meter, _ = bybit(fake)
    ip_before = level(meter.venue.ip)
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused, match="order/create"):
        meter.before(*CREATE)
    assert meter.requests == 0
    assert level(meter.venue.ip) == ip_before


def test_a_reconciliation_set_aside_while_waiting_gives_its_ip_weight_back():
    """Set aside for an order report (exchange/fence.py `preemptible`) before its endpoint had
    room: nothing sent, the IP request given back."""
    fake = FakeTime()
    meter, _ = bybit(fake)
    ip_before = level(meter.venue.ip)
    with call_scope(CallScope(urgent=lambda prices: True)), preemptible(), \
            call_priority(Priority.RECONCILE), pytest.raises(Preempted):
        meter.before(*CREATE)
    assert level(meter.venue.ip) == ip_before


def test_a_binance_order_refused_by_the_minute_window_gives_the_10s_window_back():
    """A new order takes one from each order window, the 10 s one first: the minute's refusal
    left the 10 s window one order short."""
    fake = FakeTime()
    venue = VenueBudget(BINANCE_USDM, 0.5, clock=fake.clock, sleep=fake.sleep)
    account = venue.account("key-1")
    meter = RequestMeter(venue, account, timeout_s=1.0, waits=MaxWaits(entry_s=2.0),
                         wall_clock=fake.clock)
    ten_s, minute = account.order_buckets
    minute.block_for(30.0)
    before = level(ten_s)
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused, match="orders/60s"):
        meter.before(["fapiPrivate"], "POST", "order", 1)
    assert level(ten_s) == before


def test_a_block_that_came_during_the_wait_gives_back_both_buckets():
    """The IP's block is looked at last (a 429 answered to another call while this one waited
    for its endpoint): refused there, neither the IP request nor the endpoint's stays spent;
    the block itself spent what the IP had left (only the refill since is there)."""
    fake = FakeTime()
    meanwhile = Meanwhile(fake)
    meter, create = bybit(fake, rate=10.0, meanwhile=meanwhile)  # room after 0.1 s
    meanwhile.then.append(lambda: meter.venue.ip.block_for(30.0))
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused, match="blocked"):
        meter.before(*CREATE)
    assert meanwhile.waits and meter.requests == 0
    assert create.status()["spent"]["entry"] == 0.0
    assert meter.venue.ip.status()["spent"]["entry"] == 0.0
    refilled = sum(meanwhile.waits) * meter.venue.ip.rate_per_s  # since the block
    assert meter.venue.ip.status()["available"] <= round(refilled, 2) + 0.01


def test_a_give_back_never_lifts_the_bucket_above_the_venues_word():
    """The venue's header said the IP had nothing left while the call waited: what the call
    had booked there is not given back over that (the venue never counted it; its word
    stands), only what refilled since."""
    fake = FakeTime()
    meanwhile = Meanwhile(fake)
    meter, create = bybit(fake, rate=100.0, meanwhile=meanwhile)  # room after 0.01 s
    meanwhile.then += [lambda: meter.venue.ip.cap_remaining(0.0),
                       lambda: create.block_for(30.0)]  # its own 10006, for another call
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused):
        meter.before(*CREATE)
    ip = meter.venue.ip
    refilled = sum(meanwhile.waits) * ip.rate_per_s
    assert 0 < refilled < 1
    assert ip.status()["available"] <= round(refilled, 2) + 0.01
    assert ip.status()["spent"]["entry"] == 0.0


def test_a_protective_call_fenced_while_it_waits_gives_its_booking_back():
    """A stop books into the debt at once and then waits for it; its incarnation replaced
    meanwhile, it sends nothing, and its booking no longer delays the calls after it."""
    fake = FakeTime()
    b = PriorityBucket("t", rate_per_s=10, capacity=10, unit="weight", clock=fake.clock,
                       sleep=fake.sleep)
    b.take(10, Priority.PROTECTIVE, max_wait_s=0)  # spent: the next one books into debt
    board = FenceBoard()
    fence = board.issue("BTC/USDT:USDT")
    board.issue("BTC/USDT:USDT")  # a newer incarnation: the first one's fence is invalid

    with pytest.raises(Fenced):
        b.take(5, Priority.PROTECTIVE, max_wait_s=0, before_sleep=lambda s: fence.check())
    assert b.status()["available"] == 0.0 and b.status()["spent"]["protective"] == 10.0
    assert b.take(5, Priority.PROTECTIVE, max_wait_s=0) == pytest.approx(0.5)  # not 1.0
