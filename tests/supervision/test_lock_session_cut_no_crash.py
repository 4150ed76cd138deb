"""A bot on PostgreSQL whose schema lock session is cut (a network blip, a server restart,
pg_terminate_backend) while no other process takes the lock: its actors go on committing and
trading; the keeper takes the lock again. Found by review: the commit guard refused every
commit from the cut on (`is no longer held by its session`), each actor crashed with a
traceback at its next decision and was restarted and failed again at its start, counted, up
to the escalation (quarantine, alert, emergency close) with the harness's fast restart policy;
though no second bot can run the account without the lock. Only a lock another session holds
fences (tests/storage/test_postgres_lock_fences.py). Real pykka actors, the real supervisor, a
real PostgreSQL server (BOT_TEST_PG_URL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg

from actors.messages import ExternalSignal
from storage.pg_lock import SchemaLock
from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_actor_goes_on_trading_through_a_cut_of_its_lock_session(
        tmp_path, pg_url, lines) -> None:  # noqa: F811
    lock = SchemaLock(pg_url, "bot_main", "account main", grace_s=1.0)
    lock.acquire()

    def on_pg(path: Path, synchronous: str) -> Repository:
        return Repository(url=pg_url, schema="bot_main", commit_guard=lock.check_in)

    h = Harness(tmp_path, [BTC], repository=on_pg).start()  # type: ignore[arg-type]
    try:
        child = h.child(BTC)
        cut = lock._backend
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(%s)", (cut,))
            wait_until(lambda: con.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                           (cut,)).fetchone()[0] == 0,
                       timeout=10, message="the lock's session gone")
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=Decimal("100")))
        wait_until(lambda: any("PositionOpened" in line for line in lines)
                   or any("LockLost" in line for line in lines), timeout=20,
                   message="the entry decided")
        assert not [line for line in lines if "LockLost" in line or "crashed" in line
                    or "Traceback" in line], lines
        assert child.restarts == 0 and child.state.value == "running"
        lock.keep(lambda reason: None)  # the keeper finds the cut and takes the lock again
        wait_until(lambda: lock._backend != cut, timeout=20, message="the lock taken again")
    finally:
        h.sup.stop(timeout_s=10)
        h.closer.wait()
        h.repo.close(writer_timeout_s=5)
        h.paper.close()
        lock.release()
