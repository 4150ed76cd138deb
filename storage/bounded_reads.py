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

    def __init__(self, work: Callable[[], Any], clock: Callable[[], float]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.at: float | None = None
        """When the answer came (it may come after its caller stopped waiting)."""
        threading.Thread(target=self._run, args=(work, clock), name="db-status-read",
                         daemon=True).start()

    def _run(self, work: Callable[[], Any], clock: Callable[[], float]) -> None:
        try:
            self.result = work()
            self.at = clock()
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
            if job is not None and job.done.is_set():  # it answered, maybe after its wait:
                self._took(key, job)  # found by review, such an answer was thrown away
                job = None
            fresh = job is None
            if job is None:
                job = self._reads[key] = _Read(lambda: self.read(query, *args), self.clock)
        if job.done.wait(wait_s if fresh else 0) and job.error is None:
            self._took(key, job)
            self.unreachable = None
            return job.result, None
        error = job.error
        self.unreachable = (database_error(error) if error is not None else
                            f"database did not answer within {wait_s:g}s")
        return self._last.get(key), self.unreachable

    def _answered(self, key: Any, result: Any) -> None:
        self._last[key], self._at[key] = result, self.clock()
        self.unreachable = None

    def _took(self, key: Any, job: _Read) -> None:
        """`job`'s answer as the last one, dated when it came: a server answering every read
        a little slower than the wait (1.2 s to 1 s) had none shown, round after round (each
        round's late answer was replaced by a new read before anyone took it)."""
        if job.error is None and job.at is not None:
            self._last[key], self._at[key] = job.result, job.at

    def read_at(self, query: Callable[..., Any], *args: Any) -> float | None:
        """When the query's last answer came (None: none in this run). Found by review: a
        status said the escalations were "as last read" but not when, and showed none before
        any read."""
        return self._at.get((query, args))


def database_error(error: BaseException) -> str:
    return f"database error: {(str(error).strip() or type(error).__name__)}".splitlines()[0]
