"""How long a failed stream watcher waits before it subscribes again.

`retry_s` after a first refusal, doubled for each refusal that follows within
`STREAK_RESET_S` of the one before, at most `MAX_RETRY_S`. A refusal is the venue's answer
(ccxt's ExchangeError: a subscription or an authentication refused); a dropped connection, a
timeout or our own reconnect of a silent socket is always retried after `retry_s` (backing
off on those kept the streams down for a minute after a few quick drops). A venue that refuses every
subscription (Bybit answers `success: false` and ccxt.pro raises) is so not asked once a second
for ever, each time on a new connection, which several accounts on one IP would take to the
venue's connection limit (Bybit: 500 connections per 5 minutes per IP); REST carries the
account meanwhile. A watcher that ran for a while before failing starts again at `retry_s`, so
a dropped connection days later is retried at once.

A drop is retried after `retry_s` too, but only `DROPS_FREE` times in a row: a venue or a proxy
closing every socket at once (a reconnect storm) had each socket dial again every second for
ever, 600 connections per 5 minutes for one account's two sockets, over the venues' limits
(Binance 300 connection attempts per 5 minutes per IP, Bybit 500), which ban the IP's streams.
Past those, each further drop within `STREAK_RESET_S` of the last doubles the wait, at most
`DROP_MAX_RETRY_S`.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_RETRY_S = 60.0
"""The longest wait before a failing watcher subscribes again."""
STREAK_RESET_S = 120.0
"""A watcher that ran this long since its last failure starts again at `retry_s`."""
DROPS_FREE = 5
"""Drops in a row retried after `retry_s` before a storm of them backs off."""
DROP_MAX_RETRY_S = 30.0
"""The longest wait after a dropped connection (a storm of drops)."""


class RetryPacing:
    def __init__(self, retry_s: float, monotonic: Callable[[], float]) -> None:
        self.retry_s = retry_s
        self._now = monotonic
        self._streak: dict[str, tuple[int, float]] = {}
        """Watcher -> (failures in a row, monotonic time of the last one)."""
        self._drops: dict[str, tuple[int, float]] = {}
        """Watcher -> (drops in a row, monotonic time of the last one)."""
        self._outage: set[str] = set()
        """Watchers that failed since the streams were last connected (`up`)."""

    def failed(self, name: str, *, refused: bool = True) -> tuple[float, int]:
        """`name` failed now: (seconds to wait before it subscribes again, refusals in a
        row); a failure that is not the venue's refusal counts no refusal and waits `retry_s`,
        unless it is one of a storm of drops (`DROPS_FREE`)."""
        now = self._now()
        if not refused:
            drops, last = self._drops.get(name, (0, -float("inf")))
            drops = 1 if now - last >= STREAK_RESET_S else drops + 1
            self._drops[name] = (drops, now)
            if drops <= DROPS_FREE:
                return self.retry_s, 0
            power = min(drops - DROPS_FREE, 30)
            return min(self.retry_s * 2 ** power, max(DROP_MAX_RETRY_S, self.retry_s)), 0
        streak, last = self._streak.get(name, (0, -float("inf")))
        streak = 1 if now - last >= STREAK_RESET_S else streak + 1
        self._streak[name] = (streak, now)
        cap = max(MAX_RETRY_S, self.retry_s)
        # the power is bounded before the float math: 2 ** 1024 overflows a float (the
        # 1,025th refusal in a row, ~17 h at the cap), and the OverflowError ended the watcher
        return min(self.retry_s * 2 ** min(streak - 1, 30), cap), streak

    def first_in_outage(self, name: str) -> bool:
        """True for `name`'s first failure since the streams were last connected: that one is
        logged as a warning, the dials that follow in the same outage at debug level (one line
        a watcher for each refused dial filled the log, ~100 lines in a 10-minute outage)."""
        first = name not in self._outage
        self._outage.add(name)
        return first

    def up(self) -> None:
        """The streams are connected: the next failure starts a new outage."""
        self._outage.clear()
