"""A polling thread's failures, said once per outage and kind of error.

A poll that fails while a venue is down fails again at every interval: said each time, that
was a warning per poll (two lines a second at a 0.5 s interval) for as long as the outage
lasted. Here the first failure and a failure of another kind are said at once, a reminder
every `reminder_s` while they go on, and the first poll that answers again says so with how
many failed over how long. Used by the REST market feed (actors/market_feed.py) and the
dry-run price source (exchange/ccxt/tickers.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from observability.error_text import describe

REMINDER_S = 300.0
"""While every poll fails, a reminder line this often."""


class PollOutage:
    def __init__(self, logger: Any, what: str, clock: Callable[[], float] = time.time,
                 reminder_s: float = REMINDER_S) -> None:
        """`what`: the poll's name in the lines ("market feed poll": "... poll failed",
        "... polls still failing", "... polls answer again")."""
        self.log, self.what, self.clock, self.reminder_s = logger, what, clock, reminder_s
        self._failing: tuple[str, float, float, int] | None = None
        """While polls fail: the error's kind, since when, when last said, how many failed."""

    def failed(self, exc: BaseException) -> None:
        now, kind = self.clock(), type(exc).__name__
        if self._failing is None or self._failing[0] != kind:
            since, failed = (now, 0) if self._failing is None else self._failing[1::2]
            self._failing = (kind, since, now, failed + 1)
            self.log.warning("{} failed: {}", self.what, describe(exc))
            return
        kind, since, said, failed = self._failing
        if now - said >= self.reminder_s:
            said = now
            self.log.warning("{}s still failing ({} in a row over {:.0f} s): {}", self.what,
                             failed + 1, now - since, describe(exc))
        self._failing = (kind, since, said, failed + 1)

    def answered(self) -> None:
        if self._failing is not None:
            _, since, _, failed = self._failing
            self._failing = None
            self.log.info("{}s answer again ({} failed over {:.0f} s)", self.what, failed,
                          self.clock() - since)
