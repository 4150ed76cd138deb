"""`bot.py cluster` reads the cluster: pointed at a database no node has run against (a
mistyped URL, another application's database), it created the cluster's tables there (found by
review). Now it says in one line that there is nothing to show and creates nothing; against a
cluster database it shows the cluster as before. Real PostgreSQL server, real `bot.py`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from cluster.lease import LeaseSettings
from storage.cluster_database import open_database
from storage.leases import LeaseStore
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]


def _tables(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows.fetchall()}


def _cluster(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "cluster", *args, "--config",
                           str(config)], cwd=config.parent, capture_output=True, text=True,
                          timeout=60)


def test_the_cluster_command_creates_nothing_in_a_database_without_a_cluster(
        tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      f'[cluster]\ndatabase_url = "{pg_url}"\n')
    done = _cluster(config)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cluster.database_url: this database has no cluster tables" in done.stderr
    assert _tables(pg_url) == set(), "a read created tables"

    LeaseStore(open_database(pg_url), LeaseSettings()).create_table()  # as a node does
    shown = _cluster(config, "--json")
    assert shown.returncode == 0, shown.stderr
    assert isinstance(json.loads(shown.stdout), dict)
    assert _tables(pg_url) == {"leases"}, "a read created the registry's tables"
