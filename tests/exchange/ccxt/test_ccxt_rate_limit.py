"""The shared token bucket: arithmetic, no lock held while sleeping, shared by all threads."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest

from exchange.ccxt.rate_limit import TokenBucket
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator


def test_bucket_books_waits_at_the_configured_rate():
    fake = FakeTime(0.0)
    frozen = lambda: 0.0  # noqa: E731 - the clock never moves: every wait is pure booking
    bucket = TokenBucket(10.0, burst=2, clock=frozen, sleep=fake.sleep)
    waits = [bucket.reserve() for _ in range(5)]
    assert [round(w, 9) for w in waits] == [0.0, 0.0, 0.1, 0.2, 0.3]


def test_bucket_refills_with_time():
    fake = FakeTime(0.0)
    bucket = TokenBucket(10.0, burst=1, clock=fake.clock, sleep=fake.sleep)
    assert bucket.acquire() == 0.0
    assert abs(bucket.acquire() - 0.1) < 1e-9  # fake sleep advanced the clock by 0.1
    fake.sleep(1.0)  # idle: refills to burst only
    assert bucket.acquire() == 0.0
    assert abs(bucket.acquire() - 0.1) < 1e-9


def test_sleeping_caller_does_not_hold_the_lock():
    release = threading.Event()
    entered = threading.Event()

    def blocking_sleep(_seconds: float) -> None:
        entered.set()
        release.wait(5)

    bucket = TokenBucket(1.0, burst=1, clock=lambda: 0.0, sleep=blocking_sleep)
    bucket.acquire()
    sleeper = threading.Thread(target=bucket.acquire)
    sleeper.start()
    assert entered.wait(5)
    got = bucket.reserve()  # would deadlock if the sleeper held the lock
    release.set()
    sleeper.join(5)
    assert got == 2.0


def test_all_threads_share_one_bucket_through_the_gateway(tmp_path):
    """N threads x M calls: total booked wait >= (N*M - burst) / rate, counted not timed."""
    emu = start_emulator("bybit")
    fake = FakeTime()
    try:
        gw = make_gateway("bybit", emu, tmp_path, fake=fake, rate_limit_per_s=5.0)
        gw.load_markets()
        before = gw.bucket.acquired
        n_threads, m_calls = 8, 3
        barrier = threading.Barrier(n_threads)

        def work() -> None:
            barrier.wait(5)
            for _ in range(m_calls):
                gw.fetch_tickers(["BTC/USDT:USDT"])

        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        calls = gw.bucket.acquired - before
        assert calls == n_threads * m_calls == len(emu.hits("/v5/market/tickers"))
        # every request waited on the same bucket: the fake clock advanced by at least the
        # time the shared limit needs for these requests (ccxt cost 1 each for tickers)
        assert fake.now - 1_700_000_000.0 >= (calls - 1) / 5.0 - 1e-6
        assert gw.status()["instances"] == n_threads + 1  # + the loader thread's instance
        gw.close()
    finally:
        emu.stop()


class FrozenTime(FakeTime):
    """Sleeps are recorded but the clock stands still: every booking's debt stays visible."""

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def test_a_protective_call_never_queues_behind_polling_in_the_extra_cap(tmp_path):
    emu = start_emulator("binanceusdm")
    fake = FrozenTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=2.0)
        gw.load_markets()
        order = gw.create_order("BTC/USDT:USDT", "limit", "buy", D("0.01"), D("20000"),
                                {"clientOrderId": "cap-1"})
        gw.fetch_tickers(["BTC/USDT:USDT", "ETH/USDT:USDT"])  # ccxt cost 40: 20 s of the cap
        assert fake.sleeps and fake.sleeps[-1] > 15
        fake.sleeps.clear()
        gw.cancel_order(order.id, "BTC/USDT:USDT")  # protective: goes at once
        assert fake.sleeps == [] and len(emu.hits("/fapi/v1/order")) >= 2
        assert gw.bucket.reserve(1.0) > 20.5  # the next lower call pays for the cancel
        gw.close()
    finally:
        emu.stop()


def test_protective_calls_are_paced_among_themselves():
    fake = FakeTime(0.0)
    bucket = TokenBucket(10.0, burst=1, clock=lambda: 0.0, sleep=fake.sleep)
    assert bucket.reserve(50.0) == 4.9  # a lower call's debt
    waits = [bucket.reserve(protective=True) for _ in range(3)]
    assert [round(w, 9) for w in waits] == [0.0, 0.1, 0.2]
    assert round(bucket.reserve(), 9) == 5.3  # lower calls pay for the protective ones


def test_the_protective_ledger_refills_with_time():
    """The protective calls' own ledger earns tokens with time like the shared one: without,
    each stop, close or cancel ever sent stayed owed there, and a bot's later protective calls
    waited longer and longer (3 protective calls: the fourth waited 0.3 s however long after)."""
    fake = FakeTime(0.0)
    bucket = TokenBucket(10.0, burst=1, clock=fake.clock, sleep=fake.sleep)
    assert [round(bucket.reserve(protective=True), 9) for _ in range(3)] == [0.0, 0.1, 0.2]
    fake.sleep(10.0)  # long enough to repay them all
    assert bucket.reserve(protective=True) == 0.0


