"""Opening an account's storage on PostgreSQL takes no table lock once the schema exists: a
new owner (a takeover) must not wait behind a transaction the old owner left open, e.g. a
zombie node stopped between its INSERT and its COMMIT (seen in the zombie test under load: the
takeover waited 33 s, then PostgreSQL reported a deadlock). And a transaction a stopped writer
left open is ended by the server, wherever in the commit it stopped."""

from __future__ import annotations

import threading

import peewee
import psycopg
import pytest
from psycopg.adapt import Dumper

from storage.cluster_database import IDLE_IN_TRANSACTION_MS, open_postgres
from storage.database import open_postgres_database
from storage.sql_conn import raw_connection
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
SCHEMA = "bot_acct0"


@pytest.mark.parametrize("table", ["orders", "events", "actor_state"])
def test_a_new_owner_opens_while_the_old_one_holds_a_write_transaction(pg_url, table):
    open_postgres_database(pg_url, SCHEMA).close()
    with psycopg.connect(pg_url) as old_owner:  # a transaction, as the old owner's commit
        old_owner.execute(f'LOCK TABLE "{SCHEMA}"."{table}" IN ROW EXCLUSIVE MODE')  # = INSERT
        opened: list[object] = []
        failed: list[BaseException] = []

        def open_again() -> None:
            try:
                db = open_postgres_database(pg_url, SCHEMA, network_timeout_s=30)
                opened.append(db)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                failed.append(exc)

        thread = threading.Thread(target=open_again, daemon=True)
        thread.start()
        thread.join(15)
        blocked = thread.is_alive()
        old_owner.rollback()  # lets a blocked opener finish either way
        thread.join(30)
    assert not blocked, f"opening the storage waited behind the old owner's lock on {table}"
    assert not failed and len(opened) == 1
    opened[0].close()  # type: ignore[attr-defined]


def test_a_session_left_inside_a_transaction_is_ended_by_the_server(pg_url):
    """A process stopped inside a transaction (SIGSTOP, a frozen VM) holds its locks until the
    server ends its session: the bot's connections ask the server to do that after
    IDLE_IN_TRANSACTION_MS, so a waiting writer gets the lock instead of waiting forever."""
    stuck = open_postgres(pg_url, search_path="public")
    stuck.execute_sql("CREATE TABLE held (x INT)")
    stuck.execute_sql("BEGIN")
    stuck.execute_sql("LOCK TABLE held IN ROW EXCLUSIVE MODE")  # and then nothing more
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute(f"SET lock_timeout = {IDLE_IN_TRANSACTION_MS * 3}")
        with other.transaction():
            other.execute("LOCK TABLE held IN SHARE MODE")  # raises LockNotAvailable if held on
    with pytest.raises(peewee.DatabaseError, match="idle-in-transaction"):
        stuck.execute_sql("SELECT 1")  # the server ended the stuck session


class Frozen:
    """A value whose adaptation blocks until `go` is set: the writer is stopped right there,
    between the rows of one `executemany` (as SIGSTOP stops a process at any instruction)."""

    def __init__(self, reached: threading.Event, go: threading.Event) -> None:
        self.reached, self.go = reached, go


class FrozenDumper(Dumper):
    oid = psycopg.adapters.types["text"].oid

    def dump(self, obj: Frozen) -> bytes:
        obj.reached.set()
        obj.go.wait(60)
        return b"frozen"


def test_a_writer_stopped_inside_a_many_row_write_holds_no_lock_past_the_idle_timeout(pg_url):
    """The commit hot path writes a decision's journal and fills with `executemany`
    (storage/commit_sql.py) through `PgConn`. psycopg's own runs in pipeline mode: a writer
    stopped between its statements left the server session active, its transaction's row locks
    held for good (the idle-in-transaction timeout is armed only at a Sync): the zombie
    cluster test's survivor waited behind it on every start. Stopped there now, the session is
    idle in its transaction, and the server ends it."""
    db = open_postgres(pg_url, search_path="public")
    db.execute_sql("CREATE TABLE state (id INT PRIMARY KEY, x INT)")
    db.execute_sql("CREATE TABLE journal (symbol TEXT, data TEXT)")
    db.execute_sql("INSERT INTO state VALUES (1, 0)")
    reached, go = threading.Event(), threading.Event()
    rows = [("BTC", "a"), ("BTC", "b"), ("BTC", Frozen(reached, go)), ("BTC", "d")]

    def commit() -> None:  # as the repository's writer thread commits (storage/writer.py)
        try:
            with db.atomic():
                conn = raw_connection(db)
                conn._conn.adapters.register_dumper(Frozen, FrozenDumper)  # type: ignore[attr-defined]
                conn.execute("UPDATE state SET x = x + 1 WHERE id = ?", (1,))  # the row lock
                conn.executemany("INSERT INTO journal (symbol, data) VALUES (?,?)", rows)
        except peewee.PeeweeException:
            pass  # the server ended the stopped session: this commit fails, as it must

    writer = threading.Thread(target=commit, daemon=True)
    writer.start()
    try:
        assert reached.wait(30), "the writer never reached the frozen row"
        with psycopg.connect(pg_url, autocommit=True) as other:
            other.execute(f"SET lock_timeout = {IDLE_IN_TRANSACTION_MS * 3}")
            other.execute("UPDATE state SET x = 100 WHERE id = 1")  # LockNotAvailable if held on
            assert other.execute("SELECT count(*) FROM journal").fetchone() == (0,)
    finally:
        go.set()
        writer.join(30)
