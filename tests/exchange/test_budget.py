"""The priority bucket: protective calls never queue behind lower priorities, lower priorities
wait bounded then are refused, the venue's word (headers, refusals) corrects the estimate.
Time is a fake clock whose sleep advances it: waits are counted, not timed."""

from __future__ import annotations

import threading

import pytest

from exchange.budget import (
    FLOOR,
    BudgetRefused,
    Priority,
    PriorityBucket,
    at_least,
    call_priority,
    current_priority,
)
from exchange.budget_venues import BINANCE_USDM, BYBIT, BudgetRegistry, VenueBudget
from exchange.fence import (
    BusyBoard,
    CallScope,
    FenceBoard,
    Fenced,
    call_scope,
    check_fence,
    waiting,
)
from tests.exchange.ccxt.ccxt_fixtures import FakeTime


def bucket(fake: FakeTime, rate: float = 10.0, capacity: float = 100.0) -> PriorityBucket:
    return PriorityBucket("t", rate_per_s=rate, capacity=capacity, unit="weight",
                          clock=fake.clock, sleep=fake.sleep)


def test_polling_stops_at_its_floor_and_protective_goes_at_once():
    fake = FakeTime()
    b = bucket(fake)
    spent = 0
    while True:  # polling spends until only its floor is left, without waiting
        try:
            b.take(5, Priority.POLLING, max_wait_s=0)
        except BudgetRefused:
            break
        spent += 5
    assert spent == 100 * (1 - FLOOR[Priority.POLLING])
    assert fake.sleeps == []
    # the reserved half serves protective calls with no wait at all
    assert b.take(40, Priority.PROTECTIVE, max_wait_s=0) == 0.0
    assert fake.sleeps == []


def test_an_entry_waits_for_its_floor_then_is_refused_past_its_bound():
    fake = FakeTime()
    b = bucket(fake, rate=10, capacity=100)
    b.take(100, Priority.PROTECTIVE, max_wait_s=0)  # drain to 0
    # an entry needs the level at 30 (its floor) + 5: 3.5 s at 10/s
    waited = b.take(5, Priority.ENTRY, max_wait_s=5)
    assert waited == pytest.approx(3.5)
    b.take(100, Priority.PROTECTIVE, max_wait_s=0)
    with pytest.raises(BudgetRefused, match="entry call"):
        b.take(5, Priority.ENTRY, max_wait_s=1.0)
    assert b.refused == 1


def test_protective_queues_only_behind_protective():
    fake = FakeTime()
    b = bucket(fake, rate=10, capacity=10)
    b.take(10, Priority.PROTECTIVE, max_wait_s=0)
    # below every floor: a protective call books into negative and waits for its own tokens
    assert b.take(5, Priority.PROTECTIVE, max_wait_s=0) == pytest.approx(0.5)
    # a polling call must now wait for the whole debt plus its floor, it never jumps ahead
    with pytest.raises(BudgetRefused):
        b.take(1, Priority.POLLING, max_wait_s=0.1)


def test_a_venue_refusal_blocks_everyone_until_its_reset():
    fake = FakeTime()
    b = bucket(fake, rate=100, capacity=100)
    b.block_for(2.0)
    assert b.take(1, Priority.PROTECTIVE, max_wait_s=0) == pytest.approx(2.0)
    b.block_for(2.0)
    with pytest.raises(BudgetRefused):
        b.take(1, Priority.RECONCILE, max_wait_s=1.0)


def test_header_caps_the_local_estimate():
    fake = FakeTime()
    b = bucket(fake, rate=10, capacity=100)
    b.cap_remaining(20)  # the venue says little is left: polling (floor 50) must wait
    with pytest.raises(BudgetRefused):
        b.take(1, Priority.POLLING, max_wait_s=1.0)
    assert b.take(1, Priority.RECONCILE, max_wait_s=0) == 0.0  # 20 - 1 >= 15


