"""A bot outside the cluster (cluster.enabled = false) on the same PostgreSQL storage as the
cluster's nodes, by mistake (a copied config without [cluster], an old unit file): cluster nodes
own accounts by lease and never took the schema lock a single bot takes, and a single bot never
looked at the leases, so both traded the same account (incident 1). Now each sees the other:
the bot refuses to start an account a node holds the lease of (exit 3, one line), and a node
refuses to start an account whose schema lock a bot holds (the start fails; the lease goes
back)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster import LeaseSettings, LeaseStore, open_database
from cluster.keeper import LeaseKeeper
from config.loader import load_settings
from runtime.cluster_node import node_settings
from runtime.node_accounts import NodeAccounts
from runtime.wiring import StartupError
from storage.pg_lock import SchemaLock
from tests.e2e.bot_process import start_bot, write_config
from tests.support.waiting import wait_until

LONG = LeaseSettings(ttl_s=600.0, request_timeout_s=1.0, safety_margin_s=1.0)


def test_a_bot_outside_the_cluster_is_refused_an_account_a_node_holds(tmp_path: Path,
                                                                     pg_url: str) -> None:
    store = LeaseStore(open_database(pg_url), LONG)
    store.create_table()
    lease = store.acquire("main", "node-x-1234-abcd")
    assert lease is not None
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          logging={"console": False}, storage={"url": pg_url})
    bot = start_bot(config, tmp_path / "data", "--duration", "5")
    try:
        _, err = bot.communicate(timeout=90)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 3, err[-2000:]
    (line,) = err.strip().splitlines()
    assert f"account main is run by cluster node node-x-1234-abcd (its lease, epoch " \
           f"{lease.epoch}, is live" in line
    store.release(lease)  # released: the same bot starts
    again = start_bot(config, tmp_path / "data", "--duration", "1")
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err[-2000:]


def test_a_node_does_not_start_an_account_a_bot_outside_the_cluster_runs(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTSIDE_BOT_KEY", "key")  # the start gets as far as it can
    monkeypatch.setenv("OUTSIDE_BOT_SECRET", "secret")
    path = tmp_path / "config.toml"
    path.write_text(
        '[bot]\nmode = "live"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n[exchange]\nid = "bybit"\n'
        'api_url = "http://127.0.0.1:1"\napi_key_env = "OUTSIDE_BOT_KEY"\n'
        'api_secret_env = "OUTSIDE_BOT_SECRET"\n[logging]\nconsole = false\n'
        f'[storage]\nurl = "{pg_url}"\n[cluster]\nenabled = true\n')
    settings = load_settings(path)
    store = LeaseStore(open_database(pg_url), LONG)
    store.create_table()
    keeper = LeaseKeeper(store=store, account="main", node_id="node-1", settings=LONG).start()
    wait_until(lambda: keeper.acting_lease() is not None, timeout=10, message="lease held")
    lease = keeper.acting_lease()
    assert lease is not None
    bot_lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=0)
    bot_lock.acquire()  # what a running single bot holds
    try:
        start = NodeAccounts(settings, node_settings(settings), tmp_path / "data", pg_url)
        with pytest.raises(StartupError) as err:
            started = start("main", lease, keeper)
            started.stop()  # (the code before: it started; stopped so the test ends)
            started.close()
    finally:
        bot_lock.release()
        keeper.stop()
    message = str(err.value)
    assert message.startswith("another bot is already trading account main (")
    assert message.endswith("; not started on this cluster node") and "\n" not in message


def test_a_leases_table_the_bot_may_not_read_is_one_line(pg_url: str) -> None:
    """The check above reads the cluster's leases table; a role that may not read it gets one
    line naming the table, not a driver traceback."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from storage.database import StorageError

    store = LeaseStore(open_database(pg_url), LONG)
    store.create_table()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS outside_bot")
        admin.execute("CREATE ROLE outside_bot LOGIN")
    parts = urlsplit(pg_url)
    url = urlunsplit((parts.scheme, f"outside_bot@{parts.hostname}:{parts.port or 5432}",
                      parts.path, parts.query, ""))
    lock = SchemaLock(url, "bot_main", "account main", grace_s=0, lease_account="main")
    with pytest.raises(StorageError) as err:
        lock.acquire()
    message = str(err.value)
    assert "cannot read the cluster's leases table to check that no cluster node runs account " \
           "main: permission denied" in message and "\n" not in message
    assert not lock.held


def test_another_applications_leases_table_does_not_stop_the_bot(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE leases (id INTEGER PRIMARY KEY, tenant TEXT)")
    lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=0, lease_account="main")
    lock.acquire()
    try:
        assert lock.held
    finally:
        lock.release()


def test_a_bot_whose_lock_session_was_cut_stops_if_a_node_took_the_account_meanwhile(
        pg_url: str) -> None:
    """While a single bot's lock session is cut, the schema lock is free: a node holding the
    account's lease finds it free at its start check and starts the account. The bot then takes
    the lock again on a new session: it must look at the leases again, or both trade the
    account (incident 1). It stops (on_lost) naming the node instead."""
    import psycopg

    from storage.pg_lock import lock_keys

    store = LeaseStore(open_database(pg_url), LONG)
    store.create_table()
    lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=0, lease_account="main")
    lock.acquire()
    lost: list[str] = []
    lock.keep(lost.append)
    space, key = lock_keys("bot_main")
    # this test's database only: the lock's keys are the same in another test's database on
    # the same server (CI runs 4 at once), and that holder made two rows
    holders = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
               "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
               "AND classid = %s::bigint::oid AND objid = %s::bigint::oid")
    try:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            (first,) = [r[0] for r in admin.execute(holders, (space, key & 0xFFFFFFFF))]
            lease = store.acquire("main", "node-y-1234-abcd")  # the node, while the lock is gone
            assert lease is not None
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            # the bot's keeper takes the lock again on a new session (or stops: the fix)
            wait_until(lambda: lost or [r[0] for r in admin.execute(
                holders, (space, key & 0xFFFFFFFF)) if r[0] != first], timeout=30,
                message="the lock taken again")
            wait_until(lambda: lost, timeout=10, message="the bot told that a node runs it")
    finally:
        lock.release()
    (reason,) = lost
    assert reason.startswith("account main: the lock's session was cut and account main is "
                             "run by cluster node node-y-1234-abcd (its lease, epoch ")


def test_a_bot_outside_the_cluster_sees_a_lease_kept_in_cluster_database_url(
        tmp_path: Path, pg_url: str) -> None:
    """The leases may live in another database than the accounts' storage
    (cluster.database_url). A copied node config with `enabled = false` names it: the bot looks
    for the lease there, not only in storage.url's database (which has no leases table)."""
    from runtime.bot_locks import schema_locks
    from storage.pg_lock import LeasedToNode
    from tests.support.postgres import fresh_database, server_url

    with fresh_database(server_url()) as leases_url:
        store = LeaseStore(open_database(leases_url), LONG)
        store.create_table()
        lease = store.acquire("main", "node-z-1234-abcd")
        assert lease is not None
        path = tmp_path / "config.toml"
        path.write_text(
            '[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
            f'[storage]\nurl = "{pg_url}"\n'
            f'[cluster]\nenabled = false\ndatabase_url = "{leases_url}"\n')
        (lock,) = schema_locks(load_settings(path))
        try:
            with pytest.raises(LeasedToNode, match="run by cluster node node-z-1234-abcd"):
                lock.acquire()
        finally:
            lock.release()
            store.db.close()
        assert not lock.held
