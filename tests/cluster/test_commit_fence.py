"""The lease is checked inside every commit transaction of a node's account (CommitFence as the
repository's commit guard), on a real PostgreSQL server holding both the lease table and the
account's storage: after another node took the account, a commit fails and leaves nothing,
even when the committing node still believes it holds the lease (a paused process, a wrong
clock); and a node past its own deadline is refused without asking the database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from cluster import Lease, LeaseLost, LeaseSettings, LeaseStore, open_database
from cluster.commit_fence import CommitFence
from storage import queries
from storage.opening import open_repository
from storage.repository import Repository
from tests.storage.contract.test_concurrency import SYM, commit
from tests.support.waiting import wait_until

SETTINGS = LeaseSettings(ttl_s=0.6, request_timeout_s=0.1, safety_margin_s=0.2)


@dataclass
class BelievingKeeper:
    """A keeper whose node still believes it holds `lease` (what a process paused past its
    lease sees in its first instant back): only the database can refuse it."""

    lease: Lease | None
    account: str = "main"
    node_id: str = "node-a"

    def acting_lease(self) -> Lease | None:
        return self.lease

    def last_lease(self) -> Lease | None:
        return self.lease


def notes(repo: Repository) -> list[int]:
    return [e["data"]["seq"] for e in repo.read(queries.events, SYM, "Note")]


def open_account(url: str, fence: CommitFence) -> Repository:
    storage = SimpleNamespace(url=url, synchronous="normal")
    return open_repository(storage, path=Path("unused-with-a-url"), account="main",
                           commit_guard=fence)


def test_a_commit_after_a_takeover_fails_inside_its_transaction(pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), SETTINGS)
    store.create_table()
    keeper = BelievingKeeper(None)
    repo = open_account(pg_url, CommitFence(keeper, in_database=True))  # type: ignore[arg-type]
    try:
        # acquired once the account's storage is open: opening it (its schema, migrations)
        # can take longer than the 0.6 s lease on a loaded machine
        lease = keeper.lease = store.acquire("main", "node-a")
        assert lease is not None
        inc = repo.claim(SYM)
        commit(repo, inc, 1)
        wait_until(lambda: store.takeover_in_s("main") == 0, timeout=5, interval=0.02,
                   message="lease takeable")
        taken = store.acquire("main", "node-b")
        assert taken is not None and taken.epoch == lease.epoch + 1
        with pytest.raises(LeaseLost, match="node-a no longer holds account main"):
            commit(repo, inc, 2)
        assert notes(repo) == [1]  # the refused commit left nothing, not even its journal line
        assert repo.read(queries.actor_rows)[SYM].order_seq == 1
    finally:
        repo.close()


def test_a_node_past_its_deadline_is_refused_without_the_database(pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), SETTINGS)
    store.create_table()
    lease = store.acquire("main", "node-a")
    assert lease is not None
    keeper = BelievingKeeper(lease)
    repo = open_account(pg_url, CommitFence(keeper, in_database=False))  # type: ignore[arg-type]
    try:
        inc = repo.claim(SYM)
        commit(repo, inc, 1)
        keeper.lease = None  # the keeper's deadline passed (cannot renew)
        with pytest.raises(LeaseLost):
            commit(repo, inc, 2)
        assert notes(repo) == [1]
    finally:
        repo.close()


def test_the_commit_fence_finds_the_lease_table_in_the_roles_own_schema(pg_url: str) -> None:
    """PostgreSQL 15's secure pattern gives the bot's role a schema of its own name, first in
    the default search_path ("$user", public): the node's lease store creates `leases` there.
    The accounts' sessions looked in the account's schema and public only, so every fenced
    commit failed ('relation "leases" does not exist') and no account could start."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    role = f"node_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CREATE ON DATABASE "{urlsplit(pg_url).path.strip("/")}" '
                      f'TO "{role}"')
        admin.execute(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
    parts = urlsplit(pg_url)
    url = urlunsplit((parts.scheme, f"{role}@{parts.hostname}:{parts.port or 5432}",
                      parts.path, parts.query, ""))
    store = LeaseStore(open_database(url), SETTINGS)
    store.create_table()
    keeper = BelievingKeeper(None)
    repo = open_account(url, CommitFence(keeper, in_database=True))  # type: ignore[arg-type]
    try:
        keeper.lease = store.acquire("main", "node-a")  # once the storage is open, as above
        assert keeper.lease is not None
        inc = repo.claim(SYM)
        commit(repo, inc, 1)
        assert notes(repo) == [1]
    finally:
        repo.close()
        store.db.close()
