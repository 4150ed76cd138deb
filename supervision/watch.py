"""The supervisor's heartbeat round and its hung checks (a mixin of `Supervisor`, split out of
supervision/supervisor.py to keep it readable): a Timer and a Ping to one part of the actors per
beat, and for each actor found dead without a report, past its mailbox bound, or hung."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.inbox import has_waiting, inbox_depth
from actors.messages import Ping, Reconcile, Timer
from exchange.fence import BusyBoard, FenceBoard
from supervision import beats
from supervision.child import Child, ChildState
from supervision.liveness import Liveness, judge, ping_age
from supervision.reconcile_only import ReconcileOnly
from supervision.reconcile_schedule import ReconcileSchedule
from supervision.strategy_alerts import StrategyAlerts


def failure_text(exc: BaseException) -> str:
    """`Type: message` of a failure; an exception whose str() raises is named by its type
    (found by review: it raised in the supervisor, out of `start()` for a first spawn)."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - its own text is broken, not the failure it reports
        return f"{type(exc).__name__}: (its message cannot be read)"


class Watching:
    """The heartbeat half of `Supervisor` (its attributes are the supervisor's)."""

    children: dict[str, Child]
    busy: BusyBoard
    fences: FenceBoard
    reconcile_only: ReconcileOnly
    busy_waits: int
    heartbeat_timeout_s: float
    start_timeout_s: float
    mailbox_max: int
    log: Any
    clock: Callable[[], float]
    schedule: ReconcileSchedule
    strategy_alerts: StrategyAlerts
    on_heartbeat: Callable[[], None] | None
    _reconcile_due: set[str]

    def tell(self, symbol: str, message: Any) -> bool:
        raise NotImplementedError

    def _fail(self, child: Child, error: str, where: str, at: float) -> None:
        raise NotImplementedError

    def _started(self, child: Child, inc: int, at: float) -> None:
        raise NotImplementedError

    def _post(self, item: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def _heartbeat(self, now: float, part: int = 0, parts: int = 1) -> None:
        """A Timer and a Ping to part `part` of `parts` of the actors (all: 0 of 1); the
        periodic reconcile is chosen at part 0 (supervision/beats.py)."""
        if part == 0:
            try:  # found by review: one that raised cost part 0's actors every beat (no Timer,
                # no Ping, no hung check) for as long as it raised
                self.strategy_alerts.tick()
                due = self.schedule.due(now, self.children)
                self._reconcile_due = beats.spread_or_send(
                    due, lambda s: self.tell(s, Reconcile(reason="periodic")))
                if self.on_heartbeat is not None:
                    self.on_heartbeat()
            except Exception as exc:  # noqa: BLE001 - one line; the beat goes on
                self.log.error("heartbeat round (periodic reconcile) failed: {}", failure_text(exc))
        reconcile = self._reconcile_due
        for child in beats.members(self.children.values(), part, parts):
            if child.state is ChildState.QUARANTINED:
                self._check_reconcile_only(child.symbol, now)
                continue
            if child.ref is None or child.state not in (ChildState.RUNNING, ChildState.STARTING,
                                                        ChildState.RESTARTING):
                continue
            if self._died(child, now):
                continue  # one that died unreported is failed
            if child.state is not ChildState.RUNNING:
                self._check_start(child, now)  # a starting actor gets no beat
                continue
            if self._check_hung(child, now):
                continue
            try:
                inbox = child.ref.actor_inbox  # one of each waiting is enough (beats.py)
                if not has_waiting(inbox, (Timer,)):
                    child.ref.tell(Timer())
                if child.symbol in reconcile and not has_waiting(inbox, (Reconcile,)):
                    child.ref.tell(Reconcile(reason="periodic"))
                if child.ping is None:
                    child.ping = child.ref.ask(Ping(), block=False)
                    child.ping_sent_at = now
            except pykka.ActorDeadError:
                pass  # its failure report is on the way

    def _died(self, child: Child, now: float) -> bool:
        """Whether the child's actor is dead while it runs or starts here. Found by review: an
        actor whose failure report never came (its on_failure or on_start's error line raised:
        an exception whose str() raises) stayed "running" or "starting" dead for ever, its
        beats' ActorDeadError swallowed. Failed once dead `heartbeat_timeout_s` without a
        report (a report, if one comes, is handled first)."""
        assert child.ref is not None
        if child.ref.is_alive():
            return False
        child.dead_at = now if child.dead_at is None else child.dead_at
        if now - child.dead_at > self.heartbeat_timeout_s:
            if child.start_error is not None:  # its own failure report, kept (_on_report)
                self._fail(child, child.start_error, "on_start", self.clock())
            else:
                self._fail(child, "actor died without a failure report", "died", self.clock())
        return True

    def _check_start(self, child: Child, now: float) -> None:
        """A start that has gone on past `start_timeout_s` while in no announced bounded call
        (an exchange call, its own commit) and without progress for as long is hung, like an
        actor that misses its heartbeat: fenced, restarted after the backoff, escalated when it
        repeats (found by review: a start that hung stayed "starting" for ever, unfenced)."""
        if child.spawned_at is None:
            return
        age = now - child.spawned_at
        if judge(self.busy, child.symbol, age, self.start_timeout_s) is not Liveness.HUNG:
            return
        child.replaced_start = True  # it may still wake and report (supervisor._on_report)
        self._fail(child, f"start not finished within {self.start_timeout_s:g}s (no progress, "
                   "in no bounded exchange call or commit)", "start", self.clock())

    def _check_reconcile_only(self, symbol: str, now: float) -> None:
        """A quarantined symbol's reconcile-only run is a start too (supervision/reconcile_only.py):
        hung as a start is, it is given up and fenced (it is not restarted: one run per close)."""
        since = self.reconcile_only.started_at(symbol)
        if since is None or judge(self.busy, symbol, now - since,
                                  self.start_timeout_s) is not Liveness.HUNG:
            return
        self.fences.revoke(symbol)  # the run's fence: the only one issued since the quarantine
        self.reconcile_only.give_up(symbol, f"its start did not finish within "
                                    f"{self.start_timeout_s:g}s (no progress, in no bounded "
                                    "exchange call or commit)")

    def _confirm_start(self, child: Child) -> None:
        """After a replaced start: once the starting incarnation answered its probe (its own
        start is done) it runs, from the reports handled before a mark posted now: its own
        "started" was posted before its answer, so it is among them (a report alone may be the
        replaced one's, and taken at once it let that one's "stopped", next in the inbox, fail
        the successor as stopped unasked)."""
        if child.start_probe is None or child.start_confirming:
            return
        try:
            child.start_probe.get(timeout=0)
        except Exception:  # noqa: BLE001 - not answered yet, or dead (`_died` fails it)
            return
        child.start_confirming = True
        self._post(("start_confirmed", child.symbol, child.start_probe))

    def _start_confirmed(self, child: Child, probe: Any) -> None:
        """The mark of `_confirm_start` is handled: every report posted before it was."""
        if child.start_probe is not probe or child.start_report is None:
            return  # a later spawn's (this one failed meanwhile), or no start reported
        inc, at = child.start_report
        child.start_probe = child.start_report = child.start_error = None
        child.replaced_start = child.start_confirming = False
        self._started(child, inc, at)

    def _check_hung(self, child: Child, now: float) -> bool:
        assert child.ref is not None
        size = inbox_depth(child.ref.actor_inbox)
        if size > self.mailbox_max:
            self._fail(child, f"mailbox has {size} messages (bound {self.mailbox_max})",
                       "mailbox", self.clock())
            return True
        verdict = judge(self.busy, child.symbol, ping_age(child, now), self.heartbeat_timeout_s)
        if verdict is Liveness.SLOW:
            self.busy_waits += 1  # in a bounded exchange call or progressing: slow, not hung
        if verdict is not Liveness.HUNG:
            return False
        self._fail(child, f"no heartbeat reply within {self.heartbeat_timeout_s}s",
                   "heartbeat", self.clock())
        return True
