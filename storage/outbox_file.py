"""One outbox file: messages written before they are queued in memory, and taken out once
their receiver took them, so a bot killed (``kill -9``, a crash) with some still waiting
sends them at its next start, oldest first. Telegram's outbox (notifications/outbox.py) and
the alert hooks' (supervision/hook_outbox.py) are this class with their own table and lines;
they were written twice before, by two sessions.

A SQLite file of its own in the data dir, with its own connection under a lock: a stalling
account database never holds an alert up. WAL and ``synchronous = normal``: a committed row
survives ``kill -9``. The file is created under the bot's umask (runtime/private_files.py),
so it is the user's alone. A write that fails is one ERROR line in the user's words, and the
message is still delivered (it is only not kept across a crash)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lines:
    """What the user's outbox says when its file fails it (loguru formats)."""

    unkept: str
    """An add failed: formatted with the add's ``about``, then the file and the error."""
    unremoved: str
    """A remove failed: formatted with the row and the error."""
    unread: str
    """The rows left cannot be read: formatted with the file and the error."""
    unreadable: str
    """One row left cannot be decoded (dropped): formatted with the row, the file and why."""


class OutboxFile:
    def __init__(self, path: Path, logger: Any, *, table: str, schema: Sequence[str],
                 lines: Lines) -> None:
        self.path, self.log, self.table, self.lines = path, logger, table, lines
        self._lock = threading.Lock()
        self._con = sqlite3.connect(str(path), timeout=5.0, isolation_level=None,
                                    check_same_thread=False)
        try:
            self._con.execute("PRAGMA journal_mode = wal")
            self._con.execute("PRAGMA synchronous = normal")  # a committed row survives kill -9
            for statement in schema:
                self._con.execute(statement)
        except sqlite3.Error:
            self._con.close()  # the caller says it in one line and runs without the file
            raise

    def add(self, sql: str, params: Sequence[Any], *about: Any) -> int | None:
        """The new row's id; None when it could not be written (said in one line). A text
        with a lone surrogate (a path that is not UTF-8, as os.fsdecode hands it on), which
        SQLite refuses, is kept with it escaped (``\\udce9``): found by review, such an alert
        was only said 'not kept', and lost with a kill before Telegram took it."""
        params = [_storable(value) for value in params]
        try:
            with self._lock:
                return int(self._con.execute(sql, params).lastrowid or 0) or None
        except (sqlite3.Error, ValueError) as exc:
            self.log.error(self.lines.unkept, *about, self.path, exc)
            return None

    def remove(self, row: int) -> None:
        try:
            with self._lock:
                self._con.execute(f"DELETE FROM {self.table} WHERE id = ?", (row,))
        except sqlite3.Error as exc:  # delivered: at worst delivered once more after a restart
            self.log.error(self.lines.unremoved, row, exc)

    def left(self, sql: str, params: Sequence[Any],
             decode: Callable[[tuple[Any, ...]], T]) -> list[T]:
        """What ``decode`` makes of each row ``sql`` selects, oldest first (the first column:
        the row's id); none when the file cannot be read (said in one line). A row that cannot
        be decoded (text not UTF-8, a column of the wrong type: a damaged page) is one line
        and dropped: found by review, one such row failed the whole read, and the rows beside
        it were never delivered, at any later start either."""
        try:
            with self._lock:
                self._con.text_factory = bytes  # decoded row by row below
                try:
                    rows = list(self._con.execute(sql, params))
                finally:
                    self._con.text_factory = str
        except sqlite3.Error as exc:
            self.log.error(self.lines.unread, self.path, exc)
            return []
        left = []
        for raw in rows:
            try:
                left.append(decode(tuple(_text(value) for value in raw)))
            except (ValueError, TypeError, OverflowError) as exc:
                self.log.error(self.lines.unreadable, raw[0], self.path, exc)
                self.remove(raw[0])
        return left

    def read(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row ``sql`` selects (None: none); a failure is the caller's."""
        with self._lock:
            return self._con.execute(sql, params).fetchone()

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """``sql`` run under the lock; a failure is the caller's."""
        with self._lock:
            self._con.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _storable(value: Any) -> Any:
    """A text SQLite can take (UTF-8): a lone surrogate escaped; any other value as it is."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _text(value: Any) -> Any:
    """A TEXT or BLOB column's value as text (ValueError: not UTF-8); any other as it is."""
    return value.decode("utf-8") if isinstance(value, bytes) else value
