"""Restart intensity and backoff, Erlang/OTP style. Pure: fed failure times, returns a verdict."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    max_restarts: int
    """At most this many restarts within `period_s`; one more failure escalates."""
    period_s: float
    backoff_initial_s: float
    backoff_max_s: float
    stable_after_s: float
    """A child that ran this long without failing starts over with the initial backoff."""


@dataclass(frozen=True, slots=True)
class Verdict:
    escalate: bool
    delay_s: float
    restarts_in_period: int
    crash_loop: bool = False
    """True once per crash loop: more than `max_restarts` failures without a run of
    `stable_after_s` between them, slower than the intensity that escalates (a symbol failing
    every 15 s forever never escalates with 5 in 60 s): a person is told once."""


@dataclass(slots=True)
class RestartHistory:
    failures: deque[float] = field(default_factory=deque)
    consecutive: int = 0
    last_failure_at: float | None = None
    loop_told: bool = False
    running_since: float | None = None
    """When the child last started running (`started`); None: not running since its last
    failure (backing off, or its start failed)."""
    starts_told: bool = False
    """`started` is called (the supervisor: a start reported; the worker parent: a first
    heartbeat): stability is the child's running time; else the time since the last failure."""

    def started(self, now: float) -> None:
        """The child runs (its start, restore and reconcile done) from `now`."""
        self.running_since = now
        self.starts_told = True

    def on_failure(self, policy: RestartPolicy, now: float) -> Verdict:
        # stable = ran `stable_after_s`, not only that long since the last failure: the backoff
        # and a slow start counted as running (found by review: a symbol running 100 s between
        # failures after a 30 s backoff never raised `crash_loop`, its backoff never grew)
        since = self.running_since if self.starts_told else self.last_failure_at
        if since is not None and now - since >= policy.stable_after_s:
            self.consecutive = 0
            self.loop_told = False
        self.running_since = None
        self.last_failure_at = now
        self.failures.append(now)
        while self.failures and now - self.failures[0] > policy.period_s:
            self.failures.popleft()
        if len(self.failures) > policy.max_restarts:
            return Verdict(escalate=True, delay_s=0.0, restarts_in_period=len(self.failures) - 1)
        # the power is bounded first: 2.0 ** 1024 overflows (a symbol crashing every 30 s for
        # ~9 h, never long enough apart to reset, raised here inside the supervisor)
        delay = min(policy.backoff_initial_s * (2.0 ** min(self.consecutive, 60)),
                    policy.backoff_max_s)
        self.consecutive += 1
        loop = self.consecutive > policy.max_restarts and not self.loop_told
        self.loop_told = self.loop_told or loop
        return Verdict(escalate=False, delay_s=delay, restarts_in_period=len(self.failures),
                       crash_loop=loop)
