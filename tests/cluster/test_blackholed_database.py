"""A node whose PostgreSQL stops answering without dropping the connection (a hung server, or
a middlebox that swallows bytes: the peer's kernel still acknowledges, so TCP keepalives and
TCP_USER_TIMEOUT never fire). Real node process, real PostgreSQL, the node's leases and storage
through a blackholing TCP proxy.

Review finding: the node froze for good. The run loop's status read hung on a dead pooled
connection holding the pool's lock, the node thread's stop of a lapsed account waited for that
lock (so its watchdog never ran again), the status file froze at `running`, SIGTERM was never
acted on (kill -9 needed) and after the database answered again the node never rejoined.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.failover_run import Timings
from tests.cluster.node_support import ClusterWatch, Node, PaperServer, write_config
from tests.cluster.test_zombie_and_partition import log_tails, pid_of
from tests.support.postgres import host_port, with_host_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
FAST = Timings(ttl_s=2.0, margin_s=0.6, timeout_ms=1000)
ACCOUNTS = ("acct0", "acct1")
STOP_DEADLINE_S = 30.0
"""SIGTERM to exit while the database hangs: the run loop's status round, each account's stop
(calls aborted), each lease release and the deregistration (each call bounded by its deadline,
2 x lease_ttl_s / 3 here)."""


def held_here(watch: ClusterWatch, node: Node) -> dict[str, int]:
    return {a: e for a, (o, e) in watch.owners().items() if pid_of(o) == node.pid}


def running_lines(node: Node) -> int:
    return node.log_text().count(": running at epoch ")


def status(node: Node) -> dict[str, Any]:
    try:
        return dict(json.loads((node.data_dir / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


def start_node(tmp_path: Path, pg_url: str, server: PaperServer,
               proxy: TcpProxy) -> tuple[Node, ClusterWatch]:
    config = write_config(tmp_path, server=server, pg_url=pg_url, accounts=len(ACCOUNTS),
                          ttl_s=FAST.ttl_s, margin_s=FAST.margin_s, timeout_ms=FAST.timeout_ms,
                          storage_url=pg_url)
    watch = ClusterWatch(pg_url, FAST.lease)
    node = Node(name="a", config=config, data_dir=tmp_path / "a",
                db_url_override=with_host_port(pg_url, "127.0.0.1", proxy.port)).start()
    wait_until(lambda: running_lines(node) >= len(ACCOUNTS), timeout=90, interval=0.1,
               message="both accounts running on the node")
    return node, watch


def blackhole_until_dropped(proxy: TcpProxy, node: Node) -> float:
    """Swallow every byte of the node's database connections; return once the node's watchdog
    stopped an account for its lease (on the old code the node thread then wedged)."""
    before = node.log_text().count("not renewed in time; stopping the account")
    proxy.blackhole()
    began = time.monotonic()
    wait_until(lambda: node.log_text().count("not renewed in time; stopping the account")
               > before, timeout=30, interval=0.05,
               message=f"a lapsed account stopped\n{log_tails(node)}")
    return began


@pytest.fixture
def server(tmp_path: Path) -> Any:
    paper = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",
                                                                  "ETH/USDT:USDT")).start()
    yield paper
    paper.stop()


def test_sigterm_stops_a_node_whose_database_hangs(pg_url: str, tmp_path: Path,
                                                   server: PaperServer) -> None:
    host, port = host_port(pg_url)
    node = None
    try:
        with TcpProxy(host, port) as proxy:
            node, _ = start_node(tmp_path, pg_url, server, proxy)
            blackhole_until_dropped(proxy, node)
            node.signal(signal.SIGTERM)
            sent = time.monotonic()
            assert node.proc is not None
            try:
                code = node.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                node.kill()
                raise AssertionError(f"the node ignored SIGTERM for {STOP_DEADLINE_S:g}s while "
                                     f"its database hung\n{log_tails(node)}") from None
            took = time.monotonic() - sent
        log = node.log_text()
        assert code == 0, f"exit code {code} after {took:.1f}s\n{log_tails(node)}"
        assert "stopping: every account of this node stops" in log
        main_log = (node.data_dir / "logs" / "bot.log").read_text(errors="replace")
        assert main_log.rstrip().splitlines()[-1].endswith("bot stopped"), log_tails(node)
        final = status(node)
        assert final.get("bot", {}).get("running") is False, final
    finally:
        if node is not None and node.alive():
            node.kill()


def test_node_keeps_its_status_and_rejoins_after_its_database_answers_again(
        pg_url: str, tmp_path: Path, server: PaperServer) -> None:
    host, port = host_port(pg_url)
    node = None
    try:
        with TcpProxy(host, port) as proxy:
            node, watch = start_node(tmp_path, pg_url, server, proxy)
            epochs = held_here(watch, node)
            began = blackhole_until_dropped(proxy, node)
            status_file = node.data_dir / "status.json"
            # the run loop goes on: the status is rewritten while the database hangs, and no
            # account whose lease lapsed is listed as this node's any more
            wait_until(lambda: status_file.stat().st_mtime > time.time() - 1
                       and time.monotonic() - began > 2 * FAST.ttl_s + 2,
                       timeout=30, interval=0.1,
                       message=f"status rewritten while the database hangs\n{log_tails(node)}")
            wait_until(lambda: not status(node).get("cluster", {}).get("this_node", {})
                       .get("accounts"), timeout=30, interval=0.1,
                       message=f"the lapsed accounts gone from the status\n{log_tails(node)}")
            proxy.heal()
            wait_until(lambda: all(held_here(watch, node).get(a, 0) > epochs.get(a, 0)
                                   for a in ACCOUNTS), timeout=60, interval=0.1,
                       message=f"the node takes its accounts again\n{log_tails(node)}")
            wait_until(lambda: running_lines(node) >= 2 * len(ACCOUNTS), timeout=60,
                       interval=0.1, message=f"both accounts running again\n{log_tails(node)}")
            code = node.stop()
        assert code == 0, log_tails(node)
    finally:
        if node is not None and node.alive():
            node.kill()
