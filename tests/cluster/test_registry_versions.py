"""Incident 12 across machines: `bot.py cluster` shows the code every node runs. The registry
row carries the node's version; a registry created before that column gets it; a configured
node id reused by a new process shows the new process's pid, start and version. Real
PostgreSQL."""

from __future__ import annotations

import psycopg

from cluster.lease import LeaseSettings
from cluster.view import cluster_view, render
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from storage.leases import LeaseStore

SETTINGS = LeaseSettings()
OLD_TABLE = """CREATE TABLE cluster_nodes (
    node VARCHAR(200) NOT NULL PRIMARY KEY, pid BIGINT NOT NULL, started_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL, accounts VARCHAR(4000) NOT NULL)"""


def view_of(url: str) -> dict:
    store = LeaseStore(open_database(url), SETTINGS)
    store.create_table()
    registry = ClusterRegistry(store.db)
    registry.create_tables()
    return cluster_view(store, registry, SETTINGS)


def test_each_node_shows_its_version_even_on_a_registry_from_before(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as an older release created it
        conn.execute(OLD_TABLE)
        conn.execute("INSERT INTO cluster_nodes VALUES ('old-node', 7, 1, "  # beat just now
                     "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT), 'a')")
    new = ClusterRegistry(open_database(pg_url), version="abc1234")
    new.create_tables()
    new.heartbeat("node-a", 4242, ["alpha"])
    other = ClusterRegistry(open_database(pg_url), version="def5678")
    other.create_tables()  # a second node: the column is there already
    other.heartbeat("node-b", 4343, ["beta"])
    view = view_of(pg_url)
    versions = {n["node"]: n["version"] for n in view["nodes"]}
    assert versions == {"node-a": "abc1234", "node-b": "def5678", "old-node": None}
    text = render(view)
    assert "node-a  pid 4242  version abc1234  live" in text, text
    assert "node-b  pid 4343  version def5678  live" in text, text


def test_a_node_id_reused_by_a_new_process_shows_the_new_process(pg_url: str) -> None:
    first = ClusterRegistry(open_database(pg_url), version="abc1234")
    first.create_tables()
    first.heartbeat("fixed-id", 100, ["alpha"])
    _, [before] = first.nodes()
    first.heartbeat("fixed-id", 100, ["alpha"])  # the same process beating again
    _, [again] = first.nodes()
    assert again["started_ms"] == before["started_ms"] and again["seen_ms"] >= before["seen_ms"]
    with psycopg.connect(pg_url, autocommit=True) as conn:  # time passes on the db clock
        conn.execute("SELECT pg_sleep(0.05)")
    restarted = ClusterRegistry(open_database(pg_url), version="fff0000")
    restarted.heartbeat("fixed-id", 200, ["alpha"])
    _, [after] = restarted.nodes()
    assert (after["pid"], after["version"]) == (200, "fff0000")
    assert after["started_ms"] > before["started_ms"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.05)")
    same_pid = ClusterRegistry(open_database(pg_url), version="fff0000")  # pid 1 in a container
    same_pid.heartbeat("fixed-id", 200, ["alpha"])
    _, [again] = same_pid.nodes()
    assert again["started_ms"] > after["started_ms"]
