"""Backoffs that double per failure must stay at their cap however many failures come, not
overflow (found by review after the restart backoff's OverflowError at ~1,024 restarts): the
dashboard's login throttle (a raise there left the peer's wait unset, so a peer that had failed
for ~17 hours could then guess tokens at full speed) and a cluster node's account start
backoff."""

from __future__ import annotations

from cluster.start_backoff import StartBackoff
from dashboard.throttle import MAX_WAIT_S, LoginThrottle


def test_the_login_throttle_keeps_its_cap_after_two_thousand_failures():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(2000):
        now[0] += MAX_WAIT_S
        assert throttle.retry_in("10.0.0.9") == 0.0
        throttle.failed("10.0.0.9")
    assert throttle.retry_in("10.0.0.9") == MAX_WAIT_S


def test_an_account_start_backoff_keeps_its_cap_after_two_thousand_failures():
    backoff = StartBackoff(initial_s=1.0, max_s=60.0, clock=lambda: 0.0)
    delays = [backoff.failed("acct") for _ in range(2000)]
    assert delays[-1] == 60.0 and max(delays) == 60.0
