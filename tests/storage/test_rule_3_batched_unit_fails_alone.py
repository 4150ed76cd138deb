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

import peewee as pw

from storage.writer import GroupCommitWriter
from tests.storage.writer_batch import one_batch


def test_a_unit_failing_in_a_batch_leaves_none_of_its_rows_and_the_others_commit(tmp_path):
    db = pw.SqliteDatabase(str(tmp_path / "bot.sqlite"), check_same_thread=False)
    writer = GroupCommitWriter(db)
    writer.submit(lambda: db.execute_sql("CREATE TABLE rows (what TEXT)"), timeout=10)

    def half_then_fail() -> None:
        db.execute_sql("INSERT INTO rows VALUES ('state of the failed unit')")
        raise RuntimeError("journal insert failed")

    def whole() -> None:
        db.execute_sql("INSERT INTO rows VALUES ('state of the good unit')")

    outcome = one_batch(writer, (("failed", half_then_fail), ("good", whole)))
    assert outcome["hold"] == "committed" and outcome["good"] == "committed"
    assert isinstance(outcome["failed"], RuntimeError)
    assert writer.close() is None
    rows = [r[0] for r in db.execute_sql("SELECT what FROM rows").fetchall()]
    db.close()
    assert rows == ["state of the good unit"]  # nothing of the failed unit was committed
