"""One account-level thread that does one piece of work at a pace that can change while it runs
(the stop watch, the all-symbol sweep: both slow down while the venue's streams are up).

`pace()` is asked before every look: seconds between two rounds, or None for no round now. The
thread looks at least every `look_s`, so a new pace (a stream going down) takes effect within
that; a round that fails is logged in one line and the next one runs as planned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from actors.command_executor import describe


class Periodic:
    def __init__(self, *, name: str, work: Callable[[], object],
                 pace: Callable[[], float | None], look_s: float, logger: Any, what: str,
                 monotonic: Callable[[], float] = time.monotonic,
                 first_at_start: bool = True) -> None:
        """`first_at_start`: the first round runs at once (else one pace after the start)."""
        self._work, self._pace, self._look_s = work, pace, look_s
        self._log, self._what, self._now = logger, what, monotonic
        self._first_at_start = first_at_start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)  # (its own work may stop it: it then just ends)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        last = None if self._first_at_start else self._now()
        while not self._stop.is_set():
            try:  # a pace that raises must not end the thread unseen (found by review)
                pace = self._pace()
            except Exception as exc:  # noqa: BLE001 - one line; looked at again in `look_s`
                self._log.warning("{} failed: {}", self._what, describe(exc))
                self._stop.wait(self._look_s)
                continue
            left = self._look_s if pace is None else (
                0.0 if last is None else pace - 1e-3 - (self._now() - last))
            if left <= 0:
                last = self._now()
                try:
                    self._work()
                except Exception as exc:  # noqa: BLE001 - one failed round must not stop the next
                    self._log.warning("{} failed: {}", self._what, describe(exc))
                continue
            self._stop.wait(min(left, self._look_s))
