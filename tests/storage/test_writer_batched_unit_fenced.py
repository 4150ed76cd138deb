"""The commit guard (Repository's `commit_guard`: a cluster node's lease check, the epoch fence
that keeps a node that lost its account from committing) runs for every unit, inside its
savepoint, also when the unit is committed in a batch with others. A batched unit committed
without it is a decision of a node that no longer owns the account: recorded, and its order
sent, beside the new owner's (incident 1, across nodes).

Found by the incident-rule mutation audit (helper s): with the guard call removed from the
batched path (`GroupCommitWriter._run_each`), no test failed; the guard's tests commit every
unit alone. Real writer and real SQLite; a first unit holds the writer thread so that the next
two are taken as one batch, and the lease is lost while they wait."""

from __future__ import annotations

import threading
from typing import Any

import peewee as pw

from storage.writer import GroupCommitWriter
from tests.storage.writer_batch import one_batch


class LeaseLost(Exception):
    pass


def test_units_committed_in_a_batch_each_pass_the_guard(tmp_path):
    db = pw.SqliteDatabase(str(tmp_path / "bot.sqlite"), check_same_thread=False)
    lost = threading.Event()
    guarded: list[str] = []

    def guard(conn_db: Any) -> None:
        # runs on the commit's connection: it sees the unit's own uncommitted rows
        rows = conn_db.execute_sql("SELECT COUNT(*) FROM decisions").fetchone()[0]
        guarded.append(str(rows))
        if lost.is_set():
            raise LeaseLost("lease lost to another node")

    db.execute_sql("CREATE TABLE decisions (what TEXT)")
    db.close()
    writer = GroupCommitWriter(db, guard=guard)
    units = [(name, lambda name=name: db.execute_sql("INSERT INTO decisions VALUES (?)", (name,)))
             for name in ("entry of A", "entry of B")]
    outcome = one_batch(writer, units, while_queued=lost.set)  # the lease is lost while they wait
    assert writer.close() is None
    assert isinstance(outcome["entry of A"], LeaseLost), outcome
    assert isinstance(outcome["entry of B"], LeaseLost), outcome
    assert db.execute_sql("SELECT what FROM decisions").fetchall() == []
    assert guarded[-2:] == ["1", "1"]  # each ran after its own unit's row, inside the batch
    db.close()
