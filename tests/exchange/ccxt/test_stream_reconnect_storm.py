"""A venue (or a proxy) that closes every socket at once: each drop was retried after
`retry_s` for ever, one new connection a second per socket. Binance allows 300 connection
attempts per 5 minutes per IP and Bybit 500: one Binance account's two sockets (600 in 5
minutes) got the IP's streams banned, and several accounts on one IP sooner. A few quick
drops are still retried at once; a storm of them backs off (RetryPacing, injected clock)."""

from __future__ import annotations

from exchange.ccxt.stream_retry import MAX_RETRY_S, STREAK_RESET_S, RetryPacing


def _attempts_in(pacing: RetryPacing, now: list[float], window_s: float, lives_s: float) -> int:
    """Connections made in `window_s` when each one is dropped `lives_s` after it opened."""
    attempts, start = 0, now[0]
    while now[0] - start < window_s:
        attempts += 1
        now[0] += lives_s
        delay, _ = pacing.failed("orders", refused=False)
        now[0] += delay
    return attempts


def test_a_storm_of_drops_backs_off_under_the_venues_connection_limits():
    now = [0.0]
    pacing = RetryPacing(1.0, lambda: now[0])
    attempts = _attempts_in(pacing, now, 300.0, lives_s=0.05)
    assert attempts <= 40  # one socket; Binance's limit is 300 per IP (all sockets, accounts)
    delay, streak = pacing.failed("orders", refused=False)
    assert 1.0 < delay <= MAX_RETRY_S and streak == 0  # drops are no refusals (said once)


def test_a_few_quick_drops_are_retried_at_once_and_a_healthy_spell_starts_over():
    now = [0.0]
    pacing = RetryPacing(1.0, lambda: now[0])
    for _ in range(5):
        assert pacing.failed("orders", refused=False) == (1.0, 0)
        now[0] += 1.0
    _attempts_in(pacing, now, 120.0, lives_s=0.05)
    assert pacing.failed("orders", refused=False)[0] > 1.0
    now[0] += STREAK_RESET_S  # the connection held for two minutes: a new drop, retried at once
    assert pacing.failed("orders", refused=False) == (1.0, 0)
    assert pacing.failed("fills", refused=False) == (1.0, 0)  # each watcher has its own count
