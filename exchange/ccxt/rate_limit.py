"""One thread-safe token bucket shared by every ccxt instance of a gateway.

Reservation scheme: `acquire(cost)` takes the lock only to refill and to book `cost` tokens
(the balance may go negative, which queues later callers behind earlier ones in arrival
order), computes how long this caller must wait for its booking to be covered, releases the
lock and only THEN sleeps. No lock is held while sleeping, so hundreds of actor threads wait
concurrently and the aggregate rate still never exceeds `rate_per_s` (after an initial
`burst`). Clock and sleep are injected so tests can count instead of time.

A protective call (stop place/move, close, cancel) never queues behind the bookings of lower
priorities: it is booked in the same balance (the lower calls after it pay for it) but waits
only for the debt of earlier protective calls, kept in a ledger of their own at the same rate.
Before this, one all-symbol ticker poll (ccxt cost 40 on Binance) at `rate_limit_per_s = 2`
made a cancel or a stop placed just after it wait 20 s.

A lower call is bounded like in the rate budget (`acquire(max_wait_s=...)`: an entry's
`entry_max_wait_s`, less what it already waited there): one that would wait longer behind the
calls booked before it is refused (`BudgetRefused`) and books nothing; it used to go out late.
A call fenced or set aside during its wait (the caller's `before_sleep` raises) gives its
booking back.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from exchange.budget import BudgetRefused


class TokenBucket:
    """`rate_per_s` tokens per second, at most `burst` banked. Cost is in tokens (ccxt cost
    units when hooked into a ccxt instance: 1 = the exchange's cheapest request)."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._protective = float(burst)
        """The protective calls' own ledger: only they draw on it."""
        self._stamp = clock()
        self.acquired = 0  # number of acquire() calls served (for status/tests)

    def reserve(self, cost: float = 1.0, *, protective: bool = False) -> float:
        """Book `cost` tokens; return how many seconds the caller must wait before using them
        (`protective`: only behind earlier protective calls, see the module docstring)."""
        return self._book(cost, protective, math.inf)[0]

    def _book(self, cost: float, protective: bool, max_wait_s: float) -> tuple[float, bool]:
        """(wait, booked). A lower call that would wait past `max_wait_s` for the calls booked
        before it books nothing: (that wait, False)."""
        with self._lock:
            now = self._clock()
            earned = max(0.0, now - self._stamp) * self.rate_per_s
            self._stamp = max(self._stamp, now)
            self._tokens = min(self.burst, self._tokens + earned)
            self._protective = min(self.burst, self._protective + earned)
            if protective:
                self._tokens -= cost
                self._protective -= cost
                balance = self._protective
            else:
                # the queue ahead decides (a call dearer than the burst still goes out, after
                # waiting for a full bucket and then for its own excess)
                ahead = max(min(cost, self.burst) - self._tokens, 0.0) / self.rate_per_s
                if ahead > max_wait_s:
                    return ahead, False
                balance = self._tokens = self._tokens - cost
            self.acquired += 1
            return (0.0 if balance >= 0 else -balance / self.rate_per_s), True

    def acquire(self, cost: float = 1.0, *, protective: bool = False,
                before_sleep: Callable[[float], None] | None = None,
                max_wait_s: float = math.inf, what: str = "call",
                step_s: float = math.inf) -> float:
        """Block (without holding the lock) until `cost` tokens are ours; return the wait.
        `before_sleep(seconds)` runs before each wait of at most `step_s` (the caller's
        liveness mark, fence, a reconciliation set aside for an order report: it raises, and
        the booking is given back, nothing sent). A lower call that would wait past
        `max_wait_s` behind the calls booked before it is refused (`BudgetRefused`), nothing
        booked."""
        wait, booked = self._book(cost, protective, max_wait_s)
        if not booked:
            raise BudgetRefused(f"exchange.rate_limit_per_s: extra cap short for this {what} "
                                f"(would wait {wait:.1f}s > {max_wait_s:g}s)")
        left = wait
        try:
            while left > 0:
                step = min(left, step_s)
                if before_sleep is not None:
                    before_sleep(step)
                self._sleep(step)
                left -= step
        except BaseException:
            self._give_back(cost, protective)
            raise
        return wait

    def _give_back(self, cost: float, protective: bool) -> None:
        with self._lock:
            self._tokens = min(self.burst, self._tokens + cost)
            if protective:
                self._protective = min(self.burst, self._protective + cost)
            self.acquired -= 1
