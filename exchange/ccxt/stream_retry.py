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
"""

from __future__ import annotations

from collections.abc import Callable

MAX_RETRY_S = 60.0
"""The longest wait before a failing watcher subscribes again."""
STREAK_RESET_S = 120.0
"""A watcher that ran this long since its last failure starts again at `retry_s`."""


class RetryPacing:
    def __init__(self, retry_s: float, monotonic: Callable[[], float]) -> None:
        self.retry_s = retry_s
        self._now = monotonic
        self._streak: dict[str, tuple[int, float]] = {}
        """Watcher -> (failures in a row, monotonic time of the last one)."""
        self._outage: set[str] = set()
        """Watchers that failed since the streams were last connected (`up`)."""

    def failed(self, name: str, *, refused: bool = True) -> tuple[float, int]:
        """`name` failed now: (seconds to wait before it subscribes again, refusals in a
        row); a failure that is not the venue's refusal waits `retry_s` and counts nothing."""
        if not refused:
            return self.retry_s, 0
        now = self._now()
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
