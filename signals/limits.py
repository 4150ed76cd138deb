"""Entry limits of the signal receiver. Not thread-safe on their own: the router calls them
under its lock, check first and take only when every limit allows the signal."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

DEFAULT_MAX_SIZE_USDT = Decimal(100_000)
"""The largest ``size_usdt`` a signal (HTTP, WebSocket or ``bot.py signal --size``) may ask for
when ``signals.max_size_usdt`` is not set: a typo or a unit mix-up (1e12) must never become an
order. 100,000 USDT is far above any sane manual size for this bot and far below a runaway one."""


def size_cap(configured: Decimal | None) -> tuple[Decimal, str]:
    """The cap in force and how to name it in a refusal."""
    if configured is not None:
        return configured, f"signals.max_size_usdt {configured}"
    return DEFAULT_MAX_SIZE_USDT, (
        f"the default cap {DEFAULT_MAX_SIZE_USDT} (set signals.max_size_usdt to change it)"
    )


class WaveLimiter:
    """At most `max_per_wave` entries accepted within any `window_s` seconds (a sliding window)."""

    def __init__(self, max_per_wave: int, window_s: float) -> None:
        if max_per_wave < 1 or window_s <= 0:
            raise ValueError("max_per_wave must be >= 1 and window_s > 0")
        self.max_per_wave = max_per_wave
        self.window_s = window_s
        self._times: deque[float] = deque()

    def check(self, now: float) -> str | None:
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        if len(self._times) >= self.max_per_wave:
            return (
                f"wave limit: {self.max_per_wave} entry signals already accepted within "
                f"{self.window_s:g}s"
            )
        return None

    def take(self, now: float) -> None:
        self._times.append(now)


class OpenPositionGate:
    """At most `max_open` positions, counting entries accepted but not yet visible as positions.

    An accepted entry reserves a slot for `reserve_s` (the time an actor needs to open it). While
    reservations are live the count is max(open_positions(), open-at-first-reservation +
    reservations): a reservation that became a position is not counted twice, and a position
    that closed meanwhile frees its slot only when the reservations expire (the safe side).
    """

    def __init__(
        self, max_open: int, open_positions: Callable[[], int], reserve_s: float = 10.0
    ) -> None:
        if max_open < 1 or reserve_s <= 0:
            raise ValueError("max_open must be >= 1 and reserve_s > 0")
        self.max_open = max_open
        self.reserve_s = reserve_s
        self._open_positions = open_positions
        self._expiries: deque[float] = deque()
        self._base = 0

    def count(self, now: float) -> int:
        while self._expiries and self._expiries[0] <= now:
            self._expiries.popleft()
        current = int(self._open_positions())
        if not self._expiries:
            self._base = current
            return current
        return max(current, self._base + len(self._expiries))

    def check(self, now: float) -> str | None:
        count = self.count(now)
        if count >= self.max_open:
            return f"max open positions reached ({count} open or opening, limit {self.max_open})"
        return None

    def take(self, now: float) -> None:
        self._expiries.append(now + self.reserve_s)
