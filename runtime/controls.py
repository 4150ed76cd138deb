"""Applying the controls queued by ``bot.py resume`` / ``bot.py signal`` (the control table).

A signal queued while the bot was stopped reaches an actor that is still starting when the run
loop first looks: it waits (stays pending) until the actor runs, and only after ``WAIT_S`` or
when the symbol is quarantined is it journaled as skipped with that reason (issue 16 item 13).
A signal past its `expires_at` (storage/control.py SIGNAL_TTL_S after `bot.py signal` queued
it) is dropped instead: marked done as expired, journaled (ControlApplied) and logged.
`resume` of a symbol that is not stopped changes nothing and says so; one that is, is answered
"resumed" once the supervisor has stored the lifted quarantine (pending until then).
One row that cannot be read or applied is marked done with a one-line error naming the row and
never blocks the rows after it. On a cluster node whose lease on the account ended, the commits
are refused (LeaseLost): the round stops there and the rows stay queued for the lease's holder."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from actors.messages import ExternalSignal
from cluster.lease import LeaseLost
from observability.error_text import describe
from protections.guard import STORE_S
from runtime.emergency import OWED
from signals.limits import size_cap
from storage import control, queries
from storage.repository import Repository
from storage.writer import writes_within
from supervision.child import ChildState
from supervision.resume_ticket import ResumeTicket
from trading.model import Side
from trading.primitives import decimal_text

WAIT_S = 60.0
"""How long a queued signal waits for its actor to run (a start, a restart, a backoff)."""
_MAY_COME_UP = (ChildState.STARTING, ChildState.RESTARTING, ChildState.BACKING_OFF)


class ControlApplier:
    def __init__(self, *, repo: Repository, sup: Any, log: Any, wait_s: float = WAIT_S,
                 clock: Callable[[], float] = time.monotonic, guard: Any = None,
                 journal: Callable[..., None] | None = None,
                 wall: Callable[[], float] = time.time,
                 max_size_usdt: Decimal | None = None, store_s: float = STORE_S) -> None:
        """`guard`: the account's protections (pause, kill switch, protection resets: the
        dashboard's controls), asked first; `journal`: records who applied what, when;
        `max_size_usdt`: signals.max_size_usdt as configured now (a queued size is judged
        again against it: the cap may have been lowered since the CLI queued the row)."""
        self.repo = repo
        self.sup = sup
        self.log = log
        self.guard = guard
        self.journal = journal
        self.wait_s = wait_s
        self.clock = clock
        self.wall = wall
        """Epoch seconds, for a signal's `expires_at` (`clock` measures the waits)."""
        self.max_size_usdt = max_size_usdt
        self.store_s = store_s
        """How long a row's journal line and done mark wait for the database (the run loop)."""
        self._waiting_since: dict[int, float] = {}
        self._unmarked: dict[int, str] = {}
        """Rows applied whose done mark is not stored yet -> their result."""
        self._beginning: set[int] = set()
        """Resume rows whose first half timed out in the writer (it may still commit)."""
        self._tickets: dict[int, tuple[ResumeTicket, str]] = {}
        """Resume rows handed to the supervisor, not stored yet -> (its ticket, what it lifts)."""

    def apply(self, only: Callable[[str], bool] | None = None) -> None:
        """`only`: the commands to apply now; the others stay queued for a later round."""
        rows, problems = control.take_readable(self.repo)
        for problem in problems:
            self.log.error("{}", problem)
        for cid, command, symbol, args in rows:
            if only is not None and not only(command):
                continue
            if cid in self._unmarked:  # applied already: only its done mark is owed
                if not self._mark(cid, self._unmarked[cid]):
                    return
                continue
            try:
                if self.guard is not None and self.guard.handles(command):
                    result = self.guard.apply(command, symbol, args)
                else:
                    result = self._apply_one(cid, command, symbol, args)
            except LeaseLost:
                raise  # a cluster node's lease ended: the row is left for the lease's holder
            except Exception as exc:  # noqa: BLE001 - one bad row never blocks the others
                result = f"control row {cid} ({command} {symbol}): {type(exc).__name__}: {exc}"
                self.log.error("{}", result)
            if result is None:
                continue  # waits for its actor; tried again next round
            self._waiting_since.pop(cid, None)
            self.log.info("control {} {}: {}", command, symbol, result)
            if not self._record(cid, command, symbol, args, result):
                return  # the database stalls: the rows after it wait for a later round

    def _record(self, cid: int, command: str, symbol: str, args: dict[str, Any],
                result: str) -> bool:
        """Journal an applied row and mark it done, each write waiting `store_s` at most (the
        run loop's status and heartbeat wait with it). A row not marked is never applied
        again by this process (found by review: the next round applied a protection reset
        again, lifting a trip set since); its mark is retried first at the next rounds."""
        with writes_within(self.store_s):
            if self.journal is not None:
                try:
                    self.journal(self.repo, cid, command, symbol, args, result)
                except LeaseLost:
                    raise
                except Exception as exc:  # noqa: BLE001 - the row is applied: mark it anyway
                    self.log.error("control row {} ({} {}): applied, its journal line not "
                                   "written: {}", cid, command, symbol, describe(exc))
            return self._mark(cid, result)

    def _mark(self, cid: int, result: str) -> bool:
        """False: not marked done yet (said once); kept for the next rounds."""
        try:
            with writes_within(self.store_s):
                control.mark_done(self.repo, cid, result[:500])
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - marked at a later round, never applied twice
            if cid not in self._unmarked:
                self.log.error("control row {}: applied, not marked done yet ({}); marked at "
                               "a later round, not applied again", cid, describe(exc))
            self._unmarked[cid] = result
            return False
        self._unmarked.pop(cid, None)
        return True

    def _apply_one(self, cid: int, command: str, symbol: str, args: dict[str, Any]) -> str | None:
        if symbol not in self.sup.children:
            return f"unknown symbol {symbol}"
        if command == "resume":
            return self._resume(cid, symbol, args)
        if command == "signal":
            return self._signal(cid, symbol, args)
        return f"unknown command {command}"

    def _resume(self, cid: int, symbol: str, args: dict[str, Any]) -> str | None:
        """Lift a stopped symbol's quarantine; answered "resumed" once the supervisor has it
        stored (supervision/resume_ticket.py), until then the row stays pending (found by
        review: marked done when handed to the supervisor's inbox, a kill before the lift
        left the symbol quarantined under a row that said resumed and was never applied
        again). Its first half (escalations resolved, an owed close forgiven) is stored with a
        mark on the row: applied again after a restart it only lifts. One that is not stopped
        is left alone (found by review: it said "resumed" and forgave an owed emergency
        close): an owed close is only ever forgiven by a person resuming the symbol it stopped."""
        if cid in self._tickets:
            return self._answer(cid)
        quarantined = self.sup.children[symbol].state is ChildState.QUARANTINED
        if quarantined and self.sup.records.pending(symbol):
            # its quarantine is still being stored (the supervisor would refuse the resume):
            # found by review, it was answered "resumed" and nothing was; applied next round
            return None
        was = self.repo.read(control.resuming, cid)
        if was is None and cid in self._beginning:
            return None  # its first half is still queued in the writer: it may yet commit
        self._beginning.discard(cid)
        if was is not None:  # begun by an earlier round or run: only the lift is left
            if (again := self.repo.read(control.escalated, symbol, OWED + symbol)) is not None:
                return (f"not resumed: {symbol} {again} again after this resume began (not "
                        "forgiven); resume it again")
            if not quarantined and self.repo.read(control.held, symbol, OWED + symbol) is None:
                return f"resumed (was {was})"  # lifted before a restart cut the answer
        else:
            why = "quarantined" if quarantined else self.repo.read(control.held, symbol,
                                                                   OWED + symbol)
            if why is None:
                self.log.bind(symbol=symbol).warning(
                    "resume {}: not stopped (not quarantined, no open escalation, no emergency "
                    "close owed); nothing changed", symbol)
                return "not stopped: nothing changed"
            if not self._begin(cid, symbol, why):
                return None
            was = why
        self._tickets[cid] = (self.sup.resume(symbol, by=args.get("by", "operator")), was)
        return self._answer(cid)

    def _begin(self, cid: int, symbol: str, why: str) -> bool:
        """The resume's first half (the owed close is not run), waiting `store_s` at most (the
        run loop's bound). False: not stored in time; it stays queued in the writer and may
        still commit, so the row stays pending, neither answered failed (found by review: its
        TimeoutError marked the row done while the forgiveness committed after) nor begun again."""
        try:
            with writes_within(self.store_s):
                control.begin_resume(self.repo, cid, symbol, OWED + symbol, why)
        except TimeoutError as exc:
            self.log.bind(symbol=symbol).warning(
                "resume {}: not stored yet ({}); answered once it is", symbol, describe(exc))
            self._beginning.add(cid)
            return False
        return True

    def _answer(self, cid: int) -> str | None:
        """The resume's answer once the supervisor settled it; None: pending (a refusal that
        may pass, the bot stopping or a quarantine being stored, is handed over again)."""
        ticket, was = self._tickets[cid]
        if not ticket.settled:
            return None
        del self._tickets[cid]
        if ticket.refusal is None:
            return f"resumed (was {was})"
        if ticket.final:
            return f"not resumed: {ticket.refusal}; resume it again"
        return None

    def _signal(self, cid: int, symbol: str, args: dict[str, Any]) -> str | None:
        side = None if args.get("side") == "exit" else Side(args["side"])
        size = _size(args.get("size_usdt"))
        expires_at = _expiry(args.get("expires_at"))
        if expires_at is not None and self.wall() >= expires_at:
            late = self.wall() - expires_at + control.SIGNAL_TTL_S
            self.log.bind(symbol=symbol).warning(
                "signal {} {} dropped: expired (queued about {:.0f}s ago, a manual signal "
                "lives {:g}s); not traded", symbol, args.get("side"), late, control.SIGNAL_TTL_S)
            return f"expired: not delivered (expires_at {expires_at:.3f})"
        cap, cap_name = size_cap(self.max_size_usdt)
        if side is not None and size is not None and size > cap:
            # found by review: checked only when `bot.py signal` queued it, so a cap lowered in
            # the config before this start still let the old size trade (logged and journaled
            # as this row's result, in one line)
            return (f"refused: size_usdt {decimal_text(size)} is above {cap_name} (queued "
                    "under an older config); not traded")
        state = self.sup.children[symbol].state
        if state is not ChildState.RUNNING and state in _MAY_COME_UP:
            first = self._waiting_since.setdefault(cid, self.clock())
            if self.clock() - first < self.wait_s:
                return None
        sid = args.get("signal_id") or f"cli-{cid}"
        if self.repo.read(queries.signal_received, sid):
            # delivered by a run that died before it marked the row done: never twice (its
            # actor handled it, or records it as skipped if it died in the mailbox)
            return "already delivered before a restart (see the journal)"
        ok = self.sup.deliver_signal(symbol, ExternalSignal(
            side=side, signal_id=sid, size_usdt=size, reason="manual", expires_at=expires_at))
        if ok:
            return "delivered"
        waited = f" after waiting {self.wait_s:g}s" if cid in self._waiting_since else ""
        return f"skipped: the actor is {state.value}{waited} (journaled as SignalSkipped)"


def _expiry(value: Any) -> float | None:
    """A signal's `expires_at` (epoch seconds; a row an older CLI wrote without one has it
    from its created_at: storage/control.py `take_readable`)."""
    if value in (None, ""):
        return None
    expires_at = float(value)
    if expires_at != expires_at:  # NaN would never expire
        raise ValueError(f"expires_at {value!r} is not a time")
    return expires_at


def _size(value: Any) -> Decimal | None:
    """A size queued by an older CLI is checked again: finite and > 0, or the row is refused."""
    if value in (None, ""):
        return None
    try:
        size = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"size_usdt {value!r} is not a number") from None
    if not size.is_finite() or size <= 0:
        raise ValueError(f"size_usdt must be a finite number > 0 (got {value})")
    return size
