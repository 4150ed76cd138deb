"""What a flood of rejected signals may cost: one journal row and one log line per interval.

Every rejection is still answered with its reason and counted; only the first one of each
interval is journaled (an fsync'd row) and logged in full. The ones after it are added up and
written as a single summary (count and the most frequent reasons) with the next recorded
rejection or by ``flush``. 3,494 rows and 1,735 WARNING lines in 5 s (issue 16) become a few.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

DEFAULT_INTERVAL_S = 1.0
_REASON_CHARS = 80
_REASONS_KEPT = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppressed:
    """Rejections answered but not recorded one by one since the last recorded one."""

    count: int
    """How many."""
    reasons: dict[str, int]
    """The most frequent reasons (first 80 characters) with their counts."""


class RejectionThrottle:
    """Thread-safe; the clock is the caller's (``now`` in monotonic seconds)."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must be >= 0")
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._last: float | None = None
        self._reasons: Counter[str] = Counter()

    def admit(self, reason: str, now: float) -> tuple[bool, Suppressed | None]:
        """(record this rejection?, what was held back before it, if anything)."""
        with self._lock:
            if self._last is not None and now - self._last < self.interval_s:
                self._reasons[reason[:_REASON_CHARS]] += 1
                return False, None
            self._last = now
            return True, self._take()

    def flush(self, now: float | None = None) -> Suppressed | None:
        """What is held back now (and forget it); None when nothing is. With ``now``: only once
        the interval of the last recorded rejection is over (within it, a rejection recorded
        next carries the count), so a timer adds no line to the interval's two."""
        with self._lock:
            if now is not None and self._last is not None and now - self._last < self.interval_s:
                return None
            return self._take()

    def _take(self) -> Suppressed | None:
        if not self._reasons:
            return None
        held = Suppressed(count=sum(self._reasons.values()),
                          reasons=dict(self._reasons.most_common(_REASONS_KEPT)))
        self._reasons = Counter()
        return held
