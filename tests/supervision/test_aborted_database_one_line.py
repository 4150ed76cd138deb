"""A cluster account whose lease lapsed is stopped with its database calls aborted
(runtime/node_accounts.py `NodeAccount.stop`: each call in flight fails at once, a new one is
refused). An actor caught mid-message then failed on its next database call: `crashed:
OperationalError: database closed: its calls were aborted` with a traceback in the symbol's
log, pykka's own `Unhandled exception in SymbolActor` traceback beside it, and a failure
reported to the supervisor, which counted it and queued a restart on the aborted database.
The account is stopping: one WARNING line says so, and the actor handles nothing more.
Real pykka actors, the real supervisor, a real PostgreSQL server (BOT_TEST_PG_URL)."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from actors.messages import ExternalSignal, Ping
from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_actor_meeting_the_aborted_database_says_one_line(
        tmp_path, pg_url, lines, caplog) -> None:  # noqa: F811
    def on_pg(path: Path, synchronous: str) -> Repository:
        return Repository(url=pg_url, schema="bot_main")

    h = Harness(tmp_path, [BTC], repository=on_pg).start()  # type: ignore[arg-type]
    try:
        child = h.child(BTC)
        h.repo.abort()  # the account stops: its lease lapsed
        caplog.set_level(logging.ERROR, logger="pykka")
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=Decimal("100")))
        wait_until(lambda: any("aborted" in line for line in lines),
                   message="the actor met the aborted database")
        said = [line for line in lines if "aborted" in line]
        assert "WARNING" in said[0] and "the account is stopping" in said[0], said
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # alive, answering its beats
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s2", size_usdt=Decimal("100")))
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # that one skipped, unsaid
        said = [line for line in lines if "aborted" in line]
        assert len(said) == 1, said
        assert not [line for line in lines if "crashed" in line or "Traceback" in line], lines
        assert not [r for r in caplog.records if r.name == "pykka"], caplog.records
        assert child.last_failure is None and child.restart_at is None
        assert child.state.value == "running"
    finally:
        h.sup.stop(timeout_s=10)
        h.closer.wait()
        h.repo.close(writer_timeout_s=5)
        h.paper.close()

