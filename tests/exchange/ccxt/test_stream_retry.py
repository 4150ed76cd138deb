"""RetryPacing on an injected clock: refusals back off, drops do not, a quiet spell resets."""

from __future__ import annotations

from exchange.ccxt.stream_retry import MAX_RETRY_S, STREAK_RESET_S, RetryPacing


def test_refusals_double_the_wait_up_to_the_cap_and_a_quiet_spell_starts_over():
    now = [0.0]
    pacing = RetryPacing(1.0, lambda: now[0])
    waits = []
    for _ in range(9):
        delay, _streak = pacing.failed("orders")
        waits.append(delay)
        now[0] += delay
    assert waits == [1, 2, 4, 8, 16, 32, MAX_RETRY_S, MAX_RETRY_S, MAX_RETRY_S]
    assert pacing.failed("fills") == (1.0, 1)  # each watcher has its own count
    now[0] += STREAK_RESET_S
    assert pacing.failed("orders") == (1.0, 1)


def test_a_dropped_connection_is_retried_at_once_and_counts_nothing():
    now = [0.0]
    pacing = RetryPacing(0.5, lambda: now[0])
    assert pacing.failed("tickers") == (0.5, 1)
    for _ in range(5):
        assert pacing.failed("tickers", refused=False) == (0.5, 0)
    assert pacing.failed("tickers") == (1.0, 2)


def test_a_refusal_lasting_a_day_keeps_the_capped_wait_and_never_raises():
    """The wait was retry_s * 2 ** (streak - 1), capped after the power was taken: at the
    1,025th refusal in a row (about 17 hours of a venue refusing the private subscription at
    the 60 s cap: a key without the permission, an IP not allowlisted) 2 ** 1024 overflowed a
    float. The OverflowError left the watcher's error handler, its task ended for good, and
    the streams stayed down (REST only) after the cause was fixed, with no line said."""
    now = [0.0]
    pacing = RetryPacing(1.0, lambda: now[0])
    for _ in range(1_500):  # a day at the cap
        delay, streak = pacing.failed("orders")
        now[0] += delay
    assert (delay, streak) == (MAX_RETRY_S, 1_500)
