"""The test PostgreSQL server is real, each test gets its own empty database, and a missing
server fails under CI but skips locally."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests.support.postgres import fresh_database, server_url


def test_fresh_database_is_empty_and_private(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        version = conn.execute("SHOW server_version_num").fetchone()
    assert name is not None and name[0].startswith("bot_test_")
    assert tables == (0,)
    assert version is not None and int(version[0]) >= 150000


def test_fresh_database_is_dropped_after_use(pg_url: str) -> None:
    with fresh_database(server_url()) as url:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE probe (x int)")
    with psycopg.connect(server_url(), autocommit=True) as admin:
        rows = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert rows == []


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                              ("", pytest.skip.Exception)])
def test_unreachable_server_fails_in_ci_and_skips_locally(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("BOT_TEST_PG_URL", _dead_url())
    with pytest.raises(outcome, match="server does not answer"):
        server_url()
    monkeypatch.delenv("BOT_TEST_PG_URL")
    with pytest.raises(outcome, match="BOT_TEST_PG_URL is not set"):
        server_url()
