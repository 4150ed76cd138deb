"""Real cluster nodes for tests: the shared paper server as a subprocess, and `python bot.py
run` processes configured as cluster nodes on a real PostgreSQL (leases) with their accounts'
databases in one shared directory (nodes on one machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt
import psycopg

from cluster import LeaseSettings, LeaseStore, open_database
from exchange.ccxt.factory import DEFAULT_OPTIONS, point_api_at
from storage.cluster_registry import ClusterRegistry
from tests.exchange.paper_server.server_support import (
    API_KEY,
    API_SECRET,
    REPO,
    wait_bound_port,
)
from tests.support.waiting import wait_until

_WAITS = (
    "SELECT pid, client_port, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
    " round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s,"
    " round(extract(epoch FROM now() - state_change)::numeric, 1) AS state_s, left(query, 100)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " AND datname = current_database()"
    " AND (cardinality(pg_blocking_pids(pid)) > 0 OR state LIKE 'idle in transaction%'"
    " OR (state = 'active' AND now() - state_change > interval '1 second')"
    " OR pid IN (SELECT unnest(pg_blocking_pids(a.pid)) FROM pg_stat_activity a))")

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT",
           "DOGE/USDT:USDT", "BNB/USDT:USDT")


@dataclass
class PaperServer:
    """`python -m exchange.paper_server` with one symbol per account."""

    store: Path
    symbols: tuple[str, ...] = SYMBOLS
    port: int = 0
    """Known once started: the server binds a port of its own choosing (`--port 0`)."""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PaperServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPER_SERVER_")}
        env.update(PAPER_SERVER_API_KEY=API_KEY, PAPER_SERVER_API_SECRET=API_SECRET)
        log_path = self.store.with_suffix(".log")
        since = log_path.stat().st_size if log_path.exists() else 0  # this start's lines
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.paper_server", "--port", "0",
                 "--store", str(self.store), "--symbols", ",".join(self.symbols),
                 "--step-ms", "100"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.port = wait_bound_port(self.proc, log_path, since)
        wait_until(self._answers, timeout=30, interval=0.05, message="paper server answers")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "paper server exited"
        try:
            with urllib.request.urlopen(self.base_url + "/v5/market/time", timeout=1) as reply:
                return bool(json.loads(reply.read())["retCode"] == 0)
        except OSError:
            return False

    def client(self) -> ccxt.bybit:
        ex = ccxt.bybit({"apiKey": API_KEY, "secret": API_SECRET, "timeout": 5000,
                         "enableRateLimit": False,
                         "options": dict(DEFAULT_OPTIONS["bybit"])})
        return point_api_at(ex, self.base_url)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


def account_names(n: int) -> list[str]:
    return [f"acct{i}" for i in range(n)]


def write_config(root: Path, *, server: PaperServer, pg_url: str, accounts: int,
                 ttl_s: float = 4.0, margin_s: float = 1.0, timeout_ms: int = 3000,
                 storage_url: str | None = None) -> Path:
    """One config every node uses (as a cluster's nodes share theirs): account i trades
    SYMBOLS[i] with a quick mean reversion so orders keep flowing. The accounts' storage is
    PostgreSQL with `storage_url` (the production layout), else SQLite files in a shared
    directory (nodes on one machine)."""
    lines = [
        '[bot]', 'mode = "live"', 'status_interval_s = 0.5',
        '[exchange]', 'id = "bybit"', f'api_url = "{server.base_url}"',
        'api_key_env = "PAPER_SERVER_API_KEY"', 'api_secret_env = "PAPER_SERVER_API_SECRET"',
        'rate_limit_per_s = 1000', 'poll_interval_s = 0.2',
        # the whole venue budget: six accounts' 0.2 s REST feeds in one node fit it together
        # (a node refuses accounts whose feeds do not, as a single bot does)
        'rate_budget_share = 1.0',
        '[symbols]', f'list = ["{SYMBOLS[0]}"]',
        '[strategy]', 'window = 5', 'entry_z = 0.4', 'exit_z = 0.3',
        'min_volatility_pct = 0',
        '[risk]', 'order_size_usdt = 150', 'cooldown_after_loss_s = 0', 'leverage = 2',
        '[supervision]', 'reconcile_interval_s = 5',
        '[logging]', 'console = false', 'level = "DEBUG"',
        '[dashboard]', 'enabled = false',
        *(['[storage]', f'url = "{storage_url}"'] if storage_url else []),
        '[cluster]', 'enabled = true', f'database_url = "{pg_url}"',
        *([] if storage_url else [f'shared_dir = "{root / "shared"}"']),
        f'lease_ttl_s = {ttl_s}',
        f'lease_safety_margin_s = {margin_s}', f'exchange_timeout_ms = {timeout_ms}',
        'balance_interval_s = 1.0',
    ]
    for i, name in enumerate(account_names(accounts)):
        lines += ['[[accounts]]', f'name = "{name}"', '[accounts.symbols]',
                  f'list = ["{SYMBOLS[i]}"]']
    path = root / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Node:
    """One `python bot.py run` cluster node process with its own data dir."""

    name: str
    config: Path
    data_dir: Path
    db_url_override: str | None = None
    """Another URL for this node's leases and storage (e.g. through a TCP proxy)."""
    leases_only: bool = False
    """Apply `db_url_override` to the leases' database only (the storage stays direct)."""
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        env = dict(os.environ, PAPER_SERVER_API_KEY=API_KEY,
                   PAPER_SERVER_API_SECRET=API_SECRET)
        config = self.config
        if self.db_url_override is not None:
            config = self.data_dir.parent / f"{self.name}.toml"
            text = self.config.read_text()
            config.write_text(_replace_url(text, self.db_url_override, self.leases_only))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.parent / f"{self.name}.out", "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "bot.py", "run", "--config", str(config), "--data-dir",
                 str(self.data_dir)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(10)
        return self.proc.returncode

    def log_text(self) -> str:
        logs = self.data_dir / "logs"
        return "".join(p.read_text(errors="replace") for p in sorted(logs.rglob("*.log")))


def _replace_url(text: str, url: str, leases_only: bool = False) -> str:
    keys = ("database_url = ",) if leases_only else ("database_url = ", "url = ")
    out = []
    for line in text.splitlines():
        replaced = line.startswith(keys)
        out.append(f'{line.split(" = ")[0]} = "{url}"' if replaced else line)
    return "\n".join(out) + "\n"


class ClusterWatch:
    """Reads the lease table and the takeover journal as an outside observer."""

    def __init__(self, pg_url: str, settings: LeaseSettings) -> None:
        self.pg_url = pg_url
        self.waits: list[str] = []
        self._waits_seen_at = 0.0
        self.store = LeaseStore(open_database(pg_url), settings)
        self.store.create_table()
        self.registry = ClusterRegistry(open_database(pg_url))
        self.registry.create_tables()

    def owners(self) -> dict[str, tuple[str, int]]:
        """account -> (owner, epoch) of the live leases."""
        now, leases = self.store.all_leases()
        return {lease.account: (lease.owner, lease.epoch) for lease in leases
                if lease.expires_at_ms > now}

    def takeovers(self) -> list[dict[str, Any]]:
        return self.registry.takeovers(1000)

    def note_waits(self, every_s: float = 1.0) -> None:
        """Remember (at most every `every_s`) the server's sessions that wait on a lock, sit in
        a transaction, or run a statement for over a second, with whom they wait for: what a
        failure message shows when a node's call hangs in the database."""
        if time.monotonic() - self._waits_seen_at < every_s:
            return
        self._waits_seen_at = time.monotonic()
        with psycopg.connect(self.pg_url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(_WAITS).fetchall()
        if rows:
            stamp = time.strftime("%H:%M:%S")
            self.waits.append("\n".join(f"{stamp} {row}" for row in rows))
            del self.waits[:-5]
