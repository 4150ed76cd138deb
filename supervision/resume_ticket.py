"""A person's resume as the supervisor settles it, for whoever answers the person.

Found by review: `bot.py resume` was answered "resumed" (the control row marked done, the
journal's ControlApplied) once the resume was put in the supervisor's in-memory inbox. A kill
before the resumed actor stored the lifted quarantine left the symbol quarantined under a row
that said resumed and was never applied again; a resume the supervisor refused (the bot
stopping, the quarantine not stored yet, the symbol escalated again first) said resumed too.
Now `Supervisor.resume` returns this ticket: settled `lifted` once the actor has committed
QuarantineLifted, or refused with the reason (final: the symbol escalated again; else it may
be handed over again). The control applier (runtime/controls.py) answers from it."""

from __future__ import annotations

import threading
import time

from actors.messages import Resume


class ResumeTicket:
    def __init__(self, by: str) -> None:
        self.by = by
        self.asked_ns = time.monotonic_ns()
        """When the person's resume was asked: it lifts no quarantine that began later
        (actors/resume.py)."""
        self._lock = threading.Lock()
        self._settled = False
        self.refusal: str | None = None
        """Why it was not applied (None: lifted, or not settled yet)."""
        self.final = False
        """A refusal that stands (the symbol escalated again): not handed over again."""
        self._with: list[ResumeTicket] = []

    def absorb(self, earlier: ResumeTicket | None) -> None:
        """A second resume of the child while an `earlier` one waits (a person asking again):
        it replaces it on the child, and settles it with itself (found by review: the earlier
        one was dropped and its control row stayed pending for good)."""
        if earlier is not None and earlier is not self and not earlier.settled:
            self._with.append(earlier)

    @property
    def settled(self) -> bool:
        with self._lock:
            return self._settled

    def lifted(self) -> None:
        """The actor committed the lifted quarantine (its mailbox, after the commit)."""
        self._settle(None, final=True)

    def refused(self, why: str, *, final: bool = False) -> None:
        self._settle(why, final=final)

    def escalated_again(self, why: str) -> None:
        """The actor found a quarantine newer than this resume: it stands (final)."""
        self._settle(why, final=True)

    def message(self) -> Resume:
        """What the actor is told: settles this ticket either way."""
        return Resume(by=self.by, done=self.lifted, refused=self.escalated_again,
                      asked_ns=self.asked_ns)

    def _settle(self, refusal: str | None, *, final: bool) -> None:
        with self._lock:
            if self._settled:  # the first word stands
                return
            self._settled, self.refusal, self.final = True, refusal, final
            earlier, self._with = self._with, []
        for ticket in earlier:
            ticket._settle(refusal, final=final)
