"""The thread that writes a log stream's pending lines on a fixed interval."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable

from observability.log_files import to_stderr


class Flusher:
    """The thread that writes pending lines every ``interval`` s; also flushes at interpreter
    exit, for a program that ends without ``close()``."""

    def __init__(self, flush: Callable[[], None], interval: float) -> None:
        self._flush = flush
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-flusher", daemon=True)
        self._thread.start()
        atexit.register(self._flush)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._flush()
            except Exception as exc:  # noqa: BLE001 - a dead flusher would stop all logging
                to_stderr(f"log flusher: {type(exc).__name__}: {exc}; retrying")

    def stop(self) -> None:
        atexit.unregister(self._flush)
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
