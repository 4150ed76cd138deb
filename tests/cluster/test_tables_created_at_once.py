"""Nodes started at the same moment on a fresh database each create the cluster's tables.
PostgreSQL's CREATE TABLE IF NOT EXISTS is not atomic against a creator whose transaction is
still open: the second waits for it and then fails on a catalog index (`duplicate key value
violates unique constraint "pg_type_typname_nsp_index"`) instead of finding the table, so one
of the nodes refused to start (found by review). The loser now finds the table. Real
PostgreSQL; the other creator is a raw session holding its CREATE uncommitted."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from cluster import LeaseSettings, LeaseStore, open_database
from storage.cluster_registry import _REGISTRY_SCHEMA, ClusterRegistry
from storage.leases import _SCHEMA
from tests.support.waiting import wait_until


def _waits_on_a_lock(url: str) -> bool:
    """A session of this test's database (not of another test on the server) waits on a lock.
    Its own autocommit session: a transaction sees pg_stat_activity as of its first read."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()").fetchone()
    return bool(row and row[0] >= 1)


def created_behind_another_creator(url: str, statements: tuple[str, ...],
                                   create: Callable[[], None]) -> list[str]:
    other = psycopg.connect(url)  # a transaction, left open while `create` runs
    try:
        for sql in statements:
            other.execute(sql)
        outcome: list[str] = []

        def run() -> None:
            try:
                create()
                outcome.append("created")
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcome.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=run)
        thread.start()
        # it waits behind the open transaction (or already failed): seen, not hoped for
        wait_until(lambda: not thread.is_alive() or _waits_on_a_lock(url), timeout=30,
                   message="the second creator waits behind the first")
        other.commit()
        thread.join(20)
        assert not thread.is_alive()
        return outcome
    finally:
        other.close()


def test_the_lease_table_created_by_two_nodes_at_once(pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), LeaseSettings())
    assert created_behind_another_creator(pg_url, (_SCHEMA,), store.create_table) == ["created"]
    assert store.acquire("main", "node-a") is not None  # the table works


def test_the_registry_tables_created_by_two_nodes_at_once(pg_url: str) -> None:
    registry = ClusterRegistry(open_database(pg_url), version="v1")
    assert created_behind_another_creator(pg_url, _REGISTRY_SCHEMA,
                                          registry.create_tables) == ["created"]
    registry.heartbeat("node-a", 1, ["main"])
    assert [n["node"] for n in registry.nodes()[1]] == ["node-a"]
