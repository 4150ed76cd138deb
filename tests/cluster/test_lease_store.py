"""The lease protocol, the same tests on SQLite (single-node default) and a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cluster import Lease, LeaseLost, LeaseStore
from tests.cluster.leases_support import (
    FAST,
    create_journal,
    journal_rows,
    make_store,
    write_journal,
)
from tests.support.waiting import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "cluster.sqlite")
    else:
        yield request.getfixturevalue("pg_url")


def _wait_takeover_allowed(store: LeaseStore, expires_at_ms: int) -> None:
    """Wait (database clock) until the lease expired more than the takeover grace ago."""
    wait_until(lambda: store.db_now_ms() > expires_at_ms + FAST.takeover_grace_ms,
               timeout=10, message="lease expiry + takeover grace (database clock)")


def test_only_one_node_acquires_and_only_the_holder_renews(url: str) -> None:
    a, b = make_store(url), make_store(url)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None and lease.epoch == 1 and lease.owner == "node-a"
    assert b.acquire("alpha", "node-b") is None
    assert a.acquire("alpha", "node-a") is None  # a second incarnation must wait as well
    renewed = a.renew(lease)
    assert renewed is not None and renewed.epoch == 1
    assert renewed.expires_at_ms >= lease.expires_at_ms
    assert renewed.expires_at_ms - renewed.renewed_at_ms == FAST.ttl_ms
    assert b.renew(replace(lease, owner="node-b")) is None
    assert b.renew(replace(lease, epoch=2)) is None
    assert b.current("alpha") == renewed
    assert b.acquire("beta", "node-b") is not None  # accounts are independent


def test_expired_lease_is_taken_over_with_next_epoch_only_after_grace(url: str) -> None:
    a, b = make_store(url), make_store(url)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    wait_until(lambda: b.db_now_ms() > lease.expires_at_ms, timeout=5, message="expiry")
    assert a.renew(lease) is None  # expired: renewal refused, the epoch is over for node-a
    if b.db_now_ms() <= lease.expires_at_ms + FAST.takeover_grace_ms:
        assert b.acquire("alpha", "node-b") is None  # still inside the grace period
    _wait_takeover_allowed(b, lease.expires_at_ms)
    taken = b.acquire("alpha", "node-b")
    assert taken is not None and taken.epoch == lease.epoch + 1 and taken.owner == "node-b"
    assert taken.renewed_at_ms > lease.expires_at_ms + FAST.takeover_grace_ms
    assert a.renew(lease) is None


def test_release_hands_over_at_once_with_next_epoch(url: str) -> None:
    a, b = make_store(url), make_store(url)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    assert a.release(lease) is True
    assert a.release(lease) is False
    assert b.current("alpha") is None
    taken = b.acquire("alpha", "node-b")
    assert taken is not None and taken.epoch == 2
    again = a.acquire("alpha", "node-a")
    assert again is None


def test_fenced_commit_is_refused_after_takeover_and_rolled_back(url: str) -> None:
    a, b = make_store(url), make_store(url)
    create_journal(a.db)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    with a.fenced(lease):
        write_journal(a.db, "alpha", lease.epoch, "1 while holding")
    _wait_takeover_allowed(b, lease.expires_at_ms)
    taken = b.acquire("alpha", "node-b")
    assert taken is not None
    lost = "node-a no longer holds account alpha at epoch 1"
    with pytest.raises(LeaseLost, match=lost), a.fenced(lease):
        write_journal(a.db, "alpha", lease.epoch, "2 zombie write")
    with b.fenced(taken):
        write_journal(b.db, "alpha", taken.epoch, "3 new owner")
    assert journal_rows(b.db) == [("alpha", 1, "1 while holding"), ("alpha", 2, "3 new owner")]


def test_fenced_commit_is_refused_once_expired_even_before_takeover(url: str) -> None:
    a = make_store(url)
    create_journal(a.db)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    wait_until(lambda: a.db_now_ms() > lease.expires_at_ms, timeout=5, message="expiry")
    with pytest.raises(LeaseLost), a.fenced(lease):
        write_journal(a.db, "alpha", lease.epoch, "late write")
    assert journal_rows(a.db) == []


def test_a_check_in_a_transaction_begun_before_expiry_sees_the_expiry(pg_url: str) -> None:
    """PostgreSQL's now() is the transaction's start: the lease clock is clock_timestamp()
    (storage/cluster_database.py), so a commit whose transaction began while its lease was
    current is still refused once the lease expired before its check."""
    a, clock = make_store(pg_url), make_store(pg_url)  # `clock`: another connection
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    with a.db.atomic():
        a.db.execute_sql("SELECT 1")  # the transaction has begun
        wait_until(lambda: clock.db_now_ms() > lease.expires_at_ms, timeout=5,
                   message="expiry (database clock)")
        with pytest.raises(LeaseLost):
            a.check("alpha", lease.epoch, "node-a")


def test_check_outside_a_transaction_is_refused(url: str) -> None:
    a = make_store(url)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    with pytest.raises(RuntimeError, match="inside the commit's transaction"):
        a.check("alpha", lease.epoch, "node-a")



def test_postgresql_takeover_waits_for_a_fenced_commit_in_progress(pg_url: str) -> None:
    """The fencing UPDATE holds the lease row until the commit: a takeover that becomes due
    while the old holder's transaction is open waits for it, so the two never interleave."""
    a, b, observer = make_store(pg_url), make_store(pg_url), make_store(pg_url)
    create_journal(a.db)
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    taken: list[Lease | None] = []
    with a.fenced(lease):
        write_journal(a.db, "alpha", lease.epoch, "1 committed under epoch 1")
        _wait_takeover_allowed(observer, lease.expires_at_ms)
        thief = threading.Thread(target=lambda: taken.append(b.acquire("alpha", "node-b")))
        thief.start()
        wait_until(lambda: _waiting_on_lock(observer), timeout=30,
                   message="the takeover blocks on the lease row")
        assert taken == []
    thief.join(30)
    assert not thief.is_alive(), "the takeover did not finish after the commit"
    assert len(taken) == 1 and taken[0] is not None and taken[0].epoch == lease.epoch + 1
    assert journal_rows(observer.db) == [("alpha", 1, "1 committed under epoch 1")]


