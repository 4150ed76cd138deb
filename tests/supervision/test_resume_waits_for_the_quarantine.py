"""`bot.py resume` of a symbol whose quarantine is still being stored waits for it, instead of
answering "resumed" while nothing is resumed.

Found by review: the supervisor refuses a resume while the symbol's quarantine record is not
stored yet (a later write would quarantine the resumed actor again), with one ERROR line. The
control applier had already answered "resumed (was quarantined)", marked the row done and
resolved the escalations: the person was told the symbol trades again while it stayed
quarantined. Now the row stays pending until the quarantine is stored, then is applied. Real
supervisor, actors, SQLite; the repository's quarantine write fails until the test lets it."""

from __future__ import annotations

import threading

from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class QuarantineFails(Repository):
    stored = threading.Event()

    def quarantine(self, symbol: str, reason: str, *, correlation_id: str) -> None:
        if not self.stored.is_set():
            raise RuntimeError("the database server did not answer within 10s")
        super().quarantine(symbol, reason, correlation_id=correlation_id)


class CrashWhenArmed:
    name = "crash-when-armed"
    armed = [True]

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.armed[0]:
            raise ActorBug("bug on every price")
        return None


def result(h: Harness, cid: int) -> str | None:
    return h.repo.read(lambda: ControlRow.get_by_id(cid).result)


def test_a_resume_waits_until_the_quarantine_is_stored(tmp_path):
    QuarantineFails.stored = threading.Event()
    CrashWhenArmed.armed = [True]
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: CrashWhenArmed(),
                repository=QuarantineFails,
                policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        h.clock.advance(1.0)
        h.poll()  # the first crash escalates (max_restarts 0); its quarantine cannot be stored
        wait_until(lambda: h.child(BTC).state.value == "quarantined"
                   and h.sup.records.pending(BTC) > 0, message="quarantined, not stored")
        CrashWhenArmed.armed[0] = False
        cid = control.request(h.repo, "resume", BTC)
        applier = ControlApplier(repo=h.repo, sup=h.sup, log=logger)
        applier.apply()
        assert result(h, cid) is None  # pending: not answered "resumed"
        QuarantineFails.stored.set()
        wait_until(lambda: h.sup.records.pending(BTC) == 0, message="the quarantine stored")
        # answered once the resumed actor has stored the lifted quarantine (resume_ticket.py)
        wait_until(lambda: applier.apply() or result(h, cid) == "resumed (was quarantined)",
                   message="answered resumed")
        wait_until(lambda: h.child(BTC).state.value == "running", message="resumed")
        wait_until(lambda: h.view(BTC) is not None and not h.view(BTC).quarantined,
                   message="the quarantine lifted")
    finally:
        QuarantineFails.stored.set()
        h.stop()
