"""`bot.py status` (the table) of a cluster node says it is one and which accounts it holds.

Found running a cluster by the README (3 nodes, 4 accounts): a node holding no account (the
others held the share, 2 + 2) printed `health: open 0  protected 0  ts_coverage 100%` over an
empty table, as a bot trading nothing would, with no word that it is a node waiting for an
account or where the accounts run; only `--json` had the node's `cluster` section. Real node
processes (`bot.py run`), real PostgreSQL leases, the shared paper server, `bot.py status` as
a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cluster import LeaseSettings, LeaseStore, open_database
from tests.cluster.node_support import REPO, Node, PaperServer, write_config
from tests.support.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path) -> Any:
    paper = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",)).start()
    yield paper
    paper.stop()


def this_node(data_dir: Path) -> dict[str, Any]:
    try:
        status = json.loads((data_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(status.get("cluster", {}).get("this_node") or {})


def status_text(config: Path, data_dir: Path) -> str:
    done = subprocess.run([sys.executable, "bot.py", "status", "--config", str(config),
                           "--data-dir", str(data_dir)], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_the_status_table_names_the_node_and_what_it_holds(pg_url: str, tmp_path: Path,
                                                           server: PaperServer) -> None:
    config = write_config(tmp_path, server=server, pg_url=pg_url, accounts=1, ttl_s=2.0,
                          margin_s=0.6, timeout_ms=1000)
    holder = Node(name="a", config=config, data_dir=tmp_path / "a").start()
    idle = Node(name="b", config=config, data_dir=tmp_path / "b")
    try:
        wait_until(lambda: this_node(holder.data_dir).get("accounts"), timeout=90,
                   interval=0.1, message="the first node holds the account")
        idle.start()
        wait_until(lambda: "node" in this_node(idle.data_dir), timeout=90, interval=0.1,
                   message="the second node wrote its status")
        held = this_node(holder.data_dir)
        epoch = held["accounts"]["acct0"]["epoch"]
        # the epoch it runs under, the lease's (mutation audit: the status giving any other
        # number, 0 here, survived: the operator could not match its orders' ids, `-e<epoch>-`)
        lease = LeaseStore(open_database(pg_url), LeaseSettings()).current("acct0")
        assert lease is not None and (lease.owner, lease.epoch) == (held["node"], epoch)
        assert epoch >= 1
        text = status_text(config, holder.data_dir)
        assert f"cluster node {held['node']}: holds acct0 (epoch {epoch})" in text, text
        text = status_text(config, idle.data_dir)
        name = this_node(idle.data_dir)["node"]
        assert f"cluster node {name}: holds no account" in text, text
        assert "bot.py cluster" in text, text
    finally:
        for node in (idle, holder):
            node.stop()
