"""An open of an account's PostgreSQL storage that fails (a newer schema version, met by an
older node of a cluster during a rolling upgrade; a migration that fails) kept its pool's
server connections until the pool was collected, one or more per try: a node retrying the
account's open used up the server's max_connections. A failed open closes them (the sibling of
tests/storage/test_failed_open_closes_file.py on SQLite). Real PostgreSQL server."""

from __future__ import annotations

import psycopg
import pytest

from storage.database import open_postgres_database
from storage.errors import StorageError
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

SCHEMA = "bot_acct0"


def _sessions(url: str) -> int:
    """Server sessions on this test's database besides the one counting."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_failed_open_keeps_no_server_connection(pg_url):  # noqa: F811
    open_postgres_database(pg_url, SCHEMA).close_all()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as a newer bot would leave it
        conn.execute(f"UPDATE \"{SCHEMA}\".meta SET value = '99' WHERE key = 'schema_version'")
    assert _sessions(pg_url) == 0
    for _ in range(5):
        with pytest.raises(StorageError, match="schema"):
            open_postgres_database(pg_url, SCHEMA)
    assert _sessions(pg_url) == 0
