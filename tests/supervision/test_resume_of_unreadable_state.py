"""`bot.py resume` of a symbol whose state still cannot be read is answered "not resumed", not
"resumed": its resumed start fails the same way and quarantines it again before any lift.

Found by review: the row was marked done "resumed (was quarantined)" as soon as the resume was
in the supervisor's inbox; the new incarnation's restore raised CorruptRow, the symbol was
quarantined again, and the person read that it trades again. Now the supervisor refuses the
resume when the child is given up before the lift is stored (supervision/resume_ticket.py).
Real pykka actors, the real supervisor and applier, real SQLite, the paper exchange."""

from __future__ import annotations

import sqlite3

from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_a_resume_whose_start_fails_again_is_answered_not_resumed(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC, ETH]).start()
    h.stop()
    repo = Repository(tmp_path / "bot.sqlite")
    repo.record(ETH, "SignalReceived", {"signal_id": "s1", "side": "long"}, correlation_id="s1")
    repo.close()
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE events SET data='{\"signal_id\": garbage' WHERE correlation_id='s1'")
    con.commit()
    con.close()
    h = Harness(tmp_path, [BTC, ETH], clock=h.clock).start()
    try:
        wait_until(lambda: h.child(ETH).state.value == "quarantined"
                   and h.sup.records.pending(ETH) == 0, message="ETH quarantined, stored")
        cid = control.request(h.repo, "resume", ETH, by="cli")
        applier = ControlApplier(repo=h.repo, sup=h.sup, log=logger)

        def answer() -> str | None:
            applier.apply()
            row = h.repo.read(lambda: ControlRow.get_by_id(cid))
            return row.result if row.done_at is not None else None
        result = wait_until(answer, timeout=30, message="the resume answered")
        assert result.startswith("not resumed: escalated again before the resume was stored"), \
            result
        assert h.child(ETH).state.value == "quarantined"
    finally:
        h.stop()
