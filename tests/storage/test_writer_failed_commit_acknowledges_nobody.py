"""Rule 3: a caller is woken as committed only once its unit is committed. When the COMMIT
itself fails (here a deferred foreign key that SQLite checks only at COMMIT; in production a
full disk, an I/O error, a PostgreSQL serialization failure at commit), every unit of the
transaction was rolled back, so every caller must get the error: a caller told "committed"
would send the order whose intent is not in the database (the incident-3 loss after kill -9).

Found by the incident-rule mutation audit (helper s): with the writer's hand-out of the commit
error removed (`unit.error = unit.error or exc`), no test failed; every other writer test makes
a unit's own work fail, never the commit. Real writer and real SQLite; a first unit holds the
writer thread so that the next two are taken as one batch."""

from __future__ import annotations

from typing import Any

import peewee as pw
import pytest

from storage.writer import GroupCommitWriter
from tests.storage.writer_batch import one_batch


def _database(tmp_path: Any) -> tuple[pw.SqliteDatabase, GroupCommitWriter]:
    db = pw.SqliteDatabase(str(tmp_path / "bot.sqlite"), check_same_thread=False,
                           pragmas={"foreign_keys": 1})
    writer = GroupCommitWriter(db)
    writer.submit(lambda: db.execute_sql("CREATE TABLE intents (id TEXT PRIMARY KEY)"),
                  timeout=10)
    # checked at COMMIT, not at the INSERT: the unit's own work succeeds, the commit fails
    writer.submit(lambda: db.execute_sql(
        "CREATE TABLE orders (id TEXT, intent TEXT REFERENCES intents (id) "
        "DEFERRABLE INITIALLY DEFERRED)"), timeout=10)
    return db, writer


def _rows(db: pw.SqliteDatabase) -> list[str]:
    return [r[0] for r in db.execute_sql("SELECT id FROM orders ORDER BY id").fetchall()]


def test_a_unit_alone_whose_commit_fails_is_told_so(tmp_path):
    db, writer = _database(tmp_path)
    with pytest.raises(pw.IntegrityError, match="FOREIGN KEY"):
        writer.submit(lambda: db.execute_sql(
            "INSERT INTO orders VALUES ('o-1', 'no such intent')") or "sent", timeout=10)
    assert writer.submit(lambda: db.execute_sql(
        "INSERT INTO orders VALUES ('o-2', NULL)") and "committed", timeout=10) == "committed"
    assert writer.close() is None
    assert _rows(db) == ["o-2"]
    db.close()


def test_every_unit_of_a_batch_whose_commit_fails_is_told_so(tmp_path):
    db, writer = _database(tmp_path)
    units = (("good", lambda: db.execute_sql("INSERT INTO orders VALUES ('o-good', NULL)")),
             ("dangling", lambda: db.execute_sql(
                 "INSERT INTO orders VALUES ('o-dangling', 'no such intent')")))
    outcome = one_batch(writer, units)
    assert outcome["hold"] == "committed"
    # one transaction: the failed COMMIT rolled both back, so neither caller may go on to send
    assert isinstance(outcome["good"], pw.IntegrityError), outcome
    assert isinstance(outcome["dangling"], pw.IntegrityError), outcome
    assert writer.close() is None
    assert _rows(db) == []
    db.close()
