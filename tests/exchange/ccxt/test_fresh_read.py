"""FreshRead: concurrent callers share requests, and none is answered by a request sent before
it asked (real threads; the request blocks on an event the test controls)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import pytest

from exchange.ccxt.fresh_read import FreshRead
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.support.waiting import wait_until


class Venue:
    """Each request returns its own sequence number; a request may be held open."""

    def __init__(self) -> None:
        self.sent = 0
        self.in_flight = 0
        self.hold = threading.Event()
        self.hold.set()
        self.fail_next = False
        self._lock = threading.Lock()

    def fetch(self) -> int:
        with self._lock:
            self.sent += 1
            number = self.sent
            self.in_flight += 1
            fail, self.fail_next = self.fail_next, False
        try:
            assert self.hold.wait(10)
            if fail:
                raise ConnectionError(f"request {number} failed")
            return number
        finally:
            with self._lock:
                self.in_flight -= 1


def test_concurrent_callers_share_a_few_requests():
    venue = Venue()
    read = FreshRead(venue.fetch, wait_bound_s=5)
    venue.hold.clear()
    with ThreadPoolExecutor(50) as pool:
        first = pool.submit(read.get)
        wait_until(lambda: venue.in_flight == 1, message="first request in flight")
        rest = [pool.submit(read.get) for _ in range(49)]
        venue.hold.set()
        answers = [first.result(5)] + [f.result(5) for f in rest]
    assert answers[0] == 1
    assert set(answers[1:]) <= {2, 3}  # the 49 latecomers never get the request sent before
    assert venue.sent <= 3 and read.requests == venue.sent and read.served == 50


def test_a_caller_is_never_answered_by_a_request_sent_before_it_asked():
    venue = Venue()
    read = FreshRead(venue.fetch, wait_bound_s=5)
    venue.hold.clear()
    with ThreadPoolExecutor(2) as pool:
        early = pool.submit(read.get)
        wait_until(lambda: venue.in_flight == 1, message="request 1 in flight")
        late = pool.submit(read.get)  # asks while request 1 is out: its answer may be stale
        venue.hold.set()
        assert early.result(5) == 1
        assert late.result(5) == 2
    assert read.get() == 3  # nothing in flight: a new request, never a cached answer


def test_a_failed_request_is_not_taken_as_the_others_failure():
    venue = Venue()
    read = FreshRead(venue.fetch, wait_bound_s=5)
    venue.hold.clear()
    venue.fail_next = True
    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(read.get)
        wait_until(lambda: venue.in_flight == 1, message="failing request in flight")
        follower = pool.submit(read.get)
        venue.hold.set()
        with pytest.raises(ConnectionError, match="request 1 failed"):
            leader.result(5)
        assert follower.result(5) == 2  # it asked again and got its own answer


def test_binance_position_reads_of_many_actors_share_all_symbol_requests(tmp_path):
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path)
    try:
        gw.load_markets()
        gw.create_order("BTC/USDT:USDT", "market", "buy", D("0.01"), None,
                        {"clientOrderId": "s-1"})
        emu.clear()
        symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT"] * 20
        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda s: gw.fetch_positions([s]), symbols))
        assert [[p.symbol for p in a] for a in answers[:2]] == [["BTC/USDT:USDT"], []]
        assert all(a == answers[i % 2] for i, a in enumerate(answers))
        reads = emu.hits("/fapi/v3/positionRisk")
        assert all("symbol" not in r.params for r in reads)  # all-symbol reads (weight 5)
        assert len(reads) < 40  # shared: 40 actors did not cost 40 requests
    finally:
        gw.close()
        emu.stop()


def test_a_reconciliation_waiting_for_anothers_read_gives_way_to_its_order_report():
    """Found by a live soak: every Binance actor's position read waits on one shared request,
    and a reconciliation waiting there did not give way to its actor's order report (no
    position read went out for 35 s while the budget was short; a removed stop stayed
    unreplaced meanwhile). A waiter inside a set-aside-able reconciliation whose actor has a
    report waiting now raises Preempted; the leader's request goes on for the others."""
    from exchange.fence import CallScope, Preempted, call_scope, preemptible

    release, leading = threading.Event(), threading.Event()

    def fetch() -> str:
        leading.set()
        release.wait(30)
        return "positions"

    read = FreshRead(fetch, wait_bound_s=60)
    report_waiting = threading.Event()
    outcome: dict[str, object] = {}

    def waiter() -> None:
        try:
            with call_scope(CallScope(urgent=lambda prices: report_waiting.is_set())), \
                    preemptible():
                outcome["value"] = read.get()
        except Preempted as exc:
            outcome["preempted"] = exc

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(read.get)
        assert leading.wait(10)
        waiting = pool.submit(waiter)
        report_waiting.set()  # the actor's order report arrives while it waits
        wait_until(waiting.done, timeout=10, message="the waiter gives way")
        assert "preempted" in outcome and not release.is_set()
        release.set()
        assert leader.result(timeout=10) == "positions"


