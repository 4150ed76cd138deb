"""Rule 4 on a cluster node: a SIGTERM that arrives while the node starts an account (lease
taken, the account's markets read held by a venue that accepts and never answers) ends that
start after the call in flight, as a single bot's start does (tests/e2e/
test_sigterm_during_start.py), releases the lease so a survivor takes the account at once,
and exits 0. Found by review: the node's start ran without the start fence, so the read's
retries (5 tries per load, then a refetch) went on after the signal, then the failed start
was logged as an error with its traceback, and the lease was handled as after any failure.

Real `python bot.py run` cluster node on the Bybit emulator (127.0.0.1) holding every markets
read, leases on the test's PostgreSQL database, the account's storage in a shared dir."""

from __future__ import annotations

import pytest

from cluster import LeaseSettings, LeaseStore, open_database
from tests.e2e.bot_process import sigterm_while_the_markets_read_hangs

pytestmark = pytest.mark.slow


def test_sigterm_while_a_node_starts_an_account_ends_the_start_and_releases_it(
        tmp_path, pg_url):
    log = sigterm_while_the_markets_read_hangs(
        tmp_path / "node.toml", tmp_path / "data", bot={"account": "acct0"}, exchange={},
        dashboard={"enabled": False},
        cluster={"enabled": True, "database_url": pg_url,
                 "shared_dir": str(tmp_path / "shared"), "lease_ttl_s": 3.0,
                 "exchange_timeout_ms": 1000})
    assert "could not start" not in log, log[-3000:]  # a stop, not a failed start
    assert "leases are not released" not in log, log[-3000:]
    now, leases = LeaseStore(open_database(pg_url), LeaseSettings()).all_leases()
    live = [lease for lease in leases if lease.expires_at_ms > now]
    assert live == [], live  # released: a survivor takes the account at once
