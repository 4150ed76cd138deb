"""A person who resumes a quarantined symbol twice (the first answer not come yet) gets both
rows answered once the resumed actor has stored the lift.

Found by review: the second resume replaced the first on the restarting child, so only the
second was told to the actor and settled; the first row stayed "resuming" in the control table
for the rest of the run. Real supervisor, applier, actors, SQLite and paper exchange; the
resumed actor's start is held in an exchange call until both resumes reached the supervisor."""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow
from supervision.restart_policy import RestartPolicy
from supervision.resume_ticket import ResumeTicket
from tests.support.crashing import ActorBug
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class CrashWhenArmed:
    name = "crash-when-armed"

    def __init__(self, armed: list[bool]) -> None:
        self.armed = armed

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.armed[0]:
            raise ActorBug("bug on every price")
        return None


def test_two_resumes_of_a_restarting_symbol_are_both_answered(tmp_path):
    armed, hold, held = [True], threading.Event(), threading.Event()

    def wrap(paper: Any) -> FaultyExchange:
        fx = FaultyExchange(paper)

        def held_start(name: str, args: tuple, kwargs: dict) -> None:
            if not armed[0] and threading.current_thread().name.startswith("SymbolActor"):
                held.set()
                hold.wait(30)  # the resumed actor's start waits in an exchange call
        fx.before["fetch_positions"] = held_start
        return fx

    h = Harness(tmp_path, [BTC], wrap=wrap, strategy_for=lambda s: CrashWhenArmed(armed),
                policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        h.clock.advance(1.0)
        h.poll()  # the first crash escalates (max_restarts 0)
        wait_until(lambda: h.child(BTC).state.value == "quarantined"
                   and h.sup.records.pending(BTC) == 0, message="quarantined and stored")
        armed[0] = False
        applier = ControlApplier(repo=h.repo, sup=h.sup, log=logger)
        first = control.request(h.repo, "resume", BTC, by="cli")
        applier.apply()
        wait_until(held.is_set, message="the resumed actor's start held")
        second = control.request(h.repo, "resume", BTC, by="cli")  # asked again meanwhile
        applier.apply()
        wait_until(lambda: h.child(BTC).resume_by is applier._tickets[second][0],
                   message="the second resume reached the supervisor")
        hold.set()

        def answers() -> list[str | None] | None:
            applier.apply()
            rows = h.repo.read(lambda: {r.id: r.result for r in ControlRow.select()
                                        if r.done_at is not None})
            return [rows.get(first), rows.get(second)] if len(rows) == 2 else None
        assert wait_until(answers, timeout=30, message="both resumes answered") == [
            "resumed (was quarantined)", "resumed (was quarantined)"]
    finally:
        hold.set()
        h.stop()


def test_a_settled_resume_keeps_its_first_word() -> None:
    # found by the mutation audit: letting a later word replace the first passed every test.
    # A resume lifted, then the symbol escalating again before the next start cleared the
    # child's ticket (escalation.drop_resume), would turn a stored lift into "refused" for the
    # person, and the resume asked earlier that it settled would keep the lift
    earlier, ticket = ResumeTicket("first"), ResumeTicket("second")
    ticket.absorb(earlier)
    ticket.message().done()  # the actor committed QuarantineLifted
    ticket.refused("escalated again before the resume was stored (x)", final=True)
    assert ticket.settled and ticket.refusal is None and ticket.final
    assert earlier.settled and earlier.refusal is None
