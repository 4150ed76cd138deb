"""Which database an account's repository opens: SQLite at `storage.path` (the default) or, with
`storage.url`, the account's own schema on that PostgreSQL server.

Why a schema per account rather than an account column: every table, primary key, index and
query stays exactly as on SQLite (one file per account there), the database itself keeps one
account's rows out of another's (`search_path`), and the incarnation fence and the ids stay
per account with nothing to forget in a WHERE clause. The schema is `bot_<account>` (account
names are a-z, 0-9, _, so it is always a plain identifier).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from storage.repository import CommitGuard, Repository


class StorageConfig(Protocol):
    """The `[storage]` settings this needs (config/sections.py StorageSettings)."""

    @property
    def url(self) -> str: ...

    @property
    def synchronous(self) -> str: ...


def account_schema(account: str) -> str:
    return f"bot_{account}"


def open_repository(
    storage: StorageConfig, *, path: Path, account: str, commit_guard: CommitGuard | None = None
) -> Repository:
    """The account's repository; `path` is its resolved SQLite file (unused with a url)."""
    if storage.url:
        return Repository(
            url=storage.url, schema=account_schema(account), commit_guard=commit_guard
        )
    return Repository(path, synchronous=storage.synchronous, commit_guard=commit_guard)
