"""`bot.py cluster` is an operator's look: it must never change the cluster. Found by review:
it ran the registry's CREATE TABLE IF NOT EXISTS and ALTER TABLE ADD COLUMN on every call, so
on a registry of an earlier release it altered the live cluster's schema (taking PostgreSQL's
ACCESS EXCLUSIVE lock on the nodes' table), and with a read-only role, the natural one to give
an operator's machine, it refused with 'permission denied for schema public'.

Now the database is the same after the command, column for column and row for row, also while
a node holds an open transaction on it; an earlier release's registry is shown as it is (no
version, ready). Real PostgreSQL server, real `bot.py` subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from cluster.lease import LeaseSettings
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from storage.leases import LeaseStore

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("leases", "cluster_nodes", "cluster_takeovers")
HOUR = LeaseSettings(ttl_s=3600)  # the test's lease stays live however slow the command starts


def _cluster(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "cluster", "--json",
                           "--config", str(config)], cwd=config.parent, capture_output=True,
                          text=True, timeout=60)


def _config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      f'[cluster]\ndatabase_url = "{url}"\n')
    return config


def _everything(url: str) -> tuple[list[tuple], dict[str, list[tuple]]]:
    """Every column of the public schema and every row of the cluster's tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, column_default FROM "
            "information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, column_name").fetchall()
        present = {c[0] for c in columns}
        rows = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in TABLES if t in present}
    return columns, rows


def _an_earlier_release_ran(url: str) -> None:
    """A node of a release before the registry's version/ready/configured columns."""
    store = LeaseStore(open_database(url), HOUR)
    store.create_table()
    registry = ClusterRegistry(store.db, version="abc1234")
    registry.create_tables()
    assert store.acquire("alpha", "node-a") is not None
    registry.heartbeat("node-a", 4242, ["alpha"])
    store.db.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for column in ("version", "ready", "configured"):
            conn.execute(f"ALTER TABLE cluster_nodes DROP COLUMN {column}")


@pytest.fixture
def reader(pg_url: str) -> Iterator[str]:
    """A role that may only read (an operator's machine), its URL."""
    role = "reader_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    parts = urlsplit(pg_url)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        conn.execute(f"DROP ROLE {role}")


def test_the_cluster_command_leaves_an_earlier_registry_as_it_is(
        tmp_path: Path, pg_url: str) -> None:
    _an_earlier_release_ran(pg_url)
    before = _everything(pg_url)
    with psycopg.connect(pg_url) as node:  # a node inside its commit, holding the rows
        node.execute("UPDATE leases SET epoch = epoch WHERE account = 'alpha'")
        node.execute("UPDATE cluster_nodes SET pid = pid WHERE node = 'node-a'")
        shown = _cluster(_config(tmp_path, pg_url))
        node.rollback()
    assert shown.returncode == 0, shown.stderr
    assert _everything(pg_url) == before, "the cluster command changed the database"
    view = json.loads(shown.stdout)
    [node_row] = view["nodes"]
    assert (node_row["node"], node_row["accounts"], node_row["version"]) == \
        ("node-a", ["alpha"], None)


def test_the_cluster_command_works_with_a_role_that_may_only_read(
        tmp_path: Path, pg_url: str, reader: str) -> None:
    store = LeaseStore(open_database(pg_url), HOUR)
    store.create_table()
    registry = ClusterRegistry(store.db, version="abc1234")
    registry.create_tables()  # this release's registry, as a node of it made
    assert store.acquire("alpha", "node-a") is not None
    registry.heartbeat("node-a", 4242, ["alpha"])
    store.db.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO "
                     + urlsplit(reader).username)  # type: ignore[operator]
    before = _everything(pg_url)
    shown = _cluster(_config(tmp_path, reader))
    assert shown.returncode == 0, shown.stderr
    assert _everything(pg_url) == before
    [node_row] = json.loads(shown.stdout)["nodes"]
    assert (node_row["node"], node_row["version"], node_row["accounts"]) == \
        ("node-a", "abc1234", ["alpha"])
