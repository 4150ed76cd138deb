"""The two ways a node can be alive and wrong, with real processes on a real PostgreSQL:

- zombie: SIGSTOP a node past its lease, let the other take over, SIGCONT it: it sends
  nothing and commits nothing for the account, logs that it lost the lease and lets go;
- partition: the node's database connections go through a TCP proxy; cut it: the node stops
  acting before its lease expires, the survivor takes over, and the exchange's order log shows
  no overlap (the cut node's last order is before its lease's expiry, the survivor's first
  after its own acquisition).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import exchange_audit as audit
from tests.cluster.failover_run import Timings
from tests.cluster.node_support import ClusterWatch, Node, PaperServer, write_config
from tests.exchange.paper_server.server_support import REPO
from tests.support.postgres import host_port, with_host_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
FAST = Timings(ttl_s=2.0, margin_s=0.6, timeout_ms=1000)
ACCOUNTS = ["acct0", "acct1"]


def pid_of(owner: str) -> int:
    return int(owner.rsplit("-", 2)[1])


def node_status(node: Node) -> dict[str, Any]:
    return dict(json.loads((node.data_dir / "status.json").read_text()))


def held_by(watch: ClusterWatch, node: Node) -> dict[str, int]:
    return {a: e for a, (o, e) in watch.owners().items() if pid_of(o) == node.pid}


def beats(watch: ClusterWatch) -> dict[int, list[str]]:
    """pid -> the accounts of that node's last heartbeat (the registry)."""
    return {pid_of(r["node"]): r["accounts"] for r in watch.registry.nodes()[1]}


def split_evenly(watch: ClusterWatch, a: Node, b: Node) -> bool:
    return len(held_by(watch, a)) == 1 and len(held_by(watch, b)) == 1


def taken_over(watch: ClusterWatch, account: str, epoch: int) -> dict[str, Any] | None:
    """The journal's first acquisition of `account` after `epoch` (ready: the account runs).
    Its kind is normally "takeover"; on a starved machine the new holder may lose its fresh
    lease before the account ran and take it again, journaled as a hand-over from itself, and
    its acquired_ms is then later than the takeover (the late-send check only gets weaker)."""
    later = sorted((t for t in watch.takeovers() if t["account"] == account
                    and int(t["epoch"]) > epoch), key=lambda t: int(t["epoch"]))
    return later[0] if later else None


def log_tails(*nodes: Node | None, lines: int = 40) -> str:
    """The last non-debug lines of each node's main log, for a failure message."""
    out = []
    for node in nodes:
        if node is None:
            continue
        path = node.data_dir / "logs" / "bot.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        kept = [line[:240] for line in text.splitlines() if "| DEBUG |" not in line]
        out.append(f"--- node {node.name} (pid {node.pid}) ---\n" + "\n".join(kept[-lines:]))
    return "\n".join(out)


def wait_for_takeover(watch: ClusterWatch, account: str, epoch: int, zombie: Node,
                      survivor: Node) -> dict[str, Any]:
    """Two deadlines: the survivor acquires the lease (expiry + grace: seconds), then the
    account runs there and the takeover is journaled (restore and reconcile). A failure says
    which step did not happen and shows both nodes' logs."""
    try:
        wait_until(lambda: watch.owners().get(account, ("", 0))[1] > epoch, timeout=30,
                   interval=0.05, message=f"another node to acquire {account}")
        took = wait_until(lambda: watch.note_waits() or taken_over(watch, account, epoch),
                          timeout=60, interval=0.05,
                          message=f"{account} to run on the other node")
    except AssertionError as exc:
        waits = "\n".join(watch.waits) or "none seen"
        raise AssertionError(f"{exc}\nleases {watch.owners()}\n"
                             f"database sessions waiting or in a transaction:\n{waits}\n"
                             f"{log_tails(zombie, survivor)}") from None
    assert took is not None and pid_of(str(took["node"])) == survivor.pid, took
    return took


