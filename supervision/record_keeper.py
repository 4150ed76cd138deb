"""The supervisor's records, written on a thread of their own.

Found by review: the supervisor thread ran each record's write itself and a stalled database
held it up to the writer's deadline (60 s) per write; meanwhile no actor was pinged, restarted
or judged hung. Now the supervisor hands each record here and goes on.

- A best-effort record (a restart count) is tried once; a failure is one ERROR line. Past
  `max_pending` waiting records a new best-effort one is left out with one line.
- A record the rules need (a quarantine, an escalation, the kill switch: INCIDENTS.md rule 2) is
  retried with backoff until it is stored or the supervisor stops; the first failure is one
  ERROR line, a later success one WARNING line. A write whose commit outlasted the writer's
  deadline (TimeoutError) is still queued in the writer and commits there: not written twice.
- Records are written in the order handed in, a record's writes in their order; a record
  waiting for its retry holds up no other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from observability.error_text import describe
from storage.writer import WriterStopped


@dataclass(slots=True, eq=False)
class _Record:
    log: Any
    what: str
    writes: list[Callable[[], object]]
    must: bool
    symbol: str | None
    delay_s: float
    failures: int = 0
    not_before: float = 0.0


class RecordKeeper:
    def __init__(self, *, retry_initial_s: float = 1.0, retry_max_s: float = 30.0,
                 max_pending: int = 1000) -> None:
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._max_pending = max_pending
        self._records: deque[_Record] = deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor-records", daemon=True)
        self._thread.start()

    def add(self, log: Any, what: str, *writes: Callable[[], object], must: bool = False,
            symbol: str | None = None) -> None:
        """Hand a record's writes over; returns at once."""
        with self._cond:
            if self._closing.is_set():
                log.error("{} not stored: the supervisor stopped", what)
                return
            if not must and len(self._records) >= self._max_pending:
                log.error("{} not stored: {} records wait for the database", what,
                          len(self._records))
                return
            self._records.append(_Record(log, what, list(writes), must, symbol,
                                         self._retry_initial_s))
            self._cond.notify_all()

    def pending(self, symbol: str | None = None) -> int:
        """Records not yet stored (those of `symbol` when given)."""
        with self._cond:
            return sum(1 for r in self._records if symbol is None or r.symbol == symbol)

    def wait_stored(self, symbol: str, timeout_s: float) -> bool:
        """Whether `symbol`'s records are all written (waiting up to `timeout_s`)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(r.symbol == symbol for r in self._records), timeout=timeout_s)

    def close(self, timeout_s: float = 5.0) -> int:
        """Stop retrying; write what waits once more, for up to `timeout_s`. Returns how many
        records were left unwritten (each also named by an ERROR line when given up)."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=timeout_s)
        left = self.pending()
        if left and self._thread.is_alive():
            with self._cond:
                for record in self._records:
                    record.log.error("{} not confirmed stored: the supervisor stopped first",
                                     record.what)
        return left

    def _run(self) -> None:
        while True:
            with self._cond:
                record = self._ready()
                while record is None:
                    if self._closing.is_set() and not self._records:
                        return
                    self._cond.wait(timeout=self._next_wait())
                    record = self._ready()
            done = self._write(record)
            with self._cond:
                self._records.remove(record)
                if not done:  # retried later; the others are not held up behind it
                    record.not_before = time.monotonic() + record.delay_s
                    record.delay_s = min(record.delay_s * 2, self._retry_max_s)
                    self._records.append(record)
                self._cond.notify_all()

    def _ready(self) -> _Record | None:
        now = time.monotonic()
        for record in self._records:
            if self._closing.is_set() or record.not_before <= now:
                return record
        return None

    def _next_wait(self) -> float | None:
        if not self._records:
            return None
        return max(min(r.not_before for r in self._records) - time.monotonic(), 0.001)

    def _write(self, record: _Record) -> bool:
        """Its writes from the first not yet stored; False: retry it later."""
        while record.writes:
            try:
                record.writes[0]()
            except TimeoutError as exc:  # still queued in the writer: it commits there
                record.log.warning("{} not confirmed yet ({}); it commits when the database "
                                   "answers", record.what, describe(exc))
            except WriterStopped as exc:
                record.log.error("{} not stored: {}", record.what, describe(exc))
                return True
            except BaseException as exc:  # noqa: BLE001 - logged; retried when the rules need
                # it (a library's SystemExit ended this thread: nothing was stored after it)
                record.failures += 1
                if not record.must or self._closing.is_set():
                    record.log.error("{} not stored: {}", record.what, describe(exc))
                    return True
                if record.failures == 1:
                    record.log.error("{} not stored: {}; retrying until it is", record.what,
                                     describe(exc))
                return False
            record.writes.pop(0)
        if record.failures:
            record.log.warning("{} stored after {} failed attempts", record.what,
                               record.failures)
        return True
