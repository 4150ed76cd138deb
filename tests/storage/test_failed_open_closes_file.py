"""An open of the bot's SQLite database that fails (a newer schema version, met by an older node
of a cluster during a rolling upgrade; a migration that fails; a file that is not a database)
kept its connection, the file and its -wal/-shm open, one more per try. An open retried in one
process (a cluster node's account start, with backoff; the workers' dashboard, at each request)
then ran the process out of file descriptors. A failed open closes what it opened."""

from __future__ import annotations

import gc
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage.errors import StorageError
from storage.repository import Repository


def _open_files(path: Path) -> list[str]:
    """This process's descriptors on the database, its -wal or its -shm."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, gone
        if target.startswith(str(path)):
            names.append(target)
    return names


@pytest.mark.parametrize("spoil", [
    "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
    "UPDATE meta SET value = 'x' WHERE key = 'schema_version'",
])
def test_a_failed_open_keeps_no_file_open(tmp_path, spoil):
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    with closing(sqlite3.connect(path)) as con, con:
        con.execute(spoil)
    gc.collect()
    assert _open_files(path) == []
    for _ in range(5):
        with pytest.raises(StorageError):
            Repository(path)
    gc.collect()
    assert _open_files(path) == []