def start_pair(tmp_path: Path, pg_url: str, server: PaperServer, url_a: str | None = None,
               leases_only: bool = False) -> tuple[Node, Node, ClusterWatch, audit.Books]:
    config = write_config(tmp_path, server=server, pg_url=pg_url, accounts=len(ACCOUNTS),
                          ttl_s=FAST.ttl_s, margin_s=FAST.margin_s, timeout_ms=FAST.timeout_ms,
                          storage_url=pg_url)
    watch = ClusterWatch(pg_url, FAST.lease)
    a = Node(name="a", config=config, data_dir=tmp_path / "a", db_url_override=url_a,
             leases_only=leases_only).start()
    b = Node(name="b", config=config, data_dir=tmp_path / "b").start()
    wait_until(lambda: split_evenly(watch, a, b), timeout=90, interval=0.1,
               message="one account on each node")
    books = audit.Books(pg_url=pg_url)
    wait_until(lambda: all(books.ready(acct) for acct in ACCOUNTS), timeout=60, interval=0.1,
               message="the accounts' storage exists")  # a lease comes before its schema
    return a, b, watch, books


def cluster_cli(config: Path) -> dict[str, Any]:
    """`python bot.py cluster --json` as an operator runs it."""
    done = subprocess.run([sys.executable, "bot.py", "cluster", "--json", "--config",
                           str(config)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_zombie_node_sends_and_commits_nothing_after_its_lease(pg_url: str,
                                                              tmp_path: Path) -> None:
    server = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",
                                                                   "ETH/USDT:USDT")).start()
    a = b = None
    try:
        a, b, watch, books = start_pair(tmp_path, pg_url, server)
        (account, epoch), = held_by(watch, a).items()
        prefix = books.prefix(account)
        wait_until(lambda: audit.sends_by_epoch(server.store, prefix).get(epoch),
                   timeout=60, interval=0.2, message=f"{account} trades at epoch {epoch}")
        # a send says the account runs, not that each node's heartbeat (its own thread) and
        # status file (the run loop's round) list it yet: wait for both before reading them
        wait_until(lambda: sorted(len(accounts) for accounts in beats(watch).values()) == [1, 1]
                   and beats(watch).get(a.pid) == [account], timeout=30, interval=0.2,
                   message="each node's heartbeat lists its account")
        wait_until(lambda: list(node_status(a).get("cluster", {}).get("this_node", {})
                                .get("accounts", {})) == [account], timeout=30, interval=0.2,
                   message="node a's status lists its account")
        view = cluster_cli(a.config)
        nodes = {pid_of(n["node"]): n for n in view["nodes"]}
        assert nodes[a.pid]["live"] and nodes[a.pid]["accounts"] == [account]
        assert nodes[b.pid]["live"] and len(nodes[b.pid]["accounts"]) == 1
        leases = {row["account"]: row for row in view["leases"]}
        assert leases[account]["epoch"] == epoch and leases[account]["live"]
        assert 0 <= leases[account]["age_s"] < FAST.ttl_s
        assert list(node_status(a)["cluster"]["this_node"]["accounts"]) == [account]
        table = subprocess.run([sys.executable, "bot.py", "status", "--config", str(a.config),
                                "--data-dir", str(a.data_dir)], cwd=REPO, capture_output=True,
                               text=True, timeout=60)
        assert table.returncode == 0 and account in table.stdout, table.stderr
        a.signal(signal.SIGSTOP)
        took = wait_for_takeover(watch, account, epoch, zombie=a, survivor=b)
        committed = [c for c in books.order_ids(account) if f"-e{epoch}-" in c]
        a.signal(signal.SIGCONT)
        wait_until(lambda: account not in node_status(a).get("cluster", {})
                   .get("this_node", {}).get("accounts", {account: 1}),
                   timeout=30, interval=0.1, message="the zombie lets go of the account")
        assert f"{account}: lease epoch {epoch} lost" in a.log_text()
        last = cluster_cli(b.config)["last_takeover"]
        if took["kind"] == "takeover":  # else see taken_over: the survivor re-took its own
            assert (last["account"], last["epoch"]) == (account, int(took["epoch"]))
            assert pid_of(last["previous_owner"]) == a.pid
        late = audit.attempts_of_epoch(server.store, prefix, epoch, int(took["acquired_ms"]))
        assert late == [], f"the zombie sent {late} after the takeover"
        assert [c for c in books.order_ids(account) if f"-e{epoch}-" in c] == committed, (
            "the zombie committed order intents after the takeover")
        assert audit.duplicate_ids(server.store) == []
    finally:
        for node in (a, b):
            if node is not None:
                node.stop()
        server.stop()


