"""`bot.py status` of a cluster node that is gone does not say the node still holds accounts.

Found by review: the dump settled a dead bot's actors (`stopped`, `last_state`) but kept the
node's own `cluster.this_node.accounts` as its last snapshot wrote them, so a node killed with
`kill -9` read as holding its accounts at their epochs, while other nodes had taken them over.
Real node process (`bot.py run`), real PostgreSQL leases, the shared paper server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.status_cli import status_dump
from tests.cluster.node_support import Node, PaperServer, write_config
from tests.support.waiting import wait_until


@pytest.fixture
def server(tmp_path: Path) -> Any:
    paper = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",)).start()
    yield paper
    paper.stop()


def held_in_snapshot(data_dir: Path) -> dict[str, Any]:
    try:
        status = json.loads((data_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(status.get("cluster", {}).get("this_node", {}).get("accounts") or {})


def test_a_killed_node_holds_no_account_in_its_status(pg_url: str, tmp_path: Path,
                                                       server: PaperServer) -> None:
    config = write_config(tmp_path, server=server, pg_url=pg_url, accounts=1, ttl_s=2.0,
                          margin_s=0.6, timeout_ms=1000)
    node = Node(name="a", config=config, data_dir=tmp_path / "a").start()
    try:
        held = wait_until(lambda: held_in_snapshot(node.data_dir), timeout=90, interval=0.1,
                          message="the node's status names the account it holds")
        assert list(held) == ["acct0"]
        node.kill()
        dump = status_dump(node.data_dir)
        assert dump is not None and dump["bot"]["running"] is False
        this_node = dump["cluster"]["this_node"]
        assert this_node["accounts"] == {}, this_node
        assert this_node["last_accounts"] == held  # what it held when it last wrote
    finally:
        if node.alive():
            node.kill()


def test_a_node_stopped_by_sigterm_says_so_and_holds_nothing(pg_url: str, tmp_path: Path,
                                                             server: PaperServer) -> None:
    """README: a node stopped by SIGINT/SIGTERM released its accounts before its last write,
    so its status holds none, and a graceful stop is not read as a kill. Mutation audit
    (runtime/cluster_node.py `run_node`): dropping the final `running: false` snapshot after
    the node's stop survived every test naming the module: `bot.py status` then read a clean
    stop as a node killed mid-run (`stale`), still holding the accounts other nodes had taken
    over at once."""
    config = write_config(tmp_path, server=server, pg_url=pg_url, accounts=1, ttl_s=2.0,
                          margin_s=0.6, timeout_ms=1000)
    node = Node(name="a", config=config, data_dir=tmp_path / "a").start()
    try:
        wait_until(lambda: held_in_snapshot(node.data_dir), timeout=90, interval=0.1,
                   message="the node's status names the account it holds")
        assert node.stop() == 0
        written = json.loads((node.data_dir / "status.json").read_text())
        assert written["bot"]["running"] is False
        assert written["cluster"]["this_node"]["accounts"] == {}
        dump = status_dump(node.data_dir)
        assert dump is not None and dump["bot"]["running"] is False
        assert dump["bot"]["stale"] is False  # a clean stop, not a kill
    finally:
        if node.alive():
            node.kill()
