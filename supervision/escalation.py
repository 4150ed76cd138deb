"""The supervisor's escalations and kill switch (a mixin of `Supervisor`, split out of
supervision/supervisor.py to keep it readable): a symbol quarantined for unreadable state, the
one emergency close of every escalation, its alert, the global kill switch it may trip, and a
person's resume of a quarantined symbol."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pykka

from actors.messages import BlockEntries, Reconcile
from storage.repository import Repository
from storage.restore import UNREADABLE
from supervision.alerts import Alerts
from supervision.child import Child, ChildState
from supervision.reconcile_only import ReconcileOnly
from supervision.record_keeper import RecordKeeper
from supervision.records import KILL_SWITCH_WHY, kill_switch_unstored
from supervision.resume_ticket import ResumeTicket
from supervision.watch import failure_text

KILL_SWITCH_RECORD = "*kill switch*"
"""The kill switch's record among the symbols' (supervision/record_keeper.py)."""


class Escalating:
    """The escalation half of `Supervisor` (its attributes are the supervisor's)."""

    children: dict[str, Child]
    repo: Repository
    alerts: Alerts
    log: Any
    clock: Callable[[], float]
    records: RecordKeeper
    emergency_close: Callable[[str, str, Callable[[], object]], None] | None
    escalations: list[dict[str, Any]]
    kill_switch: bool
    kill_switch_why: dict[str, Any] | None
    kill_switch_escalations: int
    kill_switch_window_s: float
    kill_switch_store_s: float
    _still_open: set[tuple[str, str, str | None]]
    _stopping: threading.Event
    reconcile_only: ReconcileOnly

    def tell(self, symbol: str, message: Any) -> bool:
        raise NotImplementedError

    def _post(self, item: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def _spawn(self, child: Child, restarting: bool = False) -> None:
        raise NotImplementedError

    def _keep_history(self, child: Child) -> None:
        raise NotImplementedError

    def _quarantine_unreadable(self, child: Child, error: str, at: float) -> None:
        """Unreadable persisted state: restarting would fail the same way, so the symbol is
        quarantined at once; every other symbol keeps running (incident 7)."""
        child.last_failure = {"time": at, "error": error[:500], "where": "restore"}
        child.restart_at = None
        self.drop_resume(child, "unreadable persisted state")
        cid, why, sym = uuid.uuid4().hex[:16], "unreadable persisted state", child.symbol
        log = self.log.bind(symbol=sym)
        log.error("state cannot be restored, symbol quarantined: {}", error)
        quarantine = partial(self.repo.quarantine, sym, f"{UNREADABLE}: {error}",
                             correlation_id=cid)
        if (sym, why, error) in self._still_open:  # escalated by an earlier run, unresolved
            self._still_open.discard((sym, why, error))  # a person resumes: a new one counts
            log.error("its escalation from an earlier run is still open: not raised again")
            self.records.add(log, "the quarantine", quarantine, must=True, symbol=sym)
            child.state = ChildState.QUARANTINED  # after the record: as in _fail
            return
        self.records.add(log, "the quarantine", quarantine,
                         lambda: self.repo.add_escalation(sym, why, 0, error, at), must=True,
                         symbol=sym)
        child.state = ChildState.QUARANTINED  # after the record: as in _fail
        # no emergency close: the position is not understood, its exchange stop keeps protecting
        self._on_escalation(sym, why, 0, error, at, close=False)

    def _on_escalation(self, symbol: str, reason: str, attempts: int, error: str | None,
                       at: float, close: bool = True) -> None:
        """Every escalation of every style: the one emergency close (runtime/emergency.py), then
        a reconciliation of the symbol's actor if it runs; an alert; maybe the kill switch."""
        if close and self.emergency_close is not None:
            try:  # its failure must not cost the record, the alert and the kill switch's count
                self.emergency_close(symbol, reason, partial(self.after_close, symbol))
            except Exception as exc:  # noqa: BLE001 - one line, not the supervisor's error
                self.log.bind(symbol=symbol).error(
                    "emergency close not started ({}): the position stays open behind its "
                    "exchange stop",
                    failure_text(exc))
        self.escalations.append({"symbol": symbol, "reason": reason, "attempts": attempts,
                                 "last_error": error, "time": at})
        self.alerts.alert(symbol, "escalation", reason, attempts=attempts, last_error=error)
        # distinct symbols, not records: one symbol that a person resumes into the same crash loop
        # a few times is one problem, not several (issue 16 item 12)
        # only the window's are kept (found by review: the list grew for good over a long run)
        self.escalations[:] = [
            e for e in self.escalations if at - e["time"] <= self.kill_switch_window_s]
        recent = {e["symbol"] for e in self.escalations}
        if len(recent) > self.kill_switch_escalations and not self.kill_switch:
            self.trip_kill_switch(
                f"{len(recent)} symbols escalated within {self.kill_switch_window_s:.0f}s"
            )

    def drop_resume(self, child: Child, why: str) -> None:
        """The child is given up again before a resume was stored: the resume is refused."""
        if child.resume_by is not None:
            child.resume_by.refused(f"escalated again before the resume was stored ({why})",
                                    final=True)
        child.resume_by = None

    def _on_resume(self, child: Child, ticket: ResumeTicket, at: float) -> None:
        by = ticket.by
        if child.state is ChildState.QUARANTINED:
            if self._stopping.is_set():  # nothing starts once the bot stops (found by review:
                # a resume read meanwhile started an actor while the repository was closing)
                self.log.bind(symbol=child.symbol).warning(
                    "resume by {} not applied: the bot is stopping; the symbol stays "
                    "quarantined (its control row is applied at the next start)", by)
                ticket.refused("the bot is stopping")
                return
            # its quarantine stored after the resume would quarantine the new incarnation again
            if not self.records.wait_stored(child.symbol, timeout_s=1.0):
                self.log.bind(symbol=child.symbol).error(
                    "resume by {} refused: the quarantine is not stored yet; resume again", by)
                ticket.refused("the quarantine is not stored yet")
                return
            child.history = type(child.history)()
            self._keep_history(child)  # a person's resume starts it over after a restart too
            ticket.absorb(child.resume_by)
            child.resume_by = ticket  # told once one starts (a failed start would drop it)
            self.reconcile_only.stop(child.symbol)  # the resumed actor reconciles
            self._spawn(child, restarting=True)
            return
        ticket.absorb(child.resume_by)  # a resume asked again settles the earlier one too
        child.resume_by = ticket  # told again to the next incarnation if this one fails first
        if child.ref is not None and child.state is ChildState.RUNNING:
            with contextlib.suppress(pykka.ActorDeadError):
                child.ref.tell(ticket.message())
                return
        # backing off (its ref is the failed actor): found by review, the resume was told to the
        # dead actor and lost, and the restarted one stayed quarantined; starting: its mailbox
        # is dropped if the start fails (found by review, the same loss). Now the incarnation
        # that reports its start is told (as in the quarantined case above)

    def after_close(self, symbol: str) -> bool:
        """An emergency close ended (its thread): the symbol's actor reconciles; one that does
        not run (a crash loop stopped it) gets a reconcile-only run (False: not told)."""
        if self.tell(symbol, Reconcile(reason="emergency close")):
            return True
        self._post(("closed", symbol))
        return False

    def trip_kill_switch(self, reason: str) -> None:
        # the record first: a reset on another thread that sees kill_switch set waits for it
        # (wait_stored), so a "1" stored after the reset's "0" cannot trip it again at restart
        # its reason and time are kept with it (found by review: the dump showed only
        # `kill_switch: true`, a person could not tell why or since when)
        why = {"reason": reason, "at": self.clock()}
        self.records.add(self.log, "the kill switch",
                         lambda: self.repo.set_meta(KILL_SWITCH_WHY, json.dumps(why)),
                         lambda: self.repo.set_meta("kill_switch", "1"), must=True,
                         symbol=KILL_SWITCH_RECORD)
        self.kill_switch_why = why
        self.kill_switch = True
        self.alerts.alert(None, "kill_switch", f"kill switch: no new entries anywhere ({reason})")
        for child in self.children.values():
            if child.ref is not None:
                with contextlib.suppress(pykka.ActorDeadError):
                    child.ref.tell(BlockEntries(blocked=True, reason="kill switch"))

    def kill_switch_stored(self) -> str | None:
        """A person's kill switch is answered once stored (records.kill_switch_unstored)."""
        return kill_switch_unstored(self.records, KILL_SWITCH_RECORD, self.kill_switch_store_s)

    def reset_kill_switch(self, by: str) -> None:
        """A person lifts the kill switch; escalations so far no longer count toward tripping
        it again. Entries are allowed again by whoever blocks them per symbol (protections/)."""
        # or "1" lands after; bounded as the switch's own answer: this runs on the account's run
        # loop, whose status, heartbeat and protections a 30 s wait held still (found by review)
        wait_s = self.kill_switch_store_s
        if not self.records.wait_stored(KILL_SWITCH_RECORD, timeout_s=wait_s):
            raise RuntimeError(f"the kill switch is still being stored (not within {wait_s:g}s); "
                               "reset it again")
        # stored first (found by review: lifted in memory first, a failed write answered the
        # person with an error while entries were allowed here); the reset mark before "0": a
        # switch stored off never counts the escalations it was reset from again at restart
        try:
            self.repo.set_meta("kill_switch_reset", repr(self.clock()))
            self.repo.set_meta("kill_switch", "0")
            self.repo.set_meta(KILL_SWITCH_WHY, "")
        except TimeoutError as exc:  # the run loop's bound (protections/guard.py STORE_S)
            raise RuntimeError(f"the kill switch reset was not stored ({exc}): the switch "
                               "stays on; reset it again") from exc
        self.kill_switch = False
        self.kill_switch_why = None
        self.escalations = []
        self.log.warning("kill switch reset by {}", by)
