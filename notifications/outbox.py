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
opened, written and read by storage/outbox_file.py (shared with the alert hooks' outbox). A
write that fails is one ERROR line and the message is still queued in memory (it is only not
kept across a crash)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from storage.outbox_file import Lines, OutboxFile

FILE_NAME = "telegram_outbox.db"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "chat_id INTEGER NOT NULL, text TEXT NOT NULL, kind TEXT NOT NULL, "
    "priority INTEGER NOT NULL, queued_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_LINES = Lines(
    unkept="telegram: {} message to chat {} not kept in {} ({}): it is sent, but lost if the "
           "bot dies first",
    unremoved="telegram: outbox row {} not removed ({}): it may be sent again at the next "
              "start",
    unread="telegram: the messages the last run left unsent cannot be read from {} ({})",
    unreadable="telegram: outbox row {} in {} is unreadable ({}): dropped, not sent",
)
_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("chat_id", int), ("text", str), ("kind", str), ("priority", int),
    ("queued_at", (int, float)))


def _message(row: tuple[Any, ...]) -> tuple[int, int, str, str, int, float]:
    """A row as the sender queues it; TypeError for a column of the wrong type (a damaged
    page: text where the time belongs raised out of the sender's start)."""
    for (name, kind), value in zip(_TYPES, row[1:], strict=True):
        if not isinstance(value, kind):
            raise TypeError(f"{name} is {type(value).__name__}")
    return row[0], row[1], row[2], row[3], row[4], row[5]


class Outbox:
    def __init__(self, path: Path, logger: Any) -> None:
        self.path, self.log = path, logger
        self._file = OutboxFile(path, logger, table="outbox", schema=_SCHEMA, lines=_LINES)

    def add(self, chat_id: int, text: str, kind: str, priority: int) -> int | None:
        """The new row's id; None when it could not be written (said in one line)."""
        return self._file.add("INSERT INTO outbox (chat_id, text, kind, priority, queued_at) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (chat_id, text, kind, priority, time.time()), kind, chat_id)

    def remove(self, row: int) -> None:
        self._file.remove(row)

    def left(self) -> list[tuple[int, int, str, str, int, float]]:
        """The rows a previous run left: (id, chat_id, text, kind, priority, queued_at)."""
        return self._file.left(
            "SELECT id, chat_id, text, kind, priority, queued_at FROM outbox ORDER BY id", (),
            _message)

    def offset(self) -> int:
        """The ``getUpdates`` offset the last run reached (0: none)."""
        row = self._file.read("SELECT value FROM meta WHERE key = 'offset'")
        try:
            return max(int(row[0]), 0) if row else 0
        except ValueError:
            return 0

    def keep_offset(self, offset: int) -> None:
        try:
            self._file.write("INSERT INTO meta (key, value) VALUES ('offset', ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                             (str(offset),))
        except sqlite3.Error as exc:
            self.log.error("telegram: the commands' offset not kept ({}): the next start may "
                           "see the last commands again", exc)

    def close(self) -> None:
        self._file.close()
