"""A read in progress when the repository closes finishes, and no connection outlives it.

Found by review: once the writer had ended, `Repository.close` closed every pooled SQLite
connection, those other threads were still reading on included. An actor stuck past the stop
(an exchange call that returned late) failed its read with peewee's "Cannot operate on a closed
database." and crashed with a traceback in the shutdown's log; a read that started after the
close opened a fresh connection that nothing closed again (three descriptors of the file kept
open for the life of the process: a cluster node stops and restarts accounts without exiting).
Real repository, real SQLite, a real reader thread; the open descriptors are read from
/proc/self/fd."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from storage.models import Meta
from storage.repository import Repository


def _open_on(path: Path) -> list[str]:
    """The descriptors of this process open on the database file or its -wal/-shm."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if target.startswith(str(path)):
            found.append(target)
    return found


pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")


def test_a_read_in_progress_at_close_finishes_and_its_connection_is_closed(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    inside, go = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def stuck_reader() -> None:
        try:
            with repo.reading():
                Meta.get(Meta.key == "id_tag")
                inside.set()
                go.wait(30)
                out["value"] = Meta.get(Meta.key == "id_tag").value
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            out["error"] = f"{type(exc).__name__}: {exc}"

    reader = threading.Thread(target=stuck_reader, daemon=True)
    reader.start()
    try:
        assert inside.wait(10)
        assert repo.close() is True
    finally:
        go.set()
        reader.join(10)
    assert "error" not in out, out["error"]
    assert out["value"] == repo.id_tag
    assert _open_on(path) == []


def test_a_read_after_close_leaves_no_connection_open(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    assert repo.close() is True
    assert _open_on(path) == []
    assert repo.get_meta("id_tag") == repo.id_tag
    assert _open_on(path) == []
