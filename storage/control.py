"""The control table: how `bot.py resume` / `bot.py signal` reach a running (or later) bot."""

from __future__ import annotations

import json
import time
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
