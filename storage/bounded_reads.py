"""The run loop's status reads, bounded: a database server that stopped answering never holds
up the status round (storage/repository.py `read_bounded`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

STATUS_READ_WAIT_S = 1.0
"""How long the run loop waits for a status read before using the last answer."""


class _Read:
    """One read run on its own thread, so its caller can stop waiting for it."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        threading.Thread(target=self._run, args=(work,), name="db-status-read",
                         daemon=True).start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            self.error = exc
        finally:
            self.done.set()


class BoundedReads:
    """`read(query, *args)` answered within a bound, else by its last answer and why."""

    def __init__(self, read: Callable[..., Any], threaded: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self.read, self.threaded, self.clock = read, threaded, clock
        self.unreachable: str | None = None
        """Why the last bounded read got no answer (None: it answered)."""
        self._reads: dict[Any, _Read] = {}
        self._last: dict[Any, Any] = {}
        self._at: dict[Any, float] = {}
        """When each query's last answer came (what a status shows "as last read" is dated)."""
        self._reads_lock = threading.Lock()

    def __call__(self, query: Callable[..., T], *args: Any,
                 wait_s: float = STATUS_READ_WAIT_S) -> tuple[T | None, str | None]:
        """See storage/repository.py `read_bounded`."""
        key = (query, args)
        if not self.threaded:
            try:
                result = self.read(query, *args)
            except Exception as exc:  # noqa: BLE001 - said in the status, as on PostgreSQL
                self.unreachable = database_error(exc)
                return self._last.get(key), self.unreachable
            self._answered(key, result)
            return result, None
        with self._reads_lock:
            job = self._reads.get(key)
            fresh = job is None or job.done.is_set()
            if fresh:
                job = self._reads[key] = _Read(lambda: self.read(query, *args))
        assert job is not None
        if job.done.wait(wait_s if fresh else 0) and job.error is None:
            self._answered(key, job.result)
            return job.result, None
        error = job.error
        self.unreachable = (database_error(error) if error is not None else
                            f"database did not answer within {wait_s:g}s")
        return self._last.get(key), self.unreachable

    def _answered(self, key: Any, result: Any) -> None:
        self._last[key], self._at[key] = result, self.clock()
        self.unreachable = None

    def read_at(self, query: Callable[..., Any], *args: Any) -> float | None:
        """When the query's last answer came (None: none in this run). Found by review: a
        status said the escalations were "as last read" but not when, and showed none before
        any read."""
        return self._at.get((query, args))


def database_error(error: BaseException) -> str:
    return f"database error: {(str(error).strip() or type(error).__name__)}".splitlines()[0]
