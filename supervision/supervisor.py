"""The supervisor: starts one actor per symbol, watches them, restarts them from storage.

pykka has no supervision; this adds it with Erlang/OTP semantics:
- failure = an exception in a tell handler (pykka drops the mailbox and calls on_failure), a
  failed restore/reconcile in on_start, no heartbeat reply within the timeout, or a mailbox
  past its bound; a failed child is restarted after an exponential backoff (whatever the
  database answers meanwhile), only from storage through the restore-and-reconcile path of a
  cold start; its incarnation fences off any zombie of the old one (commits, exchange calls);
- a heartbeat missed while the actor is in a bounded exchange call (`busy`: rate-budget wait,
  retry backoff, a request and its timeout) or still making progress (messages begun and
  finished) is not a hang: no restart storm under rate limits (supervision/liveness.py);
- a replaced incarnation's exchange call refused by its fence is no new failure ("replaced");
- more than `max_restarts` within `restart_period_s` escalates the symbol instead;
- escalations within a window past a bound trip a global kill switch (no new entries anywhere).
The monitor runs on its own thread and never `ask`s from inside an actor.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pykka

from actors.messages import BlockEntries, Ping
from actors.strategy_guard import StrategyOff
from exchange.fence import BusyBoard, FenceBoard
from storage import queries
from storage.repository import Repository
from storage.restore import CorruptRow
from storage.writer import SUBMIT_TIMEOUT_S, writes_within
from supervision import beats
from supervision.alerts import Alerts
from supervision.child import Child, ChildState, open_for
from supervision.escalation import Escalating
from supervision.reconcile_only import ReconcileOnly
from supervision.reconcile_schedule import ReconcileSchedule
from supervision.record_keeper import RecordKeeper
from supervision.records import (
    counted_escalations,
    kill_switch_why,
    open_escalation_keys,
    stored_restarts,
)
from supervision.restart_policy import RestartPolicy
from supervision.restart_store import dump, history_key, stored_histories
from supervision.resume_ticket import ResumeTicket
from supervision.strategy_alerts import StrategyAlerts
from supervision.watch import Watching, failure_text
from trading.commands import Escalate

ActorStarter = Callable[[str], pykka.ActorRef]
"""Starts a symbol's actor and returns its ref."""


