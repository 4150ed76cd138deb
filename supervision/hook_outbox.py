"""The alert hooks' outbox: each alert queued for ``alert_command`` / ``alert_webhook`` is
written here before it is queued in memory, and taken out once its hooks are done (delivered,
or dropped: supervision/hook_queue.py); a hook that is done while the other is still failing
is noted in its ``done`` column, so the next start does not run it again. A bot killed while
an alert waited for a slow or refusing hook (kill -9, OOM, a crash) runs those hooks at its
next start (found by review: the queue was in memory only, and the kill switch or an
escalation never reached the pager). At least once: an alert whose hooks ran just before a
kill, its row not removed yet, is sent once more.

One SQLite file in the data dir (``alert_hooks.db``), shared by the processes of one bot (with
``--workers`` each account's worker and the parent), each reading back only its own rows
(``owner``: the account's name, or the parent's); opened, written and read by
storage/outbox_file.py (shared with Telegram's outbox). A write that fails is one ERROR line
and the alert is still delivered (only not kept across a crash)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from storage.outbox_file import Lines, OutboxFile

FILE_NAME = "alert_hooks.db"

_SCHEMA = ("CREATE TABLE IF NOT EXISTS hooks (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           "owner TEXT NOT NULL, payload TEXT NOT NULL, queued_at REAL NOT NULL, "
           "done TEXT NOT NULL DEFAULT '')",
           "CREATE INDEX IF NOT EXISTS hooks_owner ON hooks (owner)")
_LINES = Lines(
    unkept="alert hooks: {} alert not kept in {} ({}): it is delivered, but lost if the bot "
           "dies first",
    unremoved="alert hooks: outbox row {} not removed ({}): its alert may be delivered again "
              "at the next start",
    unread="alert hooks: the alerts the last run left cannot be read from {} ({})",
    unreadable="alert hooks: outbox row {} in {} is unreadable ({}): dropped",
)


def _alert(row: tuple[Any, ...]) -> tuple[int, dict[str, Any], frozenset[str]]:
    """A row as the hooks take it: (row, payload with its ``queued_at``, the hooks done);
    ValueError or TypeError for a payload that is not a JSON object or a time that is not a
    number."""
    payload = json.loads(row[1])
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    if not isinstance(row[2], (int, float)):
        raise TypeError(f"queued_at is {type(row[2]).__name__}")
    done = frozenset(str(row[3] or "").split()) if len(row) > 3 else frozenset()
    return row[0], {**payload, "queued_at": row[2]}, done


class HookOutbox:
    def __init__(self, path: Path, owner: str, logger: Any) -> None:
        self.path, self.owner, self.log = path, owner, logger
        self._file = OutboxFile(path, logger, table="hooks", schema=_SCHEMA, lines=_LINES)
        try:  # a file an earlier version wrote has no `done` column yet
            if self._file.read("SELECT 1 FROM pragma_table_info('hooks') WHERE name = 'done'"
                               ) is None:
                self._file.write("ALTER TABLE hooks ADD COLUMN done TEXT NOT NULL DEFAULT ''")
        except sqlite3.Error:
            self._file.close()
            raise

    def add(self, payload: dict[str, Any]) -> int | None:
        """The new row's id; None when it could not be written (said in one line)."""
        return self._file.add("INSERT INTO hooks (owner, payload, queued_at) VALUES (?, ?, ?)",
                              (self.owner, json.dumps(payload, default=str), time.time()),
                              payload.get("kind"))

    def remove(self, row: int) -> None:
        self._file.remove(row)

    def mark_done(self, row: int, hook: str) -> None:
        """``hook`` (command, webhook) delivered the row's alert; a failure is one line (at
        worst it runs once more after a restart)."""
        try:
            self._file.write("UPDATE hooks SET done = trim(done || ' ' || ?) WHERE id = ?",
                             (hook, row))
        except sqlite3.Error as exc:
            self.log.error(_LINES.unremoved, row, exc)

    def left(self) -> list[tuple[int, dict[str, Any], frozenset[str]]]:
        """This owner's alerts an earlier run left: (row, payload with its ``queued_at``, the
        hooks that delivered it already)."""
        return self._file.left(
            "SELECT id, payload, queued_at, done FROM hooks WHERE owner = ? ORDER BY id",
            (self.owner,), _alert)

    def close(self) -> None:
        self._file.close()


def open_hook_outbox(data_dir: Path, owner: str, logger: Any,
                     hooked: bool = True) -> HookOutbox | None:
    """The outbox in ``data_dir`` (None without a hook: `hooked` false); a file that cannot be
    opened is one ERROR line naming it, and the hooks run with their queue in memory only."""
    path = data_dir / FILE_NAME
    if not hooked:
        return None
    try:
        return HookOutbox(path, owner, logger)
    except sqlite3.Error as exc:
        logger.error("alert hooks: {} cannot be opened ({}); alerts queued for the hooks are "
                     "not kept across a restart (move the file away to start afresh)", path, exc)
        return None
