"""Limits of the signal receiver. The entry limits (WaveLimiter, OpenPositionGate) are not
thread-safe on their own: the router calls them under its lock, check first and take only when
every limit allows the signal. ConnectionCaps (the HTTP endpoint's connections) is thread-safe."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from decimal import Decimal
from typing import Any

from trading.primitives import decimal_text

DEFAULT_MAX_SIZE_USDT = Decimal(100_000)
"""The largest ``size_usdt`` a signal (HTTP, WebSocket or ``bot.py signal --size``) may ask for
when ``signals.max_size_usdt`` is not set: a typo or a unit mix-up (1e12) must never become an
order. 100,000 USDT is far above any sane manual size for this bot and far below a runaway one."""


def size_cap(configured: Decimal | None) -> tuple[Decimal, str]:
    """The cap in force and how to name it in a refusal."""
    if configured is not None:
        return configured, f"signals.max_size_usdt {decimal_text(configured)}"
    return DEFAULT_MAX_SIZE_USDT, (
        f"the default cap {DEFAULT_MAX_SIZE_USDT} (set signals.max_size_usdt to change it)"
    )


class WaveLimiter:
    """At most `max_per_wave` entries accepted within any `window_s` seconds (a sliding window).
    An entry for a (symbol, side) already taken inside the window takes no second place: a
    repeated signal adds no exposure, and must not use up the wave of the other symbols."""

    def __init__(self, max_per_wave: int, window_s: float) -> None:
        if max_per_wave < 1 or window_s <= 0:
            raise ValueError("max_per_wave must be >= 1 and window_s > 0")
        self.max_per_wave = max_per_wave
        self.window_s = window_s
        self._times: deque[tuple[float, Hashable]] = deque()

    def check(self, now: float, key: Hashable = None) -> str | None:
        while self._times and self._times[0][0] <= now - self.window_s:
            self._times.popleft()
        if key is not None and any(k == key for _, k in self._times):
            return None
        if len(self._times) >= self.max_per_wave:
            return (
                f"wave limit: {self.max_per_wave} entry signals already accepted within "
                f"{self.window_s:g}s"
            )
        return None

    def take(self, now: float, key: Hashable = None) -> None:
        if key is None or all(k != key for _, k in self._times):
            self._times.append((now, key))

    def forget(self, key: Hashable) -> None:
        """An entry taken but not delivered (its actor was not running) gives its place back."""
        self._times = deque(t for t in self._times if t[1] != key)


class OpenPositionGate:
    """At most `max_open` positions, counting entries accepted but not yet visible as positions.

    An accepted entry reserves a slot for `reserve_s` (the time an actor needs to open it), one
    per (symbol, side): a repeated signal for a reservation still live takes no second slot
    (found by review: five BTC longs reserved five slots, one position opened, the other four
    were skipped as already open, and ETH was refused at the cap).

    With `held` (the account gate's count per symbol, read as one snapshot) the count is the
    gate's plus each live reservation whose symbol the gate does not count yet: one that became
    an entry is not counted twice, and a position another way in opened meanwhile (a manual
    signal, a strategy) does not hide a reservation its actor has not reached (found by review:
    the estimate below let a signal past the cap through with 202, and the entry accepted first
    was then skipped). Without it, while reservations are live the count is
    max(open_positions(), open-at-first-reservation + reservations). Either way a position that
    closed meanwhile frees its slot at once, a reservation only when it expires (the safe side).
    """

    def __init__(
        self, max_open: int, open_positions: Callable[[], int], reserve_s: float = 10.0,
        held: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        if max_open < 1 or reserve_s <= 0:
            raise ValueError("max_open must be >= 1 and reserve_s > 0")
        self.max_open = max_open
        self.reserve_s = reserve_s
        self._open_positions = open_positions
        self._held = held
        self._expiries: dict[Hashable, float] = {}
        self._anonymous = 0
        self._base = 0

    def count(self, now: float) -> int:
        self._expiries = {k: t for k, t in self._expiries.items() if t > now}
        if self._held is not None:
            held = self._held()  # one snapshot: its sum is the gate's count
            pending = sum(1 for key in self._expiries if _symbol_of(key) not in held)
            return sum(held.values()) + pending
        current = int(self._open_positions())
        if not self._expiries:
            self._base = current
            return current
        return max(current, self._base + len(self._expiries))

    def check(self, now: float, key: Hashable = None) -> str | None:
        count = self.count(now)
        if key is not None and key in self._expiries:
            return None  # its slot is already reserved
        if count >= self.max_open:
            return f"max open positions reached ({count} open or opening, limit {self.max_open})"
        return None

    def take(self, now: float, key: Hashable = None) -> None:
        if key is None:
            self._anonymous += 1
            key = ("entry", self._anonymous)
        self._expiries.setdefault(key, now + self.reserve_s)

    def forget(self, key: Hashable) -> None:
        """An entry reserved but not delivered (its actor was not running) frees its slot."""
        self._expiries.pop(key, None)


def _symbol_of(key: Hashable) -> object:
    """The symbol of a reservation's (symbol, side) key (an anonymous key has none)."""
    return key[0] if isinstance(key, tuple) and key and key[0] != "entry" else None


class _Conn:
    __slots__ = ("ip", "opened", "head_done", "evicted")

    def __init__(self, ip: str, opened: float) -> None:
        self.ip, self.opened, self.head_done, self.evicted = ip, opened, False, False


class ConnectionCaps:
    """The HTTP endpoint's open connections (oldest first): at most `max_total`, at most
    `max_per_ip` from one address. Over a cap, the oldest connection (of that address, or of
    all) still waiting for its request line and headers after `evict_after_s` is handed to
    `evict` (which answers and closes it) to make room: idle connections held open cannot lock
    out a sender whose request arrives at once. A connection counts until `leave` (its thread
    ended), so the caps bound the threads and file descriptors."""

    def __init__(self, max_total: int, max_per_ip: int, evict_after_s: float,
                 evict: Callable[[Any], None]) -> None:
        self.max_total, self.max_per_ip, self.evict_after_s = max_total, max_per_ip, evict_after_s
        self._evict = evict
        self._cond = threading.Condition()
        self._open: dict[Hashable, _Conn] = {}

    def admit(self, key: Hashable, ip: str,
              now: float) -> tuple[str | None, list[tuple[str, float]]]:
        """(why the connection is refused, or None: admitted; the (address, idle seconds) of
        the connections closed to make room)."""
        evicted: list[tuple[str, float]] = []
        with self._cond:
            for per_ip in (True, False):
                def over(per_ip: bool = per_ip) -> bool:
                    if per_ip:
                        return sum(c.ip == ip for c in self._open.values()) >= self.max_per_ip
                    return len(self._open) >= self.max_total

                if not over():
                    continue
                victim = next(((k, c) for k, c in self._open.items()
                               if self._idle(c, ip if per_ip else None, now)), None)
                if victim is not None:
                    victim[1].evicted = True
                    evicted.append((victim[1].ip, now - victim[1].opened))
                    self._evict(victim[0])
                    self._cond.wait_for(lambda: not over(), timeout=0.2)  # its thread ends
                if over():
                    limit = self.max_per_ip if per_ip else self.max_total
                    where = f" from {ip}" if per_ip else ""
                    return f"too many connections{where} (limit {limit}); retry shortly", evicted
            self._open[key] = _Conn(ip, now)
        return None, evicted

    def _idle(self, conn: _Conn, ip: str | None, now: float) -> bool:
        return (not conn.head_done and not conn.evicted and now - conn.opened >= self.evict_after_s
                and ip in (None, conn.ip))

    def head_done(self, key: Hashable) -> bool:
        """The connection's request line and headers arrived; False when it was closed (to make
        room) meanwhile."""
        with self._cond:
            conn = self._open.get(key)
            if conn is None or conn.evicted:
                return False
            conn.head_done = True
            return True

    def leave(self, key: Hashable) -> None:
        with self._cond:
            self._open.pop(key, None)
            self._cond.notify_all()