def test_budget_is_shared_per_venue_and_host():
    reg = BudgetRegistry()
    a = reg.venue(BYBIT, "api.bybit.com", 0.5)
    assert reg.venue(BYBIT, "api.bybit.com", 0.5) is a
    assert reg.venue(BYBIT, "api.bytick.com", 0.5) is not a
    assert a.account("key-1") is a.account("key-1")
    assert a.account("key-1") is not a.account("key-2")


def test_venue_rates_stay_inside_the_documented_window():
    binance = VenueBudget(BINANCE_USDM, 0.5)
    # worst case in one fixed minute: the capacity plus a minute of refill
    assert binance.ip.capacity + binance.ip.rate_per_s * 60 <= 2400
    bybit = VenueBudget(BYBIT, 0.5)
    assert bybit.ip.capacity + bybit.ip.rate_per_s * 5 <= 600
    orders = binance.account("k").orders
    assert orders is not None and orders.capacity + orders.rate_per_s * 10 <= 300


def test_priority_outermost_wins_and_lookups_are_raised():
    assert current_priority() is Priority.RECONCILE
    with call_priority(Priority.POLLING):
        with call_priority(Priority.PROTECTIVE):
            assert current_priority() is Priority.POLLING
    with call_priority(Priority.ENTRY):
        with at_least(Priority.RECONCILE):
            assert current_priority() is Priority.RECONCILE
        with at_least(Priority.POLLING):
            assert current_priority() is Priority.ENTRY


def test_fence_and_busy_marks_follow_the_scope():
    fences, busy = FenceBoard(), BusyBoard()
    old = fences.issue("BTC")
    with call_scope(CallScope(fence=old, busy=lambda s: busy.mark("BTC", s))):
        check_fence()
        waiting(5.0)
        assert busy.busy_for("BTC") > 4.0
        fences.issue("BTC")  # a new incarnation
        with pytest.raises(Fenced):
            check_fence()
    check_fence()  # outside any actor: unfenced
    seen: list[BaseException | None] = []

    def other_thread() -> None:  # a scope is per thread: the feed's thread is not fenced
        try:
            check_fence()
            seen.append(None)
        except Fenced as exc:
            seen.append(exc)

    with call_scope(CallScope(fence=old)):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(60)
    assert seen == [None]  # it ran, and its check passed


def test_the_streams_gap_fill_goes_before_the_reconciliations():
    """Found by a live soak: the gap fill (the fills missed while the streams were down) ran at
    reconcile priority and got about 1/(K+1) of the budget against K reconciling actors, so
    Binance streams connected again after 1 s stayed in REST mode for 94-130 s. It now has its
    own priority between protective calls and reconciliations."""
    fake = FakeTime()
    b = bucket(fake)  # 10 weight/s, capacity 100: reconcile keeps 15 free, the gap fill 10
    b.take(100 - 17, Priority.PROTECTIVE, max_wait_s=0)  # 17 left
    with pytest.raises(BudgetRefused):  # a reconciliation needs 15 + 5 = 20: it would wait
        b.take(5, Priority.RECONCILE, max_wait_s=0)
    assert b.take(5, Priority.GAP_FILL, max_wait_s=0) == 0.0  # 17 >= 10 + 5: at once
    assert FLOOR[Priority.PROTECTIVE] < FLOOR[Priority.GAP_FILL] < FLOOR[Priority.RECONCILE]


def test_an_entry_waits_at_most_its_bound_over_all_the_buckets_it_pays():
    """A Bybit order pays the IP bucket, then its endpoint's: each wait was bounded on its own,
    so an entry could wait 2 x entry_max_wait_s (1.5 s for the IP, then 1.6 s more for the
    endpoint at a 2 s bound) and go out late instead of being refused."""
    from exchange.budget_meter import MaxWaits, RequestMeter

    fake = FakeTime()
    venue = VenueBudget(BYBIT, 0.5, clock=fake.clock, sleep=fake.sleep)
    account = venue.account("key-1")
    meter = RequestMeter(venue, account, timeout_s=1.0, waits=MaxWaits(entry_s=2.0))
    create = account.endpoint("v5/order/create", 2.5)  # 20/s at share 0.5: 10/s, capacity 1
    ip_need = FLOOR[Priority.ENTRY] * venue.ip.capacity + 1
    venue.ip.retune(ip_need / 1.5, venue.ip.capacity)  # the IP: 1.5 s short
    venue.ip.cap_remaining(0)
    create.retune(1 / 3.1, 1.0)  # the endpoint: 3.1 s short
    create.cap_remaining(0)
    start = fake.now
    with call_priority(Priority.ENTRY), pytest.raises(BudgetRefused, match="entry call"):
        meter.before(["private"], "POST", "v5/order/create", 2.5)
    assert fake.now - start <= 2.0 + 1e-9 and meter.requests == 0


