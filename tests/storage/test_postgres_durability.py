"""On PostgreSQL a commit is durable only with synchronous_commit on. A database (or role) whose
default is off, common on managed servers, acknowledged the decision's commit before it was on
disk; the order then went out and a server crash lost its intent. Every connection of the bot
sets it on for its session (storage/cluster_database.py `open_postgres`)."""

from __future__ import annotations

import psycopg

from storage import queries
from storage.repository import Repository
from tests.support.postgres import pg_url  # noqa: F401 - the fixture


def test_the_bot_commits_with_synchronous_commit_on_whatever_the_database_default(
        pg_url: str) -> None:  # noqa: F811
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    with psycopg.connect(pg_url, autocommit=True) as plain:
        assert plain.execute("SHOW synchronous_commit").fetchone() == ("off",)
    repo = Repository(url=pg_url, schema="bot_main")
    try:
        assert repo.read(lambda: repo.db.execute_sql("SHOW synchronous_commit").fetchone()) == (
            "on",)
        assert repo.read(queries.open_escalations) == []
    finally:
        repo.close()
