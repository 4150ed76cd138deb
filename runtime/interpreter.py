"""The interpreter's thread switch interval, set once when the bot (or a worker) starts.

Every actor, the feed, the stream loop and the database writer are Python threads sharing one
interpreter lock. CPython lets a thread that waits for the lock take it only after the running
thread has held it for the switch interval (5 ms by default). A price that crosses a stop passes
the lock at least four times before its close order leaves (feed -> actor, actor -> database
writer, writer back to the actor after the commit, and the actor's wake itself), and while the
feed delivers a batch of prices or ccxt handles a message each pass can wait a whole interval.
A shorter interval bounds those waits when the process has the cores to itself; its cost is
more forced switches, each needing the OS to run the thread that gets the lock. On the shared
2-core development machine (load average 20-40) a 1 ms or 0.25 ms interval made the whole
tick -> close path slower and used more CPU than the default (bench/README.md), so the default
stays Python's 5 ms. `bot.switch_interval_ms` sets it; the status dump shows the value in
force.

The cyclic garbage collector is the other process-wide pause: a full (oldest generation)
collection walks every tracked object, and a started bot holds ~300,000 of them (ccxt's market
tables, 500 actors, modules), so each one stopped every thread for 0.1-0.5 s (one of 123.7 ms
in bench_stream_close.py's run; 431-489 ms for `gc.collect()` in a 500-symbol bench process
under load 4). `freeze_startup_objects` moves everything alive once the bot has started into
the permanent generation (`gc.freeze`): later collections walk only what was made since
(0.02-0.07 ms for the same collect). Reference counting still frees frozen objects; only
reference cycles among them are not collected until `unfreeze` (at stop), e.g. a restarted
actor's old incarnation (a few kilobytes per restart). The bot freezes once it has started and
once more a minute later (what the streams loaded meanwhile: their markets, their sockets)."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any


def apply_switch_interval(ms: float) -> float:
    """Set the switch interval to `ms` milliseconds; returns the previous one (ms)."""
    previous = sys.getswitchinterval() * 1000
    sys.setswitchinterval(ms / 1000)
    return previous


def switch_interval_ms() -> float:
    """The switch interval in force (ms), for the status dump."""
    return round(sys.getswitchinterval() * 1000, 4)


def freeze_startup_objects() -> tuple[int, float]:
    """Collect once, then freeze everything alive out of the collector's walks (see above).
    Returns (objects frozen, milliseconds the collect and freeze took)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count(), (time.perf_counter() - started) * 1000


def unfreeze() -> None:
    """Give the frozen objects back to the collector (the bot stopped: its cycles may go)."""
    gc.unfreeze()


class GcFreezer:
    """The bot's two freezes (see above) and the unfreeze at stop, each logged in one line."""

    AGAIN_AFTER_S = 60.0

    def __init__(self, log: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self._again: float | None = None
        self.freezes = 0

    def started(self) -> None:
        self._freeze("started")
        self._again = self.clock() + self.AGAIN_AFTER_S

    def tick(self) -> None:
        if self._again is not None and self.clock() >= self._again:
            self._again = None
            self._freeze(f"running {self.AGAIN_AFTER_S:g} s")

    def stopped(self) -> None:
        self._again = None
        unfreeze()

    def _freeze(self, when: str) -> None:
        frozen, ms = freeze_startup_objects()
        self.freezes += 1
        self.log.info("gc: {} objects frozen out of the collector's walks ({}; took {:.0f} ms)",
                      frozen, when, ms)
