"""The writer's TRUNCATE checkpoint waits only `CHECKPOINT_BUSY_MS` for readers, and then gives
its connection back its full busy wait (`BUSY_TIMEOUT_MS`): the same connection commits every
decision, and another writer of the file (the CLI's pause/resume rows, a second account's
control write, a backup) holds the lock for a moment now and then. Left at 100 ms, such a moment
after the first checkpoint (30 s into the run) failed the commit of whatever decision came
next with "database is locked": an entry refused, a close's record failed and retried.

Found by the incident-rule mutation audit (helper s): with the busy wait left at the
checkpoint's, no test failed. Real writer on a real SQLite file opened as the bot opens it; the
checkpoint is made due by the writer's injected clock; the lock is held by a real second
connection."""

from __future__ import annotations

import sqlite3
import threading

from storage.database import BUSY_TIMEOUT_MS, open_database
from storage.writer import CHECKPOINT_BUSY_MS, GroupCommitWriter
from tests.support.waiting import wait_until

HELD_S = 0.5
"""How long the other writer holds the lock: well past the checkpoint's 100 ms busy wait, well
inside the bot's 10 s."""


def test_a_commit_after_a_checkpoint_still_waits_out_another_writer(tmp_path):
    assert CHECKPOINT_BUSY_MS / 1000 < HELD_S < BUSY_TIMEOUT_MS / 1000
    path = tmp_path / "bot.sqlite"
    db = open_database(path)
    db.execute_sql("CREATE TABLE decisions (what TEXT)")
    now = [0.0]
    writer = GroupCommitWriter(db, checkpoint_interval_s=30.0, clock=lambda: now[0])
    try:
        writer.submit(lambda: db.execute_sql("INSERT INTO decisions VALUES ('first')"))
        now[0] = 31.0  # the checkpoint is due: the writer runs it after its next commit
        writer.submit(lambda: db.execute_sql("INSERT INTO decisions VALUES ('second')"))
        wait_until(lambda: writer.checkpoints, message="the writer's checkpoint ran")
        assert writer.submit(
            lambda: db.execute_sql("PRAGMA busy_timeout").fetchone()[0]) == BUSY_TIMEOUT_MS

        other = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # the other writer holds the lock
        other.execute("INSERT INTO decisions VALUES ('control row')")
        releaser = threading.Timer(HELD_S, other.commit)
        releaser.start()
        writer.submit(lambda: db.execute_sql("INSERT INTO decisions VALUES ('after')"))
        releaser.join(10)
        other.close()
        rows = [r[0] for r in db.execute_sql("SELECT what FROM decisions").fetchall()]
        assert rows == ["first", "second", "control row", "after"]
    finally:
        assert writer.close() is None
        db.close()
