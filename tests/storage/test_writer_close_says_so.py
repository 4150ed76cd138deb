"""A database writer that cannot finish its queue when the bot stops says so.

Found by review: `GroupCommitWriter.close` waited 30 s for its thread and returned silently when
it was still busy (a stalled disk); the process then logged "bot stopped" and exited, and the
writes still queued behind the stalled one were never committed, with no line saying so. Their
callers were never acknowledged (nothing acted on them), but the log claimed a clean stop. Now
the repository's close names the file and how many writes were left. Real writer and SQLite; the
stall is a unit of work that waits (as a slow disk would)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

from loguru import logger

from storage.repository import Repository
from tests.support.waiting import wait_until


def test_a_writer_that_cannot_finish_at_close_says_so(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    stall, stalled = threading.Event(), threading.Event()

    def slow() -> None:
        stalled.set()
        stall.wait(30)

    held = threading.Thread(target=lambda: repo.writer.submit(slow), daemon=True)
    queued = threading.Thread(target=lambda: repo.set_meta("queued", "1"), daemon=True)
    try:
        held.start()
        assert stalled.wait(10)
        queued.start()
        wait_until(lambda: repo.writer._queue.qsize() == 1,  # noqa: SLF001
                   message="a write queued behind the stalled one")
        repo.close(writer_timeout_s=0.2)
        assert any("did not finish" in line and "bot.sqlite" in line
                   and "1 queued write(s)" in line for line in lines), lines
        # the disk comes back before the process ends: the writer still commits the write
        # queued behind (its connection was left open for it), as the line says it may
        stall.set()
        held.join(10)
        queued.join(10)
        with closing(sqlite3.connect(tmp_path / "bot.sqlite")) as con:
            assert con.execute("SELECT value FROM meta WHERE key = 'queued'").fetchall() == [
                ("1",)]
    finally:
        stall.set()
        logger.remove(sink)
        held.join(10)
        queued.join(10)


def test_a_writer_that_finishes_says_nothing(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        repo.set_meta("done", "1")
        repo.close()
        assert lines == []
    finally:
        logger.remove(sink)