class Supervisor(Watching, Escalating):
    def __init__(
        self,
        *,
        symbols: list[str],
        start_actor: ActorStarter,
        repo: Repository,
        policy: RestartPolicy,
        alerts: Alerts,
        logger: Any,
        heartbeat_interval_s: float,
        heartbeat_timeout_s: float,
        mailbox_max: int,
        reconcile_interval_s: float,
        kill_switch_escalations: int,
        kill_switch_window_s: float,
        on_heartbeat: Callable[[], None] | None = None,
        emergency_close: Callable[[str, str, Callable[[], object]], None] | None = None,
        views: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        streamed_reconcile_interval_s: float | None = None,
        kill_switch_store_s: float = 10.0,  # a person's switch waits this long to be stored
        start_timeout_s: float | None = None,
    ) -> None:
        self.children = {s: Child(symbol=s) for s in symbols}
        for symbol, n in stored_restarts(repo, symbols, logger).items():
            self.children[symbol].restarts = n  # every restart, earlier runs' included
        # the backoff, crash loop and escalation go on counting an earlier run's failures
        for symbol, history in stored_histories(repo, symbols, clock(), monotonic(),
                                                logger).items():
            self.children[symbol].history = history
        self._start_actor = start_actor
        self.repo = repo
        self.policy = policy
        self.alerts = alerts
        self.log = logger
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        # a start is hung past this without progress nor a bounded call (watch.py): its claim,
        # a write not announced as a bounded call, may wait the writer's submit timeout
        self.start_timeout_s = (start_timeout_s if start_timeout_s is not None
                                else heartbeat_timeout_s + SUBMIT_TIMEOUT_S)
        self.mailbox_max = mailbox_max
        self.kill_switch_escalations = kill_switch_escalations
        self.kill_switch_window_s = kill_switch_window_s
        self.kill_switch_store_s = kill_switch_store_s
        self.on_heartbeat = on_heartbeat
        self._reconcile_due: set[str] = set()
        self.emergency_close = emergency_close
        self.clock = clock  # the records' times; the beats, restarts and pings: `monotonic`
        self._mono = monotonic  # (a wall clock stepped back stopped every beat until it caught up)
        self.views: dict[str, Any] = views if views is not None else {}
        # every symbol, or those holding something while streams are up (`.streams_ok`)
        self.schedule = ReconcileSchedule(
            interval_s=reconcile_interval_s, views=self.views,
            streamed_interval_s=streamed_reconcile_interval_s or reconcile_interval_s)
        self.kill_switch = repo.get_meta("kill_switch") == "1"
        self.kill_switch_why = kill_switch_why(repo, logger) if self.kill_switch else None
        """{reason, at} of the kill switch while it is on (the status dump shows them)."""
        # a restart keeps counting the window's escalations (since a person's last reset)
        self.escalations = counted_escalations(repo, clock(), kill_switch_window_s, logger)
        self._still_open = open_escalation_keys(repo, logger)  # an earlier run's, unresolved
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self.fences = FenceBoard()
        self.busy = BusyBoard(clock=monotonic)  # the pings' clock: progress is judged against them
        self.busy_waits = 0  # missed heartbeats forgiven: in an exchange call, or progressing
        self.records = RecordKeeper()  # written off this thread: a stalled database stalls no beat
        self.strategy_alerts = StrategyAlerts(alerts, clock=monotonic)
        self.reconcile_only = ReconcileOnly(log=logger, clock=clock, views=self.views,
                                            post=self._inbox.put, monotonic=monotonic,
                                            pending=self.records.pending)
        """After an emergency close, the reconciliation of a symbol whose actor is stopped
        (quarantined by a crash loop): supervision/reconcile_only.py."""
        # the escalation and the switch it trips are two records: a process killed between
        # them came back with the switch off (found by review); the window's count decides
        recent = {e["symbol"] for e in self.escalations}
        if len(recent) > kill_switch_escalations and not self.kill_switch:
            self.trip_kill_switch(f"{len(recent)} symbols escalated within "
                                  f"{kill_switch_window_s:.0f}s (counted at start)")

    # -- called from any thread --------------------------------------------------------------
    def report(self, symbol: str, incarnation: int, what: str, error: BaseException | None) -> None:
        self._inbox.put(("report", symbol, incarnation, what, error, self.clock()))

    def escalated(self, symbol: str, esc: Escalate) -> None:
        self._inbox.put(("escalated", symbol, esc, self.clock()))

    def entries_blocked(self) -> bool:
        return self.kill_switch or self._stopping.is_set()

    def tell(self, symbol: str, message: Any) -> bool:
        """Deliver to the running actor's mailbox (an order report also while it starts)."""
        child = self.children.get(symbol)
        if child is None or child.ref is None or not open_for(child.state, message):
            return False
        try:
            child.ref.tell(message)
        except pykka.ActorDeadError:
            return False
        return True

    def deliver_signal(self, symbol: str, signal: Any) -> bool:
        """Journal an external signal, then deliver it. An actor dying before handling it (pykka
        drops its mailbox) leaves it journaled, and the restarted actor records it skipped. One
        reaching no actor is journaled skipped with NOT_DELIVERED: its id stays free
        (queries.signal_received), so the sender's retry is judged again, not a duplicate."""
        data = {
            "signal_id": signal.signal_id,
            "side": signal.side.value if signal.side else "exit",
            "size_usdt": None if signal.size_usdt is None else str(signal.size_usdt),
            "reason": signal.reason,
            "expires_at": signal.expires_at,  # a lost exit is carried out until then
        }
        cid = signal.signal_id or "signal"
        child = self.children.get(symbol)
        if child is not None and child.state is ChildState.RUNNING:
            try:
                self.repo.record(symbol, "SignalReceived", data, correlation_id=cid)
            except Exception:
                self._free_id(symbol, data, cid)
                raise
            if self.tell(symbol, signal):
                return True
        self.repo.record(symbol, "SignalSkipped", {**data, "reason": queries.NOT_DELIVERED},
                         correlation_id=cid)
        return False

    def _free_id(self, symbol: str, data: dict[str, Any], cid: str) -> None:
        """A SignalReceived write that timed out stays queued and may still commit, though the
        actor is never told: a NOT_DELIVERED row queued right behind it keeps the id free
        (found by review: the sender's retry was answered 'duplicate', never traded). Not
        waited for: the writer commits in order."""
        try:
            with writes_within(0.001):
                self.repo.record(symbol, "SignalSkipped",
                                 {**data, "reason": queries.NOT_DELIVERED}, correlation_id=cid)
        except Exception:  # noqa: BLE001, S110 - queued (a timeout) or the writer is gone
            pass

    def _post(self, item: tuple[Any, ...]) -> None:
        self._inbox.put(item)

    def resume(self, symbol: str, by: str = "operator") -> ResumeTicket:
        """Queued for the supervisor's thread; the ticket says when the resume is stored."""
        ticket = ResumeTicket(by)
        self._inbox.put(("resume", symbol, ticket, self.clock()))
        return ticket

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)
        self.schedule.start(self._mono())
        self._thread.start()

    def stopping(self) -> None:
        self._stopping.set()  # the process stops: no entry, no restart (stop() follows)

    def stop(self, timeout_s: float = 30.0) -> list[str]:
        """Graceful: no new entries, each actor finishes its current message and stops."""
        self._stopping.set()
        for child in self.children.values():
            child.restart_at = None
        if self._thread.is_alive():
            self._thread.join(timeout=5)  # the monitor starts nothing after this
        futures = []
        for child in self.children.values():
            if child.ref is not None and child.state in (ChildState.RUNNING, ChildState.STARTING,
                                                         ChildState.RESTARTING):
                with contextlib.suppress(pykka.ActorDeadError):
                    child.ref.tell(BlockEntries(blocked=True, reason="shutdown"))
                futures.append((child, child.ref.stop(block=False)))
        deadline = time.monotonic() + timeout_s
        stuck = []
        for child, fut in futures:
            try:
                fut.get(timeout=max(deadline - time.monotonic(), 0.01))
                child.state = ChildState.STOPPED
            except Exception:  # noqa: BLE001 - a hung actor; its stop is still queued
                stuck.append(child.symbol)
        for fut in self.reconcile_only.stop_all():  # before the repository closes too
            with contextlib.suppress(Exception):
                fut.get(timeout=max(deadline - time.monotonic(), 0.01))
        self.records.close(timeout_s=max(deadline - time.monotonic(), 1.0))  # before the repo
        return stuck

    # -- monitor thread -----------------------------------------------------------------------
    def _run(self) -> None:
        next_beat = last = self._mono()
        parts = beats.parts_for(self.heartbeat_interval_s, len(self.children))
        part = 0
        while not self._stopping.is_set():
            wait = max(min(next_beat, self._next_restart()) - self._mono(), 0.0)
            try:
                try:
                    self._handle(self._inbox.get(timeout=min(wait, self.heartbeat_interval_s)))
                except queue.Empty:
                    pass
                if self._stopping.is_set():
                    break
                now = self._mono()
                if now - last > 2 * self.heartbeat_timeout_s:  # this thread (the process)
                    for c in self.children.values():  # was frozen: not the actors' silence
                        c.ping_sent_at = now
                        c.spawned_at = None if c.spawned_at is None else now
                last = now
                self._restart_due(now)
                self.reconcile_only.due()  # a run that waited for the quarantine's record
                if now >= next_beat:  # one part of the actors per beat (supervision/beats.py)
                    next_beat = now + self.heartbeat_interval_s / parts
                    self._heartbeat(now, part, parts)
                    part = (part + 1) % parts
            except BaseException as exc:  # noqa: BLE001 - the supervisor itself must not die: a
                # SystemExit out of a library ended it (a real shutdown reaches the main thread)
                if self._stopping.is_set():
                    break
                self.log.opt(exception=exc).error("supervisor error: {}", failure_text(exc))

    def _next_restart(self) -> float:
        due = [c.restart_at for c in self.children.values() if c.restart_at is not None]
        return min(due) if due else float("inf")

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "report":
            _, symbol, incarnation, what, error, at = item
            self._on_report(self.children[symbol], incarnation, what, error, at)
        elif kind == "escalated":
            _, symbol, esc, at = item
            self._on_escalation(symbol, esc.reason, esc.attempts, esc.last_error, at, esc.close)
        elif kind == "resume":
            _, symbol, ticket, at = item
            self._on_resume(self.children[symbol], ticket, at)
        elif kind == "start_confirmed":
            self._start_confirmed(self.children[item[1]], item[2])
        elif kind == "closed":  # an emergency close ended; its actor did not take the reconcile
            if (self.children[item[1]].state is ChildState.QUARANTINED
                    and not self._stopping.is_set()):  # nothing starts once the bot stops
                self.reconcile_only.run(item[1])
        elif kind == "reconcile_only":
            _, symbol, token, what, error = item
            if (self.reconcile_only.reported(symbol, token, what, error)
                    and self.children[symbol].state is ChildState.QUARANTINED
                    and not self._stopping.is_set()):
                self.reconcile_only.run(symbol)

    def _on_report(
        self, child: Child, inc: int, what: str, error: BaseException | None, at: float
    ) -> None:
        if child.start_probe is not None and child.state in (ChildState.STARTING,
                                                             ChildState.RESTARTING):
            # an incarnation given up while starting may wake and report: a start is believed
            # once the starting one answers its probe (watch.py), its failure once it is dead
            if what == "started":
                child.start_report = max(child.start_report or (inc, at), (inc, at))
            elif what in ("start_failed", "crashed"):
                child.start_error = failure_text(error) if error else what
            if what not in ("strategy_failed", "strategy_renewed"):
                return
        if what == "started":
            self._started(child, inc, at)
            return
        if what in ("strategy_failed", "strategy_renewed"):
            if inc == child.incarnation:  # not a replaced incarnation's
                self._strategy_report(child, error)
            return
        if what == "replaced" or child.state in (ChildState.QUARANTINED, ChildState.STOPPED):
            return  # replaced: a zombie's call refused by its fence, its failure already counted
        if inc and child.incarnation and inc < child.incarnation:
            return  # a zombie of a replaced incarnation
        if child.state is ChildState.RUNNING and inc != child.incarnation:
            return  # not the running one's: a replaced start's that never claimed (inc 0)
        if what == "stopped" and (self._stopping.is_set() or child.state is not ChildState.RUNNING
                                  or inc != child.incarnation):
            return  # a stop we asked for (a failed or replaced actor's, or the bot's)
        if child.state is ChildState.BACKING_OFF or (
                child.state is ChildState.RESTARTING and inc and inc <= child.incarnation):
            return  # the failed incarnation's thread ending late: that failure is counted
        if what == "stopped":  # nobody here asked: pykka stops every actor on a BaseException
            self._fail(child, "actor stopped without being asked to", "stopped", at)
            return
        where = "on_start" if what == "start_failed" else "handler"
        if isinstance(error, CorruptRow):
            self._quarantine_unreadable(child, str(error), at)
            return
        self._fail(child, failure_text(error) if error else what, where, at)

    def _started(self, child: Child, inc: int, at: float) -> None:
        child.incarnation = max(child.incarnation, inc)  # a replaced start may report late
        if child.state not in (ChildState.STARTING, ChildState.RESTARTING):
            return
        child.state = ChildState.RUNNING
        child.started_at = at
        child.strategy_off = None  # a new incarnation runs a fresh strategy
        child.history.started(self._mono())  # stability counts running time only
        if child.failed_at is not None:
            child.restart_durations.append(at - child.failed_at)
            child.failed_at = None
        ticket = child.resume_by  # _on_resume; kept until stored: a failure tells the next one
        if ticket is not None and (ticket.settled or child.ref is None):
            child.resume_by = None if ticket.settled else ticket
        elif ticket is not None and child.ref is not None:
            with contextlib.suppress(pykka.ActorDeadError):
                child.ref.tell(ticket.message())

    def _strategy_report(self, child: Child, off: BaseException | None) -> None:
        """A strategy that raised is off in its actor (actors/strategy_guard.py): the status
        shows it until a fresh one runs; the first failure of a streak alerts."""
        child.strategy_off = None if off is None else str(off)
        if isinstance(off, StrategyOff) and off.first:
            self.strategy_alerts.failed(child.symbol, str(off))  # one per window (its module)

    def _fail(self, child: Child, error: str, where: str, at: float) -> None:
        # fenced first: whoever sees the failure (the status, a test) sees a fenced incarnation
        self.fences.revoke(child.symbol)  # its exchange calls (retries included) stop here
        child.last_failure = {"time": at, "error": error[:500], "where": where}
        child.failed_at = at
        child.ping = None
        self.log.bind(symbol=child.symbol).error("actor failed in {}: {}", where, error)
        if child.ref is not None:  # a hung actor gets it whenever it wakes; it is fenced anyway
            child.ref.stop(block=False)
        verdict = child.history.on_failure(self.policy, self._mono())  # not `at`: a wall step
        self._keep_history(child)
        if verdict.escalate:
            reason = (f"restarted {verdict.restarts_in_period} times in "
                      f"{self.policy.period_s:.0f}s; last: {error}")
            n, cid = verdict.restarts_in_period, uuid.uuid4().hex[:16]
            self.records.add(self.log.bind(symbol=child.symbol), "the escalation",
                             lambda: self.repo.quarantine(child.symbol, reason, correlation_id=cid),
                             lambda: self.repo.add_escalation(child.symbol, reason, n, error, at),
                             must=True, symbol=child.symbol)
            # after the record is handed over: whoever sees QUARANTINED (another thread) and
            # waits for the symbol's records (wait_stored) then waits for this one
            child.state = ChildState.QUARANTINED
            child.restart_at = None
            self.drop_resume(child, reason)
            self._on_escalation(child.symbol, reason, verdict.restarts_in_period, error, at)
            return
        child.state = ChildState.BACKING_OFF
        child.restart_at = self._mono() + verdict.delay_s
        if verdict.crash_loop:  # too slow to escalate, yet it never runs stable_after_s
            self.alerts.alert(
                child.symbol, "crash_loop",
                f"failed {child.history.consecutive} times without running "
                f"{self.policy.stable_after_s:.0f}s in between; restarting every "
                f"{verdict.delay_s:g}s; last: {error}", last_error=error)

    def _keep_history(self, child: Child) -> None:
        """Stored for the bot's next run (supervision/restart_store.py), best effort."""
        stored = dump(child.history, self.clock(), self._mono())
        self.records.add(self.log.bind(symbol=child.symbol), "the restart history",
                         partial(self.repo.set_meta, history_key(child.symbol), stored),
                         symbol=child.symbol)

    def _restart_due(self, now: float) -> None:
        # after every inbox item: at a cold start that is one "started" report per symbol, and
        # walking every child's checks each time took ~1 ms a round at 500 symbols
        waiting = [c for c in self.children.values()
                   if c.restart_at is not None or c.start_probe is not None]
        for child in waiting:
            if self._stopping.is_set():
                return  # never start an actor after shutdown began (the repository closes next)
            if child.restart_at is not None and now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                log = self.log.bind(symbol=child.symbol)
                self.records.add(log, "the restart count",
                                 partial(self.repo.count_restart, child.symbol))
                log.warning("restarting from storage (restart #{})", child.restarts)
                self._spawn(child, restarting=True)
            self._confirm_start(child)

    def _spawn(self, child: Child, restarting: bool = False) -> None:
        child.state = ChildState.RESTARTING if restarting else ChildState.STARTING
        child.ping = None
        child.dead_at = None
        child.spawned_at = self._mono()
        child.start_probe = child.start_report = child.start_error = None
        child.start_confirming = False
        try:
            child.ref = self._start_actor(child.symbol)
            if child.replaced_start:  # answered once this incarnation's own start is done
                child.start_probe = child.ref.ask(Ping(), block=False)
        except Exception as exc:  # noqa: BLE001 - a failed spawn is a failure like any other
            self._fail(child, failure_text(exc), "spawn", self.clock())
