"""Background WAL checkpoints for the paper exchange's SQLite file.

The paper exchange runs as long as the bot. Its writer connection has automatic checkpoints
off (they fsync under the store lock), so this thread does them: PASSIVE every ``every``
commits (never blocks a writer), and a TRUNCATE every ``truncate_every_s`` seconds that waits at
most ``busy_ms`` for the store's writer. PASSIVE alone never shrinks the file and was starved
in a 6.5-minute soak (a 37 MB WAL for a 1.1 MB database, issue 16 item 18); TRUNCATE resets it
to zero bytes, and ``journal_size_limit`` caps what is left after any other reset.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

JOURNAL_SIZE_LIMIT = 4 * 2**20


class Checkpointer:
    """Runs WAL checkpoints on its own connection in a daemon thread."""

    def __init__(self, path: Path, every: int = 200, truncate_every_s: float = 10.0,
                 busy_ms: int = 200) -> None:
        self._every = every
        self._truncate_every_s = truncate_every_s
        self._count = 0
        self._commits_since_truncate = 0
        self._wake = threading.Event()
        self._stopping = False
        self.truncations: list[tuple[int, int, int]] = []
        """(busy, wal frames, frames checkpointed) of recent TRUNCATE checkpoints (last 100)."""
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                     timeout=busy_ms / 1000)
        self._conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        self._thread = threading.Thread(target=self._run, name="paper-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self._count += 1  # approximate under races; it only paces checkpoints
        self._commits_since_truncate += 1
        if self._count >= self._every:
            self._count = 0
            self._wake.set()

    def _run(self) -> None:
        next_truncate = time.monotonic() + self._truncate_every_s
        while True:
            self._wake.wait(timeout=max(next_truncate - time.monotonic(), 0.0))
            self._wake.clear()
            if self._stopping:
                return
            if time.monotonic() >= next_truncate:
                next_truncate = time.monotonic() + self._truncate_every_s
                if self._commits_since_truncate:
                    self._truncate()
                continue
            self._checkpoint("PASSIVE")

    def _truncate(self) -> None:
        self._commits_since_truncate = 0
        row = self._checkpoint("TRUNCATE")
        if row is not None:
            self.truncations = [*self.truncations[-99:], row]
            if row[0]:
                self._commits_since_truncate = 1  # the writer was busy: try again next round

    def _checkpoint(self, mode: str) -> tuple[int, int, int] | None:
        try:
            row = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error:
            return None  # busy or closing: the next round retries
        return tuple(row) if row else None

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()