def test_a_wait_in_the_extra_cap_is_announced_to_the_actors_liveness(tmp_path):
    """A call waiting in the extra cap (rate_limit_per_s) was announced only for the request
    timeout (the meter's mark before it), so a wait longer than that looked like a hung actor
    to the supervisor (a restart, its wait started again). The wait and the request after it
    are now announced, as the rate budget's own waits are."""
    from exchange.fence import CallScope, call_scope

    emu = start_emulator("binanceusdm")
    fake = FrozenTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=2.0,
                          timeout_ms=2000)
        gw.load_markets()
        # 21 s of the cap booked: prices 2 (ccxt's cost 0, the venue's 2), volumes 40
        gw.fetch_tickers(["BTC/USDT:USDT", "ETH/USDT:USDT"])
        marks: list[float] = []
        with call_scope(CallScope(busy=marks.append)):
            gw.fetch_positions()
        waited = fake.sleeps[-1]
        assert waited > 15 and max(marks) >= waited + 2.0
        gw.close()
    finally:
        emu.stop()


def test_an_entry_that_would_wait_past_its_bound_in_the_extra_cap_is_refused_unsent(tmp_path):
    """The README: short of budget, an entry waits at most entry_max_wait_s and is then refused
    before anything is sent. In the extra cap it waited as long as the queue was (20 s behind
    one ticker poll at rate_limit_per_s = 2) and went out late."""
    from exchange.budget import BudgetRefused

    emu = start_emulator("binanceusdm")
    fake = FrozenTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=2.0)
        gw.load_markets()
        # 21 s of the cap booked: prices 2 (ccxt's cost 0, the venue's 2), volumes 40
        gw.fetch_tickers(["BTC/USDT:USDT", "ETH/USDT:USDT"])
        fake.sleeps.clear()
        with pytest.raises(BudgetRefused, match="entry call"):
            gw.create_order("BTC/USDT:USDT", "limit", "buy", D("0.01"), D("20000"),
                            {"clientOrderId": "late-1"})
        assert emu.hits("/fapi/v1/order") == [] and fake.sleeps == []
        assert gw.bucket.reserve(1.0) < 23  # the refused entry booked nothing (4: 2 s more)
        gw.close()
    finally:
        emu.stop()


def test_an_entry_refused_by_the_extra_cap_gives_back_its_order_windows(tmp_path):
    """The rate budget is paid before the extra cap: an entry the cap refused had taken one
    new order from each of the account's order windows and kept them, though nothing was
    sent (a refusal storm left the account's orders/10s window empty for stops' closes)."""
    from exchange.budget import BudgetRefused

    emu = start_emulator("binanceusdm")
    fake = FrozenTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=2.0)
        gw.load_markets()
        # 21 s of the cap booked: prices 2 (ccxt's cost 0, the venue's 2), volumes 40
        gw.fetch_tickers(["BTC/USDT:USDT", "ETH/USDT:USDT"])
        windows = gw.meter.account.order_buckets
        before = [(b.status()["available"], b.status()["spent"]) for b in windows]
        with pytest.raises(BudgetRefused, match="extra cap"):
            gw.create_order("BTC/USDT:USDT", "limit", "buy", D("0.01"), D("20000"),
                            {"clientOrderId": "late-2"})
        assert emu.hits("/fapi/v1/order") == []
        assert [(b.status()["available"], b.status()["spent"]) for b in windows] == before
        gw.close()
    finally:
        emu.stop()


@pytest.mark.parametrize("during", [False, True], ids=["waiting-before", "arriving-during"])
def test_a_reconciliation_waiting_in_the_extra_cap_gives_way_to_an_order_report(tmp_path,
                                                                                during):
    """README: while a reconciliation's read waits for budget, an order report waiting for its
    actor sets it aside (exchange/fence.py `preemptible`). In the extra cap it waited its whole
    turn (20 s behind one ticker poll at rate_limit_per_s = 2), the report behind it, and went
    out; set aside, it books nothing there either. `during`: the report arrives after the wait
    began (after its first step): the wait is taken in steps, each one asking again."""
    from exchange.budget import Priority, call_priority
    from exchange.fence import CallScope, Preempted, call_scope, preemptible

    emu = start_emulator("binanceusdm")
    fake = FrozenTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=2.0)
        gw.load_markets()
        # 21 s of the cap booked: prices 2 (ccxt's cost 0, the venue's 2), volumes 40
        gw.fetch_tickers(["BTC/USDT:USDT", "ETH/USDT:USDT"])
        debt = gw.bucket.reserve(0.0)
        sent = len(emu.requests)
        sleeps = len(fake.sleeps)
        urgent = (lambda prices: len(fake.sleeps) > sleeps) if during else (lambda prices: True)
        with call_scope(CallScope(urgent=urgent)), preemptible(), \
                call_priority(Priority.RECONCILE), pytest.raises(Preempted):
            gw.fetch_positions()
        assert len(emu.requests) == sent
        assert gw.bucket.reserve(0.0) == pytest.approx(debt)
        gw.close()
    finally:
        emu.stop()