def test_a_protective_call_waits_out_a_block_that_came_while_it_waited():
    """A stop booked into a debt slept for it once and went out: a 429 answered to another
    call meanwhile (Retry-After 30 s) blocked the bucket, and the stop was sent into the block
    at once, another refusal on the way to an IP ban. The sleep below is that other call's
    answer arriving while the stop waits."""
    fake = FakeTime()
    told: list[float] = []
    made: list[PriorityBucket] = []

    def sleep(seconds: float) -> None:
        if not told:
            told.append(seconds)
            made[0].block_for(30.0)  # another thread's 429, during the stop's wait
        fake.sleep(seconds)

    b = PriorityBucket("t", rate_per_s=10, capacity=10, unit="weight", clock=fake.clock,
                       sleep=sleep)
    made.append(b)
    b.cap_remaining(0)
    start = fake.now
    b.take(5, Priority.PROTECTIVE, max_wait_s=0)
    assert told == [pytest.approx(0.5)]
    assert fake.now - start >= 30.0


def test_an_entry_that_waits_again_and_again_is_refused_at_its_bound_over_all_its_waits():
    """Each wait of an entry may fit its bound while their sum does not: stops keep taking
    what refills while it waits (the sleep below books one each time). The bound holds over
    the whole wait: an entry sent seconds late goes out at a price long gone. Found by a
    mutation audit: judging each wait alone (`wait > max_wait_s`) passed every test, and
    such an entry waited for as long as the stops came."""
    fake = FakeTime()
    b = bucket(fake, rate=10, capacity=100)
    b.cap_remaining(20)  # an entry needs its floor 30 + 5: 1.5 s of refill
    stops: list[float] = []

    def a_stop_meanwhile(seconds: float) -> None:
        stops.append(seconds)
        assert len(stops) < 20, "the entry never gave up"
        b.take(15, Priority.PROTECTIVE, max_wait_s=0)  # takes what the wait will refill

    start = fake.now
    with pytest.raises(BudgetRefused, match="entry call"):
        b.take(5, Priority.ENTRY, max_wait_s=2.0, before_sleep=a_stop_meanwhile)
    assert stops == [pytest.approx(1.5)] and fake.now - start == pytest.approx(1.5)


def test_a_protective_call_in_a_preemptible_scope_is_never_set_aside():
    """Inside `preemptible()` (a reconciliation, which may resend a lost stop) a call below
    protective that must wait for budget is set aside for a waiting order report; a
    protective one waits and goes: it is the call the report must not delay. Found by a
    mutation audit: setting protective calls aside too passed every test."""
    from exchange.budget_meter import RequestMeter
    from exchange.fence import Preempted, preemptible

    fake = FakeTime()
    venue = VenueBudget(BINANCE_USDM, 0.5, clock=fake.clock, sleep=fake.sleep)
    meter = RequestMeter(venue, venue.account("key-1"), timeout_s=1.0)
    venue.ip.cap_remaining(0)  # every call must wait for budget
    reports_waiting = CallScope(urgent=lambda prices: True)
    with call_scope(reports_waiting), preemptible(prices=False):
        with call_priority(Priority.RECONCILE), pytest.raises(Preempted):
            meter.before(["fapiPrivateV2"], "GET", "positionRisk", 5)
        with call_priority(Priority.PROTECTIVE):
            assert meter.before(["fapiPrivate"], "DELETE", "order", 1) > 0.0
    assert meter.requests == 1
