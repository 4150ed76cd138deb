"""A node killed without leaving (kill -9, machine gone) keeps its registry row: `bot.py
cluster` shows it as stale for a while, then the live nodes' beats delete it (an hour after
its last beat), so the list does not grow with every crash. The takeover history keeps the
dead node's id. Real SQLite and real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import peewee

from cluster.lease import Lease, LeaseSettings
from cluster.view import cluster_view, render
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from storage.leases import LeaseStore

SETTINGS = LeaseSettings()
HOUR_MS = 3_600_000


def backdate(db: peewee.Database, node: str, ago_ms: int) -> None:
    """As if `node` last beat `ago_ms` ago on the database clock (and then died)."""
    p = db.param
    db.execute_sql(f"UPDATE cluster_nodes SET seen_ms = seen_ms - {p} WHERE node = {p}",
                   (ago_ms, node))


def check_forgets_dead_nodes(url: str) -> None:
    store = LeaseStore(open_database(url), SETTINGS)
    store.create_table()
    dead = ClusterRegistry(open_database(url), version="old")
    dead.create_tables()
    dead.heartbeat("node-dead", 111, ["alpha"])
    dead.heartbeat("node-recent", 222, ["beta"])
    dead.record_takeover(Lease(account="alpha", owner="node-live", epoch=2, expires_at_ms=0,
                               renewed_at_ms=0, previous_owner="node-dead"), "takeover")
    backdate(dead.db, "node-dead", HOUR_MS + 60_000)  # the README's hour
    backdate(dead.db, "node-recent", 60_000)

    live = ClusterRegistry(open_database(url), version="new")
    live.heartbeat("node-live", 333, ["alpha"])
    _, rows = live.nodes()
    assert [r["node"] for r in rows] == ["node-live", "node-recent"]
    view = cluster_view(store, live, SETTINGS)
    assert "node-dead" not in [n["node"] for n in view["nodes"]]
    assert "node-recent  pid 222  version old  stale" in render(view)
    assert view["last_takeover"]["previous_owner"] == "node-dead"  # history kept


def test_a_dead_nodes_row_is_forgotten_sqlite(tmp_path: Path) -> None:
    check_forgets_dead_nodes(str(tmp_path / "cluster.sqlite"))


def test_a_dead_nodes_row_is_forgotten_postgres(pg_url: str) -> None:
    check_forgets_dead_nodes(pg_url)
