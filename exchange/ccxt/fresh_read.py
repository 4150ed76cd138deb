"""One request answering many concurrent callers, never with an answer older than their call.

Why: every symbol's actor reconciles at the same heartbeat, and each reads its position twice
(before and after its other reads). On Binance the all-symbol `positionRisk` weighs 5, the
same as one symbol's, so 500 actors asking for their own position cost 5,000 weight a round
where one all-symbol read per burst would do.

Freshness rule: a caller is answered only by a request SENT AFTER it asked. A caller arriving
while a request is in flight waits for the next one (the one in flight may predate a fill the
caller needs to see), and all callers that gathered meanwhile share that next request. The
request runs on one caller's thread (with its priority, fence and liveness); if it fails, the
others do not take that failure as theirs: each asks again (leading a request itself if no
other is running), so every caller's own error is its own.

Priorities: a caller waits only for requests running at its own rate-budget priority or above
(exchange/budget.py). One at a lower priority may wait long in the budget (a reconciliation's
up to 30 s, a poll's 5 s), and the caller would have waited that long behind it: the streams'
gap fill (its own priority, above the reconciliations) waited on Binance for a reconciliation's
position read held below its floor, and a reconciliation for the REST feed's poll. Such a
caller sends its own request at its own priority instead, and the callers gathered behind it
share that one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from exchange.budget import Priority, current_priority
from exchange.fence import check_preempted, waiting

LOOK_S = 0.25
"""A waiting caller looks this often whether its own call is set aside (exchange/fence.py
`preemptible`): a reconciliation waiting for another actor's position read gives way to its
own order report, as one waiting for rate budget does."""

T = TypeVar("T")

SAME_COST_FOR_ALL_POSITIONS = frozenset({"binanceusdm"})
"""Venues whose all-symbol position read costs what one symbol's does (Binance positionRisk v3:
weight 5 either way): there, concurrent position reads share one all-symbol request."""


class FreshRead(Generic[T]):
    def __init__(self, fetch: Callable[[], T], *, wait_bound_s: float) -> None:
        """`wait_bound_s`: how long a caller may wait for another's request (its budget wait
        plus its timeout), announced to the caller's liveness mark before it waits."""
        self._fetch = fetch
        self._bound = wait_bound_s
        self._cond = threading.Condition()
        self._started = 0  # requests started so far (their sequence numbers: 1, 2, ...)
        self._running: dict[int, Priority] = {}  # the requests in flight and their priorities
        self._done = 0  # the last request that answered
        self._value: T | None = None
        self.requests = 0
        self.served = 0

    def get(self) -> T:
        priority = current_priority()
        while True:
            with self._cond:
                want = self._started + 1  # the first request sent after this call
                while self._done < want and self._waits_for(priority):
                    check_preempted()
                    waiting(self._bound)
                    self._cond.wait(LOOK_S)
                if self._done >= want:
                    self.served += 1
                    return cast(T, self._value)
                # none in flight at this priority or above, and none answered since: lead one
                self._started += 1
                mine = self._started
                self._running[mine] = priority
            return self._lead(mine)

    def _waits_for(self, priority: Priority) -> bool:
        """A request is in flight that a caller at `priority` waits for: one at its priority
        or above (never one that may wait longer in the rate budget than it would)."""
        return any(running <= priority for running in self._running.values())

    def _lead(self, mine: int) -> T:
        try:
            value = self._fetch()
        except BaseException:
            with self._cond:
                del self._running[mine]
                self._cond.notify_all()  # the others ask again: this failure is not theirs
            raise
        with self._cond:
            del self._running[mine]
            self.requests += 1
            self.served += 1
            if mine > self._done:
                self._done, self._value = mine, value
            self._cond.notify_all()
        return value
