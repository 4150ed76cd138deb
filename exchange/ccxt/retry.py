"""Retry policy: exponential backoff with jitter, bounded attempts, injected sleep/rng.

Only `classify(...) == "retryable"` errors are retried here. Each backoff is announced to the
calling actor's liveness mark before the sleep, and the actor's fence is checked after it, so
a replaced incarnation's retry never goes out (`exchange/fence.py`). A read that may be set aside
(a reconciliation's, `exchange/fence.py` `preemptible`) backs off in steps and is set aside at
any of them when its actor has an order report waiting: a removed stop's report waited out the
whole sleep before (up to 6 s before the fourth retry, with jitter), as it once waited out the
rate budget. Order creation has its own recovery (see `CcxtGateway._submit`), because a failed
create must be looked up by clientOrderId before anything is resent.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NoReturn, TypeVar

import ccxt
from loguru import logger

from exchange.budget import Priority, current_priority
from exchange.budget_meter import PREEMPTIBLE_STEP_S
from exchange.ccxt.errors import classify, redact
from exchange.fence import check_fence, check_preempted, in_preemptible, waiting

T = TypeVar("T")


class Retrier:
    def __init__(
        self,
        *,
        max_attempts: int = 5,
        base_s: float = 0.5,
        max_s: float = 8.0,
        jitter: float = 0.5,
        sleep: Callable[[float], None],
        rng: random.Random,
        redactions: tuple[str, ...] = (),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.max_attempts = max_attempts
        self._base = base_s
        self._max = max_s
        self._jitter = jitter
        self._sleep = sleep
        self._rng = rng
        self._redactions = redactions

    def delay(self, attempt: int) -> float:
        """Wait before retry number `attempt` (1-based): base*2^(n-1), capped, plus jitter."""
        raw = min(self._max, self._base * (2 ** (attempt - 1)))
        return raw * (1 + self._jitter * self._rng.random())

    def backoff(self, attempt: int, exc: BaseException, what: str, *,
                may_set_aside: bool = False, said: str | None = None) -> None:
        """Sleep before retry `attempt`. `may_set_aside` (a read: nothing of it was done): in
        a scope that may be set aside, below protective priority, in steps, raising `Preempted`
        before any of them when the actor has an order report waiting. `said`: the line to log
        instead of "`what` failed (`exc`); retry n/m", when `exc` is not `what`'s failure."""
        wait = self.delay(attempt)
        # a price or fill poll's retries: its caller says the outage once (poll_outage.py)
        level = "DEBUG" if current_priority() is Priority.POLLING else "WARNING"
        if said is not None:
            logger.log(level, "{}; looking again in {:.2f}s", said, wait)
        else:
            logger.log(
                level, "{} failed ({}: {}); retry {}/{} in {:.2f}s",
                what, type(exc).__name__, self.clean(exc), attempt, self.max_attempts - 1, wait,
            )
        waiting(wait)
        if may_set_aside and in_preemptible() and current_priority() is not Priority.PROTECTIVE:
            left = wait
            while left > 0:
                check_preempted()
                step = min(left, PREEMPTIBLE_STEP_S)
                self._sleep(step)
                left -= step
        else:
            self._sleep(wait)
        check_fence()

    def clean(self, exc: BaseException) -> BaseException:
        return redact(exc, self._redactions)

    def run(self, fn: Callable[[], T], what: str) -> T:
        """Call `fn`, retrying retryable ccxt errors; re-raise others (secrets and request
        signatures masked, `errors.scrub`)."""
        attempt = 0
        while True:
            check_fence()
            try:
                return fn()
            except ccxt.BaseError as exc:
                attempt += 1
                if classify(exc, order_call=False) != "retryable" or attempt >= self.max_attempts:
                    self.reraise(exc)
                self.backoff(attempt, exc, what, may_set_aside=True)

    def once(self, fn: Callable[[], T]) -> T:
        """`fn` called once, not retried; a ccxt error re-raised masked, as `run` masks them
        (found by review: the markets fetch beside a cache quoted an answer echoing the key)."""
        try:
            return fn()
        except ccxt.BaseError as exc:
            self.reraise(exc)

    def reraise(self, exc: BaseException) -> NoReturn:
        cleaned = self.clean(exc)
        if cleaned is exc:
            raise exc
        raise cleaned from None
