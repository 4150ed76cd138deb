"""A person's resume lifts the quarantine that was there when it was asked, never a newer one.

Found by review: the actor lifted whatever quarantine it found when it took `Resume` from its
mailbox. Two resumes asked together (a person asking twice): the first lifted the escalation,
the close failed again until the symbol escalated again, and the second, still queued, lifted
that new escalation although nobody had seen it. Production DecisionLoop (one-way core), real
SQLite, the faulty fake venue of test_stuck_close_escalates.py and the supervisor's real
ResumeTicket (what `bot.py resume` is answered from)."""

from __future__ import annotations

from pathlib import Path

from actors.messages import ExternalSignal
from storage import queries
from supervision.resume_ticket import ResumeTicket
from tests.actors.test_stuck_close_escalates import BUG, WINDOW_S, Bot, open_and_close, raise_


def escalated(tmp_path: Path) -> Bot:
    bot = Bot(tmp_path, "one_way")
    open_and_close(bot, TypeError(BUG), raise_(TypeError(BUG)))
    bot.run(WINDOW_S)
    assert len(bot.escalations) == 1 and bot.loop.state.quarantined
    return bot


def test_a_resume_asked_before_a_new_escalation_does_not_lift_it(tmp_path: Path):
    bot = escalated(tmp_path)
    try:
        first, second = ResumeTicket("alice"), ResumeTicket("alice")  # asked twice, together
        bot.loop.handle(first.message())
        assert not bot.loop.state.quarantined
        assert first.settled and first.refusal is None
        bot.loop.handle(ExternalSignal(side=None, signal_id="out again"))  # closes, fails again
        bot.run(WINDOW_S)
        assert len(bot.escalations) == 2 and bot.loop.state.quarantined
        reason = bot.loop.state.quarantine_reason

        bot.loop.handle(second.message())
        assert bot.loop.state.quarantined, "a resume asked earlier lifted the new escalation"
        assert bot.loop.state.quarantine_reason == reason
        assert second.settled and second.final
        assert second.refusal is not None
        assert second.refusal.startswith(f"{bot.loop.symbol} escalated again"), second.refusal
        assert len(bot.repo.read(queries.events, bot.loop.symbol, "QuarantineLifted")) == 1

        third = ResumeTicket("alice")  # asked after the escalation: lifts it
        bot.loop.handle(third.message())
        assert not bot.loop.state.quarantined
        assert third.settled and third.refusal is None
        assert len(bot.repo.read(queries.events, bot.loop.symbol, "QuarantineLifted")) == 2
    finally:
        bot.repo.close()


def test_a_resumed_symbol_reconciles_before_it_sends_anything(tmp_path: Path):
    """Found by a mutation audit: with the reconciliation after the lift gone
    (actors/resume.py), no test failed. The escalated close had filled on the venue (its
    lookup raised a bug); a person fixed the bug and resumed, and the actor went on holding
    the closed position in its books, its close unbooked, until the next periodic
    reconciliation (300 s for an open symbol of a live venue): the person who just resumed it
    sees a position the venue no longer has. Resumed, the symbol reconciles at once: the
    close's fill is booked as the venue made it, and nothing more is sent."""
    bot = escalated(tmp_path)
    try:
        bot.fx.before.pop("fetch_order")  # the person fixed what made the lookups fail
        creates = bot.calls("create_order")
        ticket = ResumeTicket("alice")
        bot.loop.handle(ticket.message())
        assert ticket.settled and ticket.refusal is None
        assert not bot.position_tracked(), "the books still hold the closed position"
        bot.run(WINDOW_S)
        assert bot.calls("create_order") == creates, "an order sent for a closed position"
        assert bot.ledger() == bot.venue_fills()
    finally:
        bot.repo.close()
