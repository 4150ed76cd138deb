"""The control table: how `bot.py resume` / `bot.py signal` reach a running (or later) bot."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from storage.models import ControlRow
from storage.queries import pending_controls
from storage.repository import Repository


def request(repo: Repository, command: str, symbol: str, **args: Any) -> int:
    now = time.time()
    return repo.writer.submit(
        lambda: ControlRow.insert(
            command=command, symbol=symbol, args=json.dumps(args, default=str), created_at=now
        ).execute()
    )


def take_pending(repo: Repository) -> list[tuple[int, str, str, dict[str, Any]]]:
    return [(r.id, r.command, r.symbol, json.loads(r.args)) for r in repo.read(pending_controls)]


def pending_commands(repo: Repository) -> list[tuple[str, str]]:
    """(command, symbol) of every pending control, its args unread (a row whose args cannot be
    read is reported by `take_readable` when it is applied, not here)."""
    return [(r.command, r.symbol) for r in repo.read(pending_controls)]


def take_readable(repo: Repository) -> tuple[list[tuple[int, str, str, dict[str, Any]]], list[str]]:
    """The pending controls that can be read, and one line per row that cannot (that row is
    marked done with the same line, so it never blocks the ones after it)."""
    readable, problems = [], []
    for row in repo.read(pending_controls):
        try:
            args = json.loads(row.args)
            if not isinstance(args, dict):
                raise TypeError(f"args is a JSON {type(args).__name__}, not an object")
        except (TypeError, ValueError) as exc:
            problem = f"control row {row.id} ({row.command} {row.symbol}): unreadable args: {exc}"
            mark_done(repo, row.id, problem[:500])
            problems.append(problem)
            continue
        readable.append((row.id, row.command, row.symbol, args))
    return readable, problems


def mark_done(repo: Repository, control_id: int, result: str) -> None:
    now = time.time()
    repo.writer.submit(
        lambda: (
            ControlRow.update(done_at=now, result=result)
            .where(ControlRow.id == control_id)
            .execute()
        )
    )


LOCK_BUDGET_S = 30.0
"""How long a control write keeps trying while the running bot holds the write lock."""


def request_at(path: Path, command: str, symbol: str, args: dict[str, Any], *,
               budget_s: float = LOCK_BUDGET_S) -> int:
    """Queue a control row in the database at `path` (which the bot created) from another
    process, without opening a Repository: opening one migrates and writes meta, which under
    the running bot's commits failed with "database is locked" (issue 12 item 8). Here the
    write lock is taken up front (BEGIN IMMEDIATE, so a read snapshot is never upgraded) and
    waited for with SQLite's busy timeout, retried within `budget_s`."""
    table = ControlRow._meta.table_name
    row = (command, symbol, json.dumps(args, default=str), time.time())
    deadline = time.monotonic() + budget_s
    while True:
        left = max(deadline - time.monotonic(), 0.05)
        try:
            con = sqlite3.connect(str(path), timeout=left, isolation_level=None)
            try:
                con.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
                con.execute("BEGIN IMMEDIATE")
                cur = con.execute(f"INSERT INTO {table} (command, symbol, args, created_at) "
                                  "VALUES (?, ?, ?, ?)", row)
                con.execute("COMMIT")
                return int(cur.lastrowid or 0)
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise ControlWriteFailed(f"{path}: cannot queue {command} {symbol}: {exc}") \
                    from None
            time.sleep(0.05)


class ControlWriteFailed(Exception):
    """The control row could not be written (the message names the file and the cause)."""
