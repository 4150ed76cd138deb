"""PostgreSQL only: the account's connections die under it (server restart, a DBA's
pg_terminate_backend, a network cut): the writer opens a fresh one for the next commit without
losing or doubling anything, and reads carry on."""

from __future__ import annotations

import psycopg

from storage import queries
from tests.storage.contract.backends import Backend
from tests.support.waiting import wait_until


def terminate_sessions(backend: Backend) -> int:
    name = backend.url.rsplit("/", 1)[1]
    admin = backend.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        return con.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchone()[0]


def test_commits_and_reads_go_on_after_the_sessions_are_killed(pg_backend: Backend):
    backend = pg_backend
    repo = backend.open()
    repo.record("S", "Note", {"i": 1}, correlation_id="c")
    assert terminate_sessions(backend) >= 1
    repo.record("S", "Note", {"i": 2}, correlation_id="c")
    assert [e["data"]["i"] for e in repo.read(queries.events, "S", "Note")] == [1, 2]
    terminate_sessions(backend)
    inc = repo.claim("S")
    assert inc == 1 and repo.load("S").symbol == "S"


def sessions(backend: Backend) -> int:
    name = backend.url.rsplit("/", 1)[1]
    admin = backend.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        return con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                           (name,)).fetchone()[0]


def test_closing_a_repository_gives_its_connections_back(pg_backend: Backend):
    repo = pg_backend.open()
    repo.record("S", "Note", {"i": 1}, correlation_id="c")
    assert repo.read(queries.events, "S", "Note")
    assert 1 <= sessions(pg_backend) <= 8  # the writer's and a reader's, within the pool size
    repo.close()
    # the client has closed its sockets; the server ends each session's backend a moment later
    wait_until(lambda: sessions(pg_backend) == 0, timeout=10,
               message="the server to end the closed repository's sessions")
