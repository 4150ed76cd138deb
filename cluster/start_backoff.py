"""When a node may try again to start an account whose start failed (cluster/node.py).

A failed start gives the lease back at once (another node, perhaps one that can start it, may
take it) and the account's keeper would acquire it again at once: an account whose start fails
fast (a schema newer than this node's code during a rolling upgrade, a refused credential)
was started ~50 times a second, each with an error and its traceback in the log and a storage
open on the database. So the node wants the account again only after a delay that doubles with
each failure in a row, like an actor's restarts; a start that succeeds resets it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

INITIAL_S = 1.0
MAX_S = 60.0


class StartBackoff:
    """Per account: failed starts in a row and the monotonic time before which the node does
    not acquire it again. Read by keeper threads, written by the node thread."""

    def __init__(self, *, initial_s: float = INITIAL_S, max_s: float = MAX_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}

    def failed(self, account: str) -> float:
        """Count a failed start; returns the delay before the next attempt."""
        with self._lock:
            count = self._failures.get(account, (0, 0.0))[0]
            delay = min(self._initial_s * 2.0 ** min(count, 60), self._max_s)  # 2.0**1024 overflows
            self._failures[account] = (count + 1, self._clock() + delay)
        return delay

    def started(self, account: str) -> None:
        with self._lock:
            self._failures.pop(account, None)

    def waiting(self, account: str) -> bool:
        """True while the account's next start attempt is not due."""
        with self._lock:
            entry = self._failures.get(account)
        return entry is not None and self._clock() < entry[1]

    def any_waiting(self) -> bool:
        """True while some account's next start attempt is not due (the node is not ready to
        take a share: balancing elsewhere leaves it out)."""
        now = self._clock()
        with self._lock:
            return any(now < until for _, until in self._failures.values())
