"""A shared file (a SQLite database, a paper store) is locked by one process alone: a second
one, by whatever path or symlink, is refused and told who holds it (INCIDENTS.md rule 1).

Mutation audit (helper t): `FileLock.acquire` taking a shared lock (`LOCK_SH`) instead of an
exclusive one failed no test: two bots, each holding a "lock" on the same database, both
started and traded the same capital.

Both holders are real processes taking the lock with `FileLock`."""

from __future__ import annotations

import pytest

from supervision.instance_lock import FileInUse, FileLock
from tests.supervision.test_instance_lock import start_holder, stop


def test_a_second_process_cannot_lock_the_same_database(tmp_path):
    database = tmp_path / "bot.sqlite"
    database.write_bytes(b"")
    other_path = tmp_path / "elsewhere" / "db.sqlite"
    other_path.parent.mkdir()
    other_path.symlink_to(database)  # another data dir's storage.path leading to the same file
    holder = start_holder(database, "FileLock")
    try:
        for path in (database, other_path):
            lock = FileLock(path)
            with pytest.raises(FileInUse) as refused:
                lock.acquire()
            assert not lock.held
            assert refused.value.pid == holder.pid
            assert f"PID {holder.pid} holds a lock on it" in str(refused.value)
    finally:
        stop(holder)
    lock = FileLock(database)  # its holder ended: the kernel dropped the lock
    lock.acquire()
    lock.release()
