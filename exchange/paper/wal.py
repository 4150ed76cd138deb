"""Background WAL checkpoints for the paper exchange's SQLite file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class Checkpointer:
    """Runs PASSIVE WAL checkpoints on its own connection in a daemon thread, every
    `every` commits (passive checkpoints never block writers)."""

    def __init__(self, path: Path, every: int = 200) -> None:
        self._every = every
        self._count = 0
        self._wake = threading.Event()
        self._stopping = False
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="paper-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self._count += 1  # approximate under races; it only paces checkpoints
        if self._count >= self._every:
            self._count = 0
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # busy or closing: the next round retries

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()
