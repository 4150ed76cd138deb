"""Rule 3: a state change and its event are committed in one transaction, or not at all. The
group-commit writer runs the units queued together in one transaction, each in a savepoint: a
unit that fails after writing part of its rows (a state row written, its journal insert or the
commit guard raising) must leave none of them behind, while the units around it commit. Its
caller is told it failed; a committed half (a state without its event) would be restored later
as if decided. Found by the incident-rule mutation audit: with the savepoint's rollback removed,
no test failed (every other writer test commits units alone, in a transaction of their own).

Real writer and SQLite; a first unit holds the writer thread so that the next two are taken as
one batch."""

from __future__ import annotations

import threading
from typing import Any

import peewee as pw

from storage.writer import GroupCommitWriter
from tests.support.waiting import wait_until


def test_a_unit_failing_in_a_batch_leaves_none_of_its_rows_and_the_others_commit(tmp_path):
    db = pw.SqliteDatabase(str(tmp_path / "bot.sqlite"), check_same_thread=False)
    writer = GroupCommitWriter(db)
    writer.submit(lambda: db.execute_sql("CREATE TABLE rows (what TEXT)"), timeout=10)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(10)

    def half_then_fail() -> None:
        db.execute_sql("INSERT INTO rows VALUES ('state of the failed unit')")
        raise RuntimeError("journal insert failed")

    def whole() -> None:
        db.execute_sql("INSERT INTO rows VALUES ('state of the good unit')")

    outcome: dict[str, Any] = {}

    def caller(name: str, work: Any) -> None:
        try:
            outcome[name] = writer.submit(work, timeout=10) or "committed"
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome[name] = exc

    holder = threading.Thread(target=caller, args=("hold", hold), daemon=True)
    holder.start()
    assert inside.wait(10)  # the writer thread runs `hold`; the next two units queue up
    callers = [threading.Thread(target=caller, args=(name, work), daemon=True)
               for name, work in (("failed", half_then_fail), ("good", whole))]
    for thread in callers:
        thread.start()
    wait_until(lambda: writer._queue.qsize() == 2, timeout=10,  # noqa: SLF001
               message="both units queued behind the held one")
    release.set()
    for thread in (holder, *callers):
        thread.join(10)
    assert outcome["hold"] == "committed" and outcome["good"] == "committed"
    assert isinstance(outcome["failed"], RuntimeError)
    assert writer.close() is None
    rows = [r[0] for r in db.execute_sql("SELECT what FROM rows").fetchall()]
    db.close()
    assert rows == ["state of the good unit"]  # nothing of the failed unit was committed