def _waiting_on_lock(observer: LeaseStore) -> bool:
    # this test's database only: pg_stat_activity lists the whole server, where CI runs 4
    # tests at once, and another test's lease INSERT may be waiting on its own lock
    rows = observer.db.execute_sql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND query LIKE 'INSERT INTO leases%%'").fetchone()
    return bool(rows and rows[0] >= 1)


def test_takeover_in_counts_down_to_expiry_plus_grace(url: str) -> None:
    a, b = make_store(url), make_store(url)
    assert b.takeover_in_s("alpha") == 0.0  # no row: free
    lease = a.acquire("alpha", "node-a")
    assert lease is not None
    due = b.takeover_in_s("alpha")
    assert 0 < due <= (FAST.ttl_ms + FAST.takeover_grace_ms + 1) / 1000
    assert b.acquire("alpha", "node-b") is None
    wait_until(lambda: b.takeover_in_s("alpha") == 0.0, timeout=5, message="takeable")
    assert b.acquire("alpha", "node-b") is not None
    assert a.takeover_in_s("alpha") > 0
    a.release(lease)  # not the holder any more: changes nothing
    assert a.takeover_in_s("alpha") > 0


def test_all_leases_lists_held_accounts_with_the_database_clock(url: str) -> None:
    a, b = make_store(url), make_store(url)
    now, leases = b.all_leases()
    assert leases == [] and now > 0
    alpha = a.acquire("alpha", "node-a")
    beta = b.acquire("beta", "node-b")
    gamma = a.acquire("gamma", "node-a")
    assert alpha and beta and gamma
    a.release(gamma)
    now, leases = b.all_leases()
    assert [(x.account, x.owner, x.epoch) for x in leases] == [("alpha", "node-a", 1),
                                                                ("beta", "node-b", 1)]
    assert all(x.renewed_at_ms <= now < x.expires_at_ms for x in leases)


def test_a_taker_waits_out_the_holders_longer_exchange_timeout(url: str) -> None:
    """Found by review: each node waited its OWN takeover grace (cluster.exchange_timeout_ms)
    after expiry, so a node configured with a shorter timeout than the holder's took the account
    over while the holder's last request (sent just before it stopped) could still be on the
    wire. The row now records its holder's grace, and a taker waits the longer of the two."""
    holder = make_store(url, replace(FAST, request_timeout_s=30.0))
    taker = make_store(url)  # FAST: a 0.5 s grace
    lease = holder.acquire("alpha", "node-a")
    assert lease is not None
    wait_until(lambda: taker.db_now_ms() > lease.expires_at_ms + FAST.takeover_grace_ms + 100,
               timeout=10, message="expiry + the taker's own grace (database clock)")
    assert taker.acquire("alpha", "node-b") is None  # the holder's 30 s are not over
    due, row = taker.takeover_view("alpha")
    assert row is not None and row[0] == "node-a" and 25 < due <= 30
    # the other way round the taker's own longer grace still counts
    short = make_store(url)
    long = make_store(url, replace(FAST, request_timeout_s=30.0))
    beta = short.acquire("beta", "node-a")
    assert beta is not None
    wait_until(lambda: long.db_now_ms() > beta.expires_at_ms + FAST.takeover_grace_ms + 100,
               timeout=10, message="expiry + the holder's grace (database clock)")
    assert long.acquire("beta", "node-b") is None
    assert long.takeover_view("beta")[0] > 25


def test_a_leases_table_of_an_earlier_release_gets_the_grace_column(tmp_path: Path) -> None:
    import peewee

    path = tmp_path / "old.sqlite"
    old = peewee.SqliteDatabase(str(path))
    old.execute_sql(
        "CREATE TABLE leases (account VARCHAR(64) NOT NULL PRIMARY KEY, owner VARCHAR(200), "
        "epoch BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL, renewed_at_ms BIGINT NOT NULL, "
        "last_holder VARCHAR(200), previous_holder VARCHAR(200), "
        "handed_over INTEGER NOT NULL DEFAULT 0)")
    old.execute_sql("INSERT INTO leases VALUES ('alpha', NULL, 4, 0, 0, 'node-x', NULL, 1)")
    old.close()
    store = make_store(str(path))
    lease = store.acquire("alpha", "node-a")
    assert lease is not None and lease.epoch == 5


def test_another_applications_leases_table_gets_no_grace_column(tmp_path: Path) -> None:
    import peewee

    path = tmp_path / "theirs.sqlite"
    theirs = peewee.SqliteDatabase(str(path))
    theirs.execute_sql("CREATE TABLE leases (id INTEGER PRIMARY KEY, tenant TEXT)")
    theirs.close()
    make_store(str(path))
    theirs.connect()
    assert [c.name for c in theirs.get_columns("leases")] == ["id", "tenant"]
    theirs.close()
