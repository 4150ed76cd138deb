"""The two storage engines behind one interface for the contract suite: the bot's default SQLite
file and an account schema on a real PostgreSQL server (tests/support/postgres.py: skipped
locally without BOT_TEST_PG_URL, a failure under CI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg

from storage.opening import account_schema, open_repository
from storage.repository import CommitGuard, Repository


@dataclass
class Backend:
    kind: str
    """"sqlite" or "postgresql"."""
    tmp: Path
    url: str = ""
    opened: list[Repository] = field(default_factory=list)

    def open(self, account: str = "main", *, commit_guard: CommitGuard | None = None,
             synchronous: str = "normal") -> Repository:
        """The account's repository through the bot's own opening path (storage/opening.py)."""
        storage = SimpleNamespace(url=self.url, synchronous=synchronous)
        repo = open_repository(storage, path=self.sqlite_path(account), account=account,
                               commit_guard=commit_guard)
        self.opened.append(repo)
        return repo

    def sqlite_path(self, account: str = "main") -> Path:
        return self.tmp / account / "bot.sqlite"

    def sql(self, statement: str, params: Sequence[Any] = (), *, account: str = "main",
            script: bool = False) -> list[tuple[Any, ...]]:
        """Run SQL on the account's store outside the bot (`?` parameters on both engines)."""
        if self.kind == "sqlite":
            import sqlite3

            self.sqlite_path(account).parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.sqlite_path(account))
            try:
                if script:
                    con.executescript(statement)
                    return []
                rows = con.execute(statement, tuple(params)).fetchall()
                con.commit()
                return rows
            finally:
                con.close()
        schema = account_schema(account)
        with psycopg.connect(self.url, autocommit=True,
                             options=f"-c search_path={schema},public") as con:
            if script:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                for part in statement.split(";"):
                    if part.strip():
                        con.execute(part)
                return []
            cur = con.execute(statement.replace("?", "%s"), tuple(params))
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        for repo in self.opened:
            repo.close()
