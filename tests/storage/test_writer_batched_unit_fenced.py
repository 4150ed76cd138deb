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
from tests.support.waiting import wait_until


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
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(10)

    outcome: dict[str, Any] = {}

    def caller(name: str, work: Any) -> None:
        try:
            outcome[name] = writer.submit(work, timeout=10) or "committed"
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome[name] = exc

    holder = threading.Thread(target=caller, args=("hold", hold), daemon=True)
    holder.start()
    assert inside.wait(10)  # the writer thread runs `hold`; the next two units queue up
    callers = [
        threading.Thread(target=caller, args=(name, lambda name=name: db.execute_sql(
            "INSERT INTO decisions VALUES (?)", (name,))), daemon=True)
        for name in ("entry of A", "entry of B")
    ]
    for thread in callers:
        thread.start()
    wait_until(lambda: writer._queue.qsize() == 2, timeout=10,  # noqa: SLF001
               message="both units queued behind the held one")
    lost.set()  # the lease is lost while they wait
    release.set()
    for thread in (holder, *callers):
        thread.join(10)
    assert writer.close() is None
    assert isinstance(outcome["entry of A"], LeaseLost), outcome
    assert isinstance(outcome["entry of B"], LeaseLost), outcome
    assert db.execute_sql("SELECT what FROM decisions").fetchall() == []
    assert guarded[-2:] == ["1", "1"]  # each ran after its own unit's row, inside the batch
    db.close()