def test_the_gap_fill_does_not_wait_behind_a_reconciliations_position_read(tmp_path):
    """Binance position reads share one request, which runs at its leader's priority. The
    streams' gap fill (its own priority, above the reconciliations: it goes while they wait
    for budget) reads positions first to learn which symbols to ask for trades; it waited
    for a reconciliation's position read held in the budget below the reconciliation's floor
    (up to 30 s), so the streams stayed 'down' that long. Real gateway, real budget and the
    Binance emulator; the reconciliation's budget wait is held open by its sleep."""
    import random

    from loguru import logger

    from actors.market_feed import MarketFeed
    from actors.messages import OrderActivity
    from exchange.ccxt.gateway import CcxtGateway
    from exchange.ccxt.secrets import Credentials
    from runtime.exchanges import fills_poller
    from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, FakeTime, factory_for

    btc, eth = "BTC/USDT:USDT", "ETH/USDT:USDT"
    emu = start_emulator("binanceusdm")
    fake = FakeTime()
    held, release = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:  # the reconciliation's budget wait lasts until released
        if threading.current_thread().name == "reconciliation":
            held.set()
            assert release.wait(30)
        fake.sleep(seconds)

    gw = CcxtGateway(factory_for("binanceusdm", emu), credentials=Credentials(
        API_KEY, API_SECRET, source="test"), markets_cache=tmp_path / "markets.json",
        clock=fake.clock, monotonic=fake.clock, sleep=sleep, rng=random.Random(7),
        symbols=[btc, eth])
    delivered: list[tuple[str, object]] = []
    feed = MarketFeed(exchange=gw, symbols=[btc, eth],
                      deliver=lambda s, m: delivered.append((s, m)) or True, interval_s=1,
                      own_prefix="main-t1-", logger=logger, clock=fake.clock,
                      fetch_fills=fills_poller(gw, [btc, eth]))
    reconciliation = threading.Thread(target=lambda: gw.fetch_positions([btc]),
                                      name="reconciliation", daemon=True)
    gap = threading.Thread(target=feed.poll_fills, name="gap-fill", daemon=True)
    try:
        gw.load_markets()
        gw.create_order(btc, "market", "buy", D("0.01"), None, {"clientOrderId": "main-t1-1"})
        # the IP budget (capacity 120 weight) holds 20: above the gap fill's floor (12 + the
        # read's 5), below a reconciliation's (18 + 5)
        gw.meter.venue.ip.cap_remaining(20)
        reconciliation.start()
        assert held.wait(10), "the reconciliation's position read waits for budget"
        gap.start()
        wait_until(lambda: not gap.is_alive(), timeout=10,
                   message="the gap fill, not waiting for the reconciliation's read")
        assert not release.is_set()
        assert [(s, m.client_order_ids) for s, m in delivered
                if isinstance(m, OrderActivity)] == [(btc, ("main-t1-1",))]
    finally:
        release.set()
        reconciliation.join(10)
        gap.join(10)
        gw.close()
        emu.stop()
