"""Telegram's outbox: every message queued for Telegram is written here before it is queued
in memory, and taken out once Telegram took it (or refused it for good). A bot killed with
messages still queued (``kill -9``, a crash, a stop whose last attempt failed) sends them at
its next start, oldest first, each marked as queued before the restart: found by review, an
escalation or an ``unprotected`` alert queued while Telegram was slow died with the process,
and the person never heard of it. At least once: a message Telegram took just before a kill,
whose row was not removed yet, is sent once more.

The file also keeps the ``getUpdates`` offset: the commands handled are not fetched again by
the next start (Telegram keeps an update 24 h until a call confirms it).

One SQLite file in the data dir (``telegram_outbox.db``, under the bot's lock: one process),
its own connection under a lock, so a stalling account database never holds an alert up. A
write that fails is one ERROR line and the message is still queued in memory (it is only not
kept across a crash)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

FILE_NAME = "telegram_outbox.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "chat_id INTEGER NOT NULL, text TEXT NOT NULL, kind TEXT NOT NULL, "
    "priority INTEGER NOT NULL, queued_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class Outbox:
    def __init__(self, path: Path, logger: Any) -> None:
        self.path, self.log = path, logger
        self._lock = threading.Lock()
        self._con = sqlite3.connect(str(path), timeout=5.0, isolation_level=None,
                                    check_same_thread=False)
        self._con.execute("PRAGMA journal_mode = wal")
        self._con.execute("PRAGMA synchronous = normal")  # a committed row survives kill -9
        for statement in _SCHEMA:
            self._con.execute(statement)

    def add(self, chat_id: int, text: str, kind: str, priority: int) -> int | None:
        """The new row's id; None when it could not be written (said in one line)."""
        try:
            with self._lock:
                cur = self._con.execute(
                    "INSERT INTO outbox (chat_id, text, kind, priority, queued_at) "
                    "VALUES (?, ?, ?, ?, ?)", (chat_id, text, kind, priority, time.time()))
                return int(cur.lastrowid or 0) or None
        except sqlite3.Error as exc:
            self.log.error("telegram: {} message to chat {} not kept in {} ({}): it is sent, "
                           "but lost if the bot dies first", kind, chat_id, self.path, exc)
            return None

    def remove(self, row: int) -> None:
        try:
            with self._lock:
                self._con.execute("DELETE FROM outbox WHERE id = ?", (row,))
        except sqlite3.Error as exc:  # sent: at worst sent once more after a restart
            self.log.error("telegram: outbox row {} not removed ({}): it may be sent again "
                           "at the next start", row, exc)

    def left(self) -> list[tuple[int, int, str, str, int, float]]:
        """The rows a previous run left: (id, chat_id, text, kind, priority, queued_at)."""
        with self._lock:
            return list(self._con.execute(
                "SELECT id, chat_id, text, kind, priority, queued_at FROM outbox ORDER BY id"))

    def offset(self) -> int:
        """The ``getUpdates`` offset the last run reached (0: none)."""
        with self._lock:
            row = self._con.execute("SELECT value FROM meta WHERE key = 'offset'").fetchone()
        try:
            return max(int(row[0]), 0) if row else 0
        except ValueError:
            return 0

    def keep_offset(self, offset: int) -> None:
        try:
            with self._lock:
                self._con.execute("INSERT INTO meta (key, value) VALUES ('offset', ?) "
                                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                  (str(offset),))
        except sqlite3.Error as exc:
            self.log.error("telegram: the commands' offset not kept ({}): the next start may "
                           "see the last commands again", exc)

    def close(self) -> None:
        with self._lock:
            self._con.close()
