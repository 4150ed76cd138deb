"""An actor still running when its account's repository is closed (a stuck actor past the
bot's stop, or a message queued behind it) meets the stopped database writer on its next
commit: `crashed: WriterStopped: database writer is stopped` with a traceback, pykka's own
traceback beside it, and a failure counted by the supervisor (found by the storage review).
The account is stopping: one WARNING line says so, and the actor handles nothing more.
Real pykka actors, the real supervisor, real SQLite."""

from __future__ import annotations

import logging
from decimal import Decimal

from actors.messages import ExternalSignal, Ping
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_actor_meeting_the_closed_database_says_one_line(tmp_path, lines, caplog) -> None:
    h = Harness(tmp_path, [BTC]).start()
    try:
        child = h.child(BTC)
        assert h.repo.close(writer_timeout_s=5)  # the account stops; this actor lingers
        caplog.set_level(logging.ERROR, logger="pykka")
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=Decimal("100")))
        wait_until(lambda: any("writer is stopped" in line for line in lines),
                   message="the actor met the stopped writer")
        said = [line for line in lines if "writer is stopped" in line]
        assert "WARNING" in said[0] and "the account is stopping" in said[0], said
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # alive, answering its beats
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s2", size_usdt=Decimal("100")))
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # that one skipped, unsaid
        assert len([line for line in lines if "writer is stopped" in line]) == 1, lines
        assert not [line for line in lines if "crashed" in line or "Traceback" in line], lines
        assert not [r for r in caplog.records if r.name == "pykka"], caplog.records
        assert child.last_failure is None and child.restart_at is None
    finally:
        h.sup.stop(timeout_s=10)
        h.closer.wait()
        h.paper.close()
