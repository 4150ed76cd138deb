"""On SQLite the configured `storage.synchronous` ("full", the default, or "normal") is the
level the writer's connection commits every decision with. "full" syncs the WAL at each commit,
so a committed decision (and the order it sent) survives a power loss or an OS crash, not only
kill -9; a connection left at SQLite's "off" acknowledged commits that such a crash lost, and
the bot restarted without the intent of an order it had sent (incident 3).

Found by the incident-rule mutation audit (helper s): with the pragma forced to OFF whatever the
setting (storage/database.py:69), no test failed. (The PostgreSQL side has its own test,
tests/storage/test_postgres_durability.py.) The repository is opened through the bot's opening
path; the level is read on the writer thread's own connection, through the writer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from storage.opening import open_repository

LEVELS = {"full": 2, "normal": 1}
"""SQLite's numbers for `PRAGMA synchronous` (0 is off)."""


@pytest.mark.parametrize("setting", ["full", "normal"])
def test_the_writer_commits_at_the_configured_synchronous_level(tmp_path: Path,
                                                                 setting: str) -> None:
    storage = SimpleNamespace(url="", synchronous=setting)
    repo = open_repository(storage, path=tmp_path / "main" / "bot.sqlite", account="main")
    try:
        level = repo.writer.submit(
            lambda: repo.db.execute_sql("PRAGMA synchronous").fetchone()[0])
        assert level == LEVELS[setting]
    finally:
        repo.close()
