"""Many threads waiting on one bucket: each must sleep until its own turn, not wake with all
the others at every grant (a thundering herd: at a 500-symbol start, 500 reconciliations each
re-checked the bucket at every token granted).

Time is virtual and shared by the threads: it moves on to the next wake only when every
waiting thread sleeps, so the count of bucket checks does not depend on the machine's load."""

from __future__ import annotations

import heapq
import math
import threading
import time

import pytest

from exchange.budget import Priority, PriorityBucket
from tests.exchange.ccxt.ccxt_fixtures import FakeTime

DEADLINE_S = 60.0


class VirtualTime:
    """A clock shared by `running` threads: a sleep parks its thread; when every thread is
    parked (or done), the clock jumps to the earliest wake and releases those due."""

    def __init__(self, running: int) -> None:
        self.now = 1_700_000_000.0
        self._running = running
        self._due: list[tuple[float, int]] = []
        self._seq = 0
        self._cond = threading.Condition()

    def clock(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + DEADLINE_S
        with self._cond:
            wake = self.now + seconds
            self._seq += 1
            heapq.heappush(self._due, (wake, self._seq))
            self._running -= 1
            self._advance()
            while self.now < wake:
                if not self._cond.wait(timeout=max(deadline - time.monotonic(), 0.0)):
                    raise AssertionError("virtual time stuck: a thread never slept or ended")

    def done(self) -> None:
        with self._cond:
            self._running -= 1
            self._advance()

    def _advance(self) -> None:
        if self._running > 0 or not self._due:
            return
        self.now = max(self.now, self._due[0][0])
        while self._due and self._due[0][0] <= self.now:
            heapq.heappop(self._due)
            self._running += 1
        self._cond.notify_all()


class CountingBucket(PriorityBucket):
    """Counts the checks of the bucket (each is a lock, a refill and a decision)."""

    checks = 0

    def _try(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with self._lock:
            self.checks += 1
        return super()._try(*args, **kwargs)


def checks_per_grant(waiters: int, rate: float, step_s: float) -> float:
    vt = VirtualTime(running=waiters)
    bucket = CountingBucket("ip", rate_per_s=rate, capacity=100.0, unit="weight",
                            clock=vt.clock, sleep=vt.sleep)
    bucket.take(100.0, Priority.PROTECTIVE, max_wait_s=0)  # drained: everyone must wait
    bucket.checks = 0
    granted: list[float] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            granted.append(bucket.take(1.0, Priority.RECONCILE, max_wait_s=math.inf,
                                       step_s=step_s))
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            vt.done()

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(waiters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE_S)
    assert not errors, errors
    assert len(granted) == waiters
    # no waiter was served before its turn could come: tokens came at the bucket's rate
    assert max(granted) >= (15.0 + waiters) / rate - 0.01
    return bucket.checks / waiters


@pytest.mark.parametrize(("rate", "step_s"), [(10.0, math.inf), (1000.0, 0.25)])
@pytest.mark.parametrize("waiters", [10, 50, 200])
def test_waiters_wake_for_their_own_turn_not_all_at_every_grant(waiters, rate, step_s):
    """(1000/s with 0.25 s steps: the whole queue is served within one step, so the steps add
    no wake; 10/s without steps: the queue takes 20 s.) Before the fix every grant woke all
    the remaining waiters: about waiters/2 checks per token granted."""
    per_grant = checks_per_grant(waiters, rate, step_s)
    assert per_grant <= 3.0, f"{per_grant:.1f} checks per grant for {waiters} waiters"


class Gone(Exception):
    pass


def test_a_waiter_that_leaves_gives_up_its_place():
    """A waiter fenced (its before_sleep raised) or refused keeps no place in the queue: the
    next call is served when the level reaches its own need, not one waiter later."""
    vt = VirtualTime(running=1)
    bucket = PriorityBucket("ip", rate_per_s=10.0, capacity=100.0, unit="weight",
                            clock=vt.clock, sleep=vt.sleep)
    bucket.take(100.0, Priority.PROTECTIVE, max_wait_s=0)

    def fenced(seconds: float) -> None:
        raise Gone

    with pytest.raises(Gone):
        bucket.take(50.0, Priority.RECONCILE, max_wait_s=math.inf, before_sleep=fenced)
    with pytest.raises(Exception, match="rate budget short"):
        bucket.take(50.0, Priority.RECONCILE, max_wait_s=1.0)
    # level 0, a reconcile of 1 needs 15 + 1: 1.6 s at 10/s, nobody ahead of it
    assert bucket.take(1.0, Priority.RECONCILE, max_wait_s=math.inf) == pytest.approx(1.6, abs=0.01)


def test_a_lower_priority_still_spends_down_to_its_floor_while_a_higher_one_waits():
    """The turn is kept within a priority only: a poll may spend down to its floor although a
    reconciliation waits for more than is there (holding polls behind every waiting
    reconciliation starved the REST feed after the streams dropped: no prices for 30 s)."""
    fake = FakeTime()
    b = PriorityBucket("ip", rate_per_s=10.0, capacity=100.0, unit="weight",
                       clock=fake.clock, sleep=fake.sleep)
    b.take(40.0, Priority.PROTECTIVE, max_wait_s=0)  # level 60: above the polls' floor (50)
    polled: list[float] = []

    def poll_meanwhile(seconds: float) -> None:
        if not polled:  # the reconciliation (90 of 60) is waiting now
            polled.append(b.take(1.0, Priority.POLLING, max_wait_s=0))

    b.take(90.0, Priority.RECONCILE, max_wait_s=math.inf, before_sleep=poll_meanwhile)
    assert polled == [0.0]


def test_a_waiter_served_out_of_turn_leaves_the_queue_once():
    """A waiter's place is given up twice when it is served: at its grant and again when its
    take ends (the same path as a refusal or a fence). Neither may count twice: a later waiter
    behind the one still queued waits for that one's units exactly, no more, no less (the
    queued demand is a running total per priority, so a second removal would take it twice)."""
    fake = FakeTime()
    b = PriorityBucket("ip", rate_per_s=10.0, capacity=100.0, unit="weight",
                       clock=fake.clock, sleep=fake.sleep)
    b.take(100.0, Priority.PROTECTIVE, max_wait_s=0)  # level 0
    waits: dict[str, float] = {}

    def while_first_waits(seconds: float) -> None:
        if waits:
            return
        # the first (5, needs 15 + 5) sleeps 2 s; the second, behind it, is served at 25
        # before the first wakes: it leaves from the middle of the queue
        waits["second"] = b.take(5.0, Priority.RECONCILE, max_wait_s=math.inf)
        # level 20, the first's 5 still queued: the third waits for 15 + 5 + 5 = 25
        waits["third"] = b.take(5.0, Priority.RECONCILE, max_wait_s=math.inf)

    waits["first"] = b.take(5.0, Priority.RECONCILE, max_wait_s=math.inf,
                            before_sleep=while_first_waits)
    assert waits["second"] == pytest.approx(2.5)
    assert waits["third"] == pytest.approx(0.5)  # one place ahead of it: not 0, not 1.0
    assert waits["first"] == pytest.approx(2.0)
    # everyone gone (level 35, drained): the next waits for its own need only, 15 + 5
    b.take(35.0, Priority.PROTECTIVE, max_wait_s=0)
    assert b.take(5.0, Priority.RECONCILE, max_wait_s=math.inf) == pytest.approx(2.0)
