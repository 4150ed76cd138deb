"""How the cluster heartbeat's failures are said (cluster/node.py `_beat_loop`).

The cluster database down (LeaseStoreUnavailable): one WARNING when the beats start failing, a
reminder every BEAT_FAILING_REMINDER_S, and one line when a beat answers again with how long
they failed, as the market feed says its outages (actors/market_feed.py `poll_round`). Found
by review: an outage logged `cluster: heartbeat failed` at every beat (~2 s, or TTL/3), a
thousand lines an hour that buried the lines about the accounts. An error no one foresaw is
said at most once a minute (the thread lives on and tries again every beat)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from observability.error_text import describe

BEAT_FAILING_REMINDER_S = 300.0
UNFORESEEN_EVERY_S = 60.0


class BeatOutage:
    def __init__(self, log: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self._clock = log, clock
        self._failing: tuple[float, float, int] | None = None
        """(since, last said, failed beats) while the beats fail; monotonic times."""
        self._unforeseen_said = float("-inf")

    def failed(self, exc: BaseException) -> None:
        """A beat the database did not answer."""
        now = self._clock()
        if self._failing is None:
            self._failing = (now, now, 1)
            self._log.warning("cluster: heartbeat failed: {}", describe(exc))
            return
        since, said, failed = self._failing
        if now - said >= BEAT_FAILING_REMINDER_S:
            said = now
            self._log.warning("cluster: heartbeats still failing ({} in a row over {:.0f} s): {}",
                              failed + 1, now - since, describe(exc))
        self._failing = (since, said, failed + 1)

    def unforeseen(self, exc: BaseException) -> None:
        """A beat that raised anything else (a driver bug, a decoding error)."""
        now = self._clock()
        if now - self._unforeseen_said >= UNFORESEEN_EVERY_S:
            self._unforeseen_said = now
            self._log.error("cluster: heartbeat failed ({}); tried again every beat, said at "
                            "most once a minute", describe(exc))  # `Type: message` already

    def answered(self) -> None:
        """A beat went through: the end of an outage is said once, with its length."""
        if self._failing is None:
            return
        since, _, failed = self._failing
        self._failing = None
        self._log.info("cluster: heartbeats answer again ({} failed over {:.0f} s)", failed,
                       self._clock() - since)
