"""One writer thread with group commit.

SQLite has one writer at a time and its busy-wait is unfair under many writer threads, so
500 actors writing directly would see "database is locked" and long tails. Instead every write
is a unit of work handed to one writer thread, which runs all units waiting at that moment in a
single transaction (each unit in its own savepoint, so one failing unit fails alone) and only
then wakes their callers. A caller is blocked until its unit is durably committed: this is not a
fire-and-forget queue, nothing is acknowledged before the commit (incident 3). The same writer
serves PostgreSQL (one connection, the same savepoints; batching saves round trips there too).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import peewee as pw

from storage.database import BUSY_TIMEOUT_MS
from storage.models import database_proxy
from storage.sql_conn import is_postgres


class WriterStopped(RuntimeError):
    pass


class _Unit:
    """One caller's work. `done` is a lock taken at creation and released by the writer once
    the unit is committed: waiting on a bare lock costs a fraction of `threading.Event`'s
    Condition machinery, and a 500-actor wave waits ~3 times per symbol."""

    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None


class _AloneFailed(Exception):
    """A lone unit failed: roll its transaction back (its error is already in the unit)."""


_STOP = object()
SUBMIT_TIMEOUT_S = 60.0
"""How long a caller waits for its unit's commit before `submit` raises TimeoutError: the bound
an actor announces for the heartbeat while it waits (actors/symbol_actor.py)."""
_BOUND = threading.local()


@contextlib.contextmanager
def writes_within(timeout_s: float) -> Iterator[None]:
    """This thread's writes inside the block wait at most `timeout_s` for their commit. For the
    account's run loop (protections/guard.py): found by review, a person's pause and the state a
    pass saves waited the 60 s above while the database stalled, holding the status dump and
    the heartbeat still; its callers say a write not stored in time and try it again later."""
    before = getattr(_BOUND, "s", None)
    _BOUND.s = timeout_s if before is None else min(before, timeout_s)
    try:
        yield
    finally:
        _BOUND.s = before


CHECKPOINT_INTERVAL_S = 30.0
"""How often the writer truncates the WAL when it is idle (and at 3x that even when busy)."""
CHECKPOINT_BUSY_MS = 100
"""How long a TRUNCATE checkpoint may wait for readers before giving up until next time."""


class GroupCommitWriter:
    def __init__(self, db: pw.Database, *, max_batch: int = 1000,
                 checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic,
                 guard: Callable[[pw.Database], None] | None = None) -> None:
        self._db = db
        self._postgres = is_postgres(db)
        self._began = False
        """The current batch's transaction started (a failure before it: nothing ran)."""
        self._guard = guard
        """Run after each unit's work, inside its savepoint (see Repository's commit_guard)."""
        self._checkpoint_s = checkpoint_interval_s
        self._clock = clock
        self._last_checkpoint = clock()
        self._dirty = False
        self.checkpoints: list[tuple[int, int, int]] = []
        """(busy, wal frames, frames checkpointed) of recent TRUNCATE checkpoints (last 100)."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self.commits = 0
        self.units = 0
        self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], Any], timeout: float | None = SUBMIT_TIMEOUT_S) -> Any:
        """Run `work` inside a transaction on the writer thread; return once committed (a
        TimeoutError after `timeout`, or the shorter bound of `writes_within`: the unit stays
        queued and may still commit)."""
        bound = getattr(_BOUND, "s", None)
        if bound is not None and (timeout is None or timeout > bound):
            timeout = bound
        unit = _Unit(work)
        with self._stop_lock:  # never queued behind the stop mark (it would never run)
            if self._stopped.is_set():
                raise WriterStopped("database writer is stopped")
            self._queue.put(unit)
        if not unit.done.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError("database commit did not finish in time"
                               + ("" if bound is None else f" (within {timeout:g}s)"))
        if unit.error is not None:
            raise unit.error
        return unit.result

    def close(self, timeout_s: float = 30.0) -> int | None:
        """Commit what is queued and stop. None once the thread ended; else (`timeout_s` ran
        out, a stalled disk) how many writes wait behind the one in progress (about: the stop
        mark is counted out), for the caller to say so."""
        with self._stop_lock:
            if not self._stopped.is_set():
                self._stopped.set()
                self._queue.put(_STOP)
        self._thread.join(timeout=timeout_s)
        return max(self._queue.qsize() - 1, 0) if self._thread.is_alive() else None

    def _run(self) -> None:
        # The units use the peewee models: on this thread they reach this writer's database,
        # whichever database the process opened last (one file per account).
        database_proxy.bind_thread(self._db)
        try:
            self._serve()
        finally:  # SQLite's pool takes it back (closed by the repository once it has ended)
            if not self._postgres:
                with contextlib.suppress(pw.PeeweeException):
                    self._db.close()

    def _serve(self) -> None:
        while True:
            first = self._next()
            if first is _STOP:
                return
            batch = [first]
            stop_after = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop_after:
                return
            self._checkpoint_if_due(idle=self._queue.empty())

    def _next(self) -> Any:
        while True:
            try:
                return self._queue.get(timeout=self._checkpoint_s)
            except queue.Empty:
                self._checkpoint_if_due(idle=True)

    def _checkpoint_if_due(self, *, idle: bool) -> None:
        """Keep the WAL bounded over long runs (issue 16 item 18): SQLite's automatic PASSIVE
        checkpoints never shrink the file and are starved by steady readers, so the WAL
        outgrew the database. A TRUNCATE checkpoint from this thread, between units, with a
        short busy wait, resets it; journal_size_limit (storage/database.py) caps it between."""
        elapsed = self._clock() - self._last_checkpoint
        due = elapsed >= (self._checkpoint_s if idle else 3 * self._checkpoint_s)
        if not (self._dirty and due) or self._postgres:  # WAL housekeeping is SQLite's
            return
        self._last_checkpoint = self._clock()
        self._dirty = False
        try:
            conn = self._db.connection()
            conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
            try:
                row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except Exception:  # noqa: BLE001 - a checkpoint is housekeeping; the next one retries
            self._dirty = True
            return
        self.checkpoints = [*self.checkpoints[-99:], tuple(row)]
        if row and row[0]:
            self._dirty = True  # readers kept it from finishing: try again next interval

    def _drop_connection(self) -> None:
        """After a failed commit on PostgreSQL the connection may be dead (server restart,
        network): hand it back so the next batch opens a fresh one. SQLite's file connection
        stays (its errors are not the connection's)."""
        if not self._postgres or self._db.in_transaction():
            return
        try:
            self._db.close()
        except pw.PeeweeException:
            pass  # already unusable: the pool discards it on the next checkout

    def _run_alone(self, unit: _Unit) -> None:
        """A batch of one needs no savepoint: the transaction is the unit's own (two statements
        fewer, two round trips on PostgreSQL, where most commits of a calm market come alone)."""
        try:
            unit.result = unit.work()
            if self._guard is not None:
                self._guard(self._db)
        except Exception as exc:  # noqa: BLE001 - handed to that unit's caller
            unit.error = exc
            raise _AloneFailed from exc

    def _run_each(self, batch: list[_Unit]) -> None:
        """Each unit in its own savepoint, so one failing unit fails alone."""
        conn = self._db.connection()
        for unit in batch:
            conn.execute("SAVEPOINT unit")
            try:
                unit.result = unit.work()
                if self._guard is not None:
                    self._guard(self._db)
                conn.execute("RELEASE unit")
            except Exception as exc:  # noqa: BLE001 - handed to that unit's caller
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                unit.error = exc

    def _commit(self, batch: list[_Unit]) -> None:
        for attempt in (1, 2):
            self._began = False
            try:
                with self._db.atomic():
                    self._began = True
                    if len(batch) == 1:
                        self._run_alone(batch[0])
                    else:
                        self._run_each(batch)
            except _AloneFailed:
                pass  # that unit's own error, already handed to it; its transaction rolled back
            except Exception as exc:  # noqa: BLE001 - the commit failed: nobody is acknowledged
                self._drop_connection()
                if attempt == 1 and self._postgres and not self._began:
                    continue  # BEGIN failed on a dead connection: nothing ran, a fresh one may
                for unit in batch:
                    unit.error = unit.error or exc
            break
        self.commits += 1
        self.units += len(batch)
        self._dirty = True
        for unit in batch:
            unit.done.release()
