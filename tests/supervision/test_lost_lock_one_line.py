"""An account whose PostgreSQL schema lock another process took (storage/pg_lock.py `LockLost`,
a cluster.lease `LeaseLost`): the bot stops (exit 3), and its actors' commits are refused by
the commit guard meanwhile. Each actor then logged `crashed: LockLost: ...` with a traceback
(seen in tests/storage/test_postgres_account_lock.py's bot.log), and the supervisor counted a
failure ("actor failed in handler"), stopped it and queued a restart under a lock the bot no
longer holds. A lost lease or lock is an expected event with its own handling: one WARNING
line says so, the actor handles nothing more, no failure is counted and no restart queued.
Real pykka actors, the real supervisor, a real PostgreSQL server (BOT_TEST_PG_URL)."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from pathlib import Path

import psycopg

from actors.messages import ExternalSignal, Ping
from storage.pg_lock import SchemaLock, lock_keys
from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_actor_whose_lock_was_taken_says_one_line_and_is_not_restarted(
        tmp_path, pg_url, lines, caplog) -> None:  # noqa: F811
    lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=1.0)
    lock.acquire()
    lost = threading.Event()
    lock.keep(lambda reason: lost.set())

    def on_pg(path: Path, synchronous: str) -> Repository:
        return Repository(url=pg_url, schema="bot_main", commit_guard=lock.check_in)

    h = Harness(tmp_path, [BTC], repository=on_pg).start()  # type: ignore[arg-type]
    thief = psycopg.connect(pg_url, autocommit=True)
    try:
        child = h.child(BTC)
        # another process takes the lock: its session is cut, and the thief takes it first
        thief.execute("SELECT pg_terminate_backend(%s)", (lock._backend,))
        wait_until(lambda: thief.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                         lock_keys("bot_main")).fetchone()[0],
                   timeout=10, message="the thief holds the lock")
        wait_until(lost.is_set, timeout=20, message="the bot saw its lock taken")
        caplog.set_level(logging.ERROR, logger="pykka")
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=Decimal("100")))
        wait_until(lambda: any("LockLost" in line for line in lines), timeout=10,
                   message="the actor's commit was refused")
        said = [line for line in lines if "LockLost" in line]
        assert len(said) == 1 and "WARNING" in said[0], said
        assert "taken by another process" in said[0] and "not a crash" in said[0], said
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # alive, answering its beats
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s2", size_usdt=Decimal("100")))
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # that one skipped, unsaid
        assert len([line for line in lines if "LockLost" in line]) == 1, lines
        assert not [line for line in lines if "crashed" in line or "Traceback" in line
                    or "actor failed" in line or "restarting" in line], lines
        assert not [r for r in caplog.records if r.name == "pykka"], caplog.records
        assert child.last_failure is None and child.restart_at is None
        assert child.state.value == "running" and child.restarts == 0
    finally:
        thief.close()
        h.sup.stop(timeout_s=10)
        h.closer.wait()
        h.repo.close(writer_timeout_s=5)
        h.paper.close()
        lock.release()
