"""Issue 16 item 18: the WAL files stay bounded over long runs. Real SQLite files, real writer
threads and a steady reader; SQLite's own PASSIVE checkpoints never shrink a WAL file, so
before the change both files stayed at their high-water mark (the soak saw 37 MB)."""

from __future__ import annotations

import os
import sqlite3
import threading

from exchange.paper.wal import Checkpointer
from storage.database import open_database
from storage.writer import GroupCommitWriter
from tests.support.waiting import wait_until

BLOB = os.urandom(4096)


def wal_size(db_path) -> int:
    wal = db_path.with_name(db_path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


class SteadyReader:
    """Short read transactions in a loop, the way status and actors read the bot's database."""

    def __init__(self, path) -> None:
        self.stop = threading.Event()
        self.reads = 0
        self._thread = threading.Thread(target=self._run, args=(str(path),), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        con = sqlite3.connect(path, timeout=10)
        while not self.stop.is_set():
            con.execute("SELECT count(*) FROM probe").fetchone()
            self.reads += 1
            self.stop.wait(0.002)
        con.close()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)


def test_bot_database_wal_is_truncated_by_the_writer(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = open_database(path)
    db.execute_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY, data BLOB)")
    writer = GroupCommitWriter(db, checkpoint_interval_s=0.2)
    reader = SteadyReader(path)
    try:
        peak = 0  # the WAL grew (proves the wait below can fail): sampled after each unit,
        # as the writer truncates it 0.2 s into any pause, the one before a single look too
        for _ in range(1500):  # ~6 MB through the WAL, past an automatic checkpoint
            writer.submit(lambda: db.execute_sql("INSERT INTO probe (data) VALUES (?)", (BLOB,)))
            peak = max(peak, wal_size(path))
        assert peak > 0
        wait_until(lambda: wal_size(path) == 0, timeout=20, interval=0.05,
                   message=f"the bot's WAL ({wal_size(path)} bytes) truncated once idle")
        # the writer truncates the WAL first and lists the checkpoint after (_checkpoint_if_due)
        wait_until(lambda: writer.checkpoints, message="the writer's checkpoint listed")
        assert reader.reads > 0
    finally:
        reader.close()
        writer.close()
        db.close()


def test_paper_store_wal_is_truncated_by_its_checkpointer(tmp_path):
    path = tmp_path / "paper_exchange.sqlite"
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, data BLOB)")
    con.execute("PRAGMA wal_autocheckpoint=0")  # as exchange/paper/store.py runs it
    checkpointer = Checkpointer(path, every=50, truncate_every_s=0.2)
    reader = SteadyReader(path)
    try:
        for _ in range(3000):  # ~12 MB
            con.execute("INSERT INTO probe (data) VALUES (?)", (BLOB,))
            checkpointer.committed()
        wait_until(lambda: wal_size(path) == 0, timeout=20, interval=0.05,
                   message=f"the paper WAL ({wal_size(path)} bytes) truncated")
        # the checkpointer truncates the WAL first and lists it after (Checkpointer._truncate)
        wait_until(lambda: checkpointer.truncations, message="the truncation listed")

    finally:
        reader.close()
        checkpointer.stop()
        con.close()


def test_reused_read_connections_do_not_hold_the_wal(tmp_path):
    """The bot's readers take their SQLite connection from a pool and hand it back open
    (storage/database.py). A connection handed back after a read that stopped at its first
    row must not keep a read snapshot: the writer's TRUNCATE checkpoint could then never
    finish and the WAL would grow for good."""
    path = tmp_path / "bot.sqlite"
    db = open_database(path)
    db.execute_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY, data BLOB)")
    writer = GroupCommitWriter(db, checkpoint_interval_s=0.2)
    stop, reads = threading.Event(), [0]

    def reader() -> None:  # the repository's way: a connection per read, from the pool
        while not stop.is_set():
            with db.connection_context():
                db.execute_sql("SELECT id, data FROM probe").fetchone()  # rows left unread
            reads[0] += 1
            stop.wait(0.002)

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        peak = 0
        for _ in range(1500):
            writer.submit(lambda: db.execute_sql("INSERT INTO probe (data) VALUES (?)", (BLOB,)))
            peak = max(peak, wal_size(path))
        assert peak > 0
        stop.set()
        for t in threads:
            t.join(timeout=10)
        assert reads[0] > 0 and len(db._connections) > 0  # noqa: SLF001 - handed back open
        wait_until(lambda: wal_size(path) == 0, timeout=20, interval=0.05,
                   message=f"the bot's WAL ({wal_size(path)} bytes) truncated once idle")
    finally:
        stop.set()
        writer.close()
        db.close_all()
