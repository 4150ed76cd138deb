"""A write submitted while the writer closes is either committed or refused at once.

Found by review: `submit` checked the stop mark and then queued its unit; `close` could put the
stop mark between the two. The writer thread ended at the mark, the unit behind it was never
run, and its caller waited the whole submit deadline (60 s) for a TimeoutError instead of a
`WriterStopped` (an actor reading that as a slow database, not a shutdown). Real writer and
SQLite; the writer's queue holds a caller's unit at the door until `close` has run."""

from __future__ import annotations

import queue
import threading
from typing import Any

import peewee as pw

from storage.writer import GroupCommitWriter, WriterStopped


class HeldDoor(queue.SimpleQueue):
    """Once armed, holds the first unit put (not the stop mark) until `release` is set."""

    def __init__(self) -> None:
        self.arrived, self.release, self.held = threading.Event(), threading.Event(), False
        self.armed = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if self.armed and not self.held and callable(getattr(item, "work", None)):
            self.held = True
            self.arrived.set()
            self.release.wait(10)
        super().put(item, block, timeout)


def test_a_write_racing_close_is_committed_or_refused_not_timed_out(tmp_path):
    db = pw.SqliteDatabase(str(tmp_path / "bot.sqlite"), check_same_thread=False)
    writer = GroupCommitWriter(db, checkpoint_interval_s=0.05)
    door = HeldDoor()
    writer._queue = door  # noqa: SLF001 - the writer thread waits on it from its next get
    writer.submit(lambda: None, timeout=5)  # the writer thread now reads from `door`
    door.armed = True
    outcome: list[Any] = []

    def caller() -> None:
        try:
            # the timeout counts from the unit's put (after the door opens), so it bounds only
            # the writer running it: generous, a unit left behind the stop mark still fails
            outcome.append(writer.submit(lambda: "committed", timeout=30.0))
        except (WriterStopped, TimeoutError) as exc:
            outcome.append(exc)

    submitting = threading.Thread(target=caller, daemon=True)
    submitting.start()
    assert door.arrived.wait(10)  # past the stop check, its unit at the door
    closer = threading.Thread(target=writer.close, daemon=True)
    closer.start()
    closer.join(0.5)  # before the fix close finishes here; after it, it waits for the unit
    door.release.set()
    submitting.join(60)
    closer.join(60)
    db.close()
    assert len(outcome) == 1 and not isinstance(outcome[0], TimeoutError), outcome
