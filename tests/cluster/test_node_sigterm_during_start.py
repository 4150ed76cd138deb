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

import os
import signal

import pytest

from cluster import LeaseSettings, LeaseStore, open_database
from tests.e2e.bot_process import start_bot, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

MARKETS = "/v5/market/instruments-info"


def test_sigterm_while_a_node_starts_an_account_ends_the_start_and_releases_it(
        tmp_path, pg_url):
    emu = start_emulator("bybit")
    emu.fail_next(MARKETS, 50, hold="before")  # accepted, never answered (until emu.stop)
    try:
        config = write_config(
            tmp_path / "node.toml", ["BTC/USDT:USDT"],
            bot={"mode": "live", "account": "acct0"},
            exchange={"id": "bybit", "api_url": emu.base_url, "rate_limit_per_s": 1000.0},
            logging={"console": False},
            dashboard={"enabled": False},
            cluster={"enabled": True, "database_url": pg_url,
                     "shared_dir": str(tmp_path / "shared"), "lease_ttl_s": 3.0,
                     "exchange_timeout_ms": 1000},
        )
        data = tmp_path / "data"
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, data, env=env)
        try:
            wait_until(lambda: emu.hits(MARKETS), timeout=60, message="the markets read held")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        log = (data / "logs" / "bot.log").read_text()
        assert proc.returncode == 0, err[-2000:] + log[-3000:]
        assert len(emu.hits(MARKETS)) == 1, log[-3000:]  # the call in flight, no retry after
        assert "stop requested while starting" in log, log[-3000:]
        assert "could not start" not in log, log[-3000:]  # a stop, not a failed start
        assert "leases are not released" not in log, log[-3000:]
        assert log.rstrip().endswith("bot stopped")
        now, leases = LeaseStore(open_database(pg_url), LeaseSettings()).all_leases()
        live = [lease for lease in leases if lease.expires_at_ms > now]
        assert live == [], live  # released: a survivor takes the account at once
    finally:
        emu.stop()