def test_zombie_whose_lease_database_hangs_is_held_by_its_fences(pg_url: str,
                                                                 tmp_path: Path) -> None:
    """The zombie again, but its leases' connection goes dark while it is stopped (storage
    stays reachable): after SIGCONT its renewal hangs for a while, so its account keeps
    deciding with the lease long gone, and only the deadline-based fences (commit and send)
    stand between it and the exchange until it notices and lets go."""
    server = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",
                                                                   "ETH/USDT:USDT")).start()
    host, port = host_port(pg_url)
    a = b = None
    try:
        with TcpProxy(host, port) as proxy:
            a, b, watch, books = start_pair(tmp_path, pg_url, server,
                                           url_a=with_host_port(pg_url, "127.0.0.1", proxy.port),
                                           leases_only=True)
            (account, epoch), = held_by(watch, a).items()
            prefix = books.prefix(account)
            wait_until(lambda: audit.sends_by_epoch(server.store, prefix).get(epoch),
                       timeout=60, interval=0.2, message=f"{account} trades at epoch {epoch}")
            a.signal(signal.SIGSTOP)
            proxy.blackhole()
            took = wait_for_takeover(watch, account, epoch, zombie=a, survivor=b)
            committed = [c for c in books.order_ids(account) if f"-e{epoch}-" in c]
            a.signal(signal.SIGCONT)
            wait_until(lambda: account not in node_status(a).get("cluster", {})
                       .get("this_node", {}).get("accounts", {account: 1}),
                       timeout=60, interval=0.2, message="the zombie notices and lets go")
        late = audit.attempts_of_epoch(server.store, prefix, epoch, int(took["acquired_ms"]))
        assert late == [], f"the zombie sent {late} after the takeover"
        assert [c for c in books.order_ids(account) if f"-e{epoch}-" in c] == committed, (
            "the zombie committed order intents after the takeover")
        assert f"{account}: lease epoch {epoch} not renewed in time" in a.log_text()
    finally:
        for node in (a, b):
            if node is not None:
                node.stop()
        server.stop()


def watch_expiry(watch: ClusterWatch, account: str, epoch: int,
                 seen: dict[str, int]) -> threading.Thread:
    """Note the last expiry the database granted `epoch` (renewals stop at the cut)."""
    def run() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            lease = watch.store.current(account)
            if lease is None or lease.epoch != epoch:
                return
            seen["expires_at_ms"] = lease.expires_at_ms
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["cut", "hang"])
def test_partitioned_node_stops_before_its_lease_expires(pg_url: str, tmp_path: Path,
                                                         how: str) -> None:
    """cut: leases and storage through the proxy, connections reset (the one-database
    deployment: nothing can even be committed). hang: only the leases' connection goes through
    the proxy and it swallows every byte, so the node's account keeps committing and sending
    until its own deadline, and the renewal call hangs past it: the fences must hold there."""
    server = PaperServer(store=tmp_path / "paper.sqlite", symbols=("BTC/USDT:USDT",
                                                                   "ETH/USDT:USDT")).start()
    host, port = host_port(pg_url)
    a = b = None
    try:
        with TcpProxy(host, port) as proxy:
            a, b, watch, books = start_pair(tmp_path, pg_url, server,
                                           url_a=with_host_port(pg_url, "127.0.0.1", proxy.port),
                                           leases_only=how == "hang")
            (account, epoch), = held_by(watch, a).items()
            prefix = books.prefix(account)
            wait_until(lambda: audit.sends_by_epoch(server.store, prefix).get(epoch),
                       timeout=60, interval=0.2, message=f"{account} trades at epoch {epoch}")
            seen: dict[str, int] = {}
            watcher = watch_expiry(watch, account, epoch, seen)
            if how == "cut":
                proxy.cut()
            else:
                proxy.blackhole()
            took = wait_for_takeover(watch, account, epoch, zombie=a, survivor=b)
            watcher.join(10)
            wait_until(lambda: audit.sends_by_epoch(server.store, prefix).get(
                int(took["epoch"])), timeout=60, interval=0.2, message="the survivor trades")
        sends = audit.sends_by_epoch(server.store, prefix)
        assert max(sends[epoch]) < seen["expires_at_ms"], "the cut node sent after its expiry"
        assert min(sends[int(took["epoch"])]) >= int(took["acquired_ms"])
        assert audit.attempts_of_epoch(server.store, prefix, epoch, seen["expires_at_ms"]) == []
        assert "not renewed in time" in a.log_text()
    finally:
        for node in (a, b):
            if node is not None:
                node.stop()
        server.stop()
