"""Liveness judged by progress, with real pykka actors and the real supervisor on a manual
monotonic clock (each advance past the next beat gives exactly one heartbeat).

Soak b1 (TRX): a Ping waited behind a backlog of messages, each spending seconds in the rate
budget (marked busy). The check that found the reply overdue fell in the moment one message
had ended (its busy mark cleared) and the next was deciding and committing before its first
request: busy-at-one-instant said "not busy", and a working actor was restarted. Its old
incarnation then met its fence and was logged as a crash with a traceback.

- an actor making progress (messages begun and finished, bounded exchange calls) is never
  failed for a late heartbeat reply, even when the check falls between two exchange calls;
- an actor stuck without progress still is, within the timeout of its last progress;
- the replaced incarnation's exchange call refused by its fence is one line, no traceback,
  and no new failure of the symbol (no second failure in the restart policy, no escalation).
"""

from __future__ import annotations

import dataclasses
import threading
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.inbox import inbox_depth
from actors.messages import Reconcile
from exchange.fence import Fenced, check_fence, waiting
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.events import SignalRaised
from trading.model import Side

BTC = "BTC/USDT:USDT"
INTERVAL = 0.0625  # binary fractions: the manual clock's sums are exact
TIMEOUT = 0.25
CALL_BOUND = 10.0  # what the request meter announces: the wait plus the request's timeout


class Gate:
    """Armed once: the next call blocks until released (recording that it is blocked)."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> bool:
        if not self.armed:
            return False
        self.armed = False
        self.entered.set()
        assert self.release.wait(30), "never released"
        return True


class GatedStrategy:
    """Unmarked work in a handler (deciding, committing): blocks while the gate holds it, then
    returns `then` (an entry signal, to make an exchange call after the release)."""

    name = "gated"

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.then: SignalRaised | None = None

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        return self.then if self.gate.hold() else None


class Rig:
    def __init__(self, tmp_path: Any) -> None:
        self.call, self.work = Gate(), Gate()
        self.strategy = GatedStrategy(self.work)
        self.mono = ManualClock(start=1000.0)
        self.beats = 0
        box: dict[str, FaultyExchange] = {}

        def wrap(paper: Any) -> FaultyExchange:
            box["fx"] = fx = FaultyExchange(paper)
            return fx

        h = Harness(tmp_path, [BTC], wrap=wrap, strategy_for=lambda s: self.strategy)
        fx = box["fx"]
        fx.before["fetch_positions"] = self._bounded_call
        fx.before["create_order"] = lambda *_: check_fence()  # as the request meter does
        # the same bot on a manual monotonic clock, the busy board wired as in production
        sup = Supervisor(
            symbols=[BTC], start_actor=h._start, repo=h.repo,
            policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                                 backoff_max_s=0.1, stable_after_s=30),
            alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=INTERVAL,
            heartbeat_timeout_s=TIMEOUT, mailbox_max=100_000, reconcile_interval_s=3600,
            kill_switch_escalations=100, kill_switch_window_s=600, views=h.views,
            emergency_close=h.closer.close, monotonic=self.mono, on_heartbeat=self._beat)
        h.sup = sup
        h.deps = dataclasses.replace(h.deps, report=sup.report, on_escalate=sup.escalated,
                                     entries_blocked=sup.entries_blocked, fences=sup.fences,
                                     busy=sup.busy)
        self.h, self.sup = h, sup
        self.lines: list[str] = []
        self._sink = logger.add(self._line, level="INFO")

    def _bounded_call(self, *_: Any) -> None:
        check_fence()
        waiting(CALL_BOUND)  # what RequestMeter.before announces before each request
        self.call.hold()

    def _line(self, message: Any) -> None:
        record = message.record
        self.lines.append(record["message"] + (" +traceback" if record["exception"] else ""))

    def _beat(self) -> None:
        self.beats += 1

    @property
    def child(self) -> Any:
        return self.sup.children[BTC]

    def start(self) -> None:
        self.h.start()
        self.beat()  # one beat with the actor idle: any ping from the start is answered
        self.h.idle(BTC)

    def beat(self, advance: float = INTERVAL, done: Any = None) -> None:
        """Move the monotonic clock past the next beat and wait for that beat (`done`: the
        sign its per-actor part ran; else the next beat begins, so this one has ended)."""
        n = self.beats
        self.mono.advance(advance)
        wait_until(lambda: self.beats > n, message="a heartbeat")
        if done is not None:
            wait_until(done, message="the heartbeat's check of the actor")
        else:
            self.mono.advance(INTERVAL)
            wait_until(lambda: self.beats > n + 1, message="the next heartbeat")

    def stop(self) -> None:
        self.call.release.set()
        self.work.release.set()
        logger.remove(self._sink)
        self.h.stop()


def ping_behind_a_backlog(rig: Rig) -> None:
    """The soak's moment: the actor spends a long time in a bounded exchange call (a reconcile
    waiting in the rate budget); a price is queued behind it, then the Ping; the reply is
    overdue while the call goes on (forgiven: busy); the call ends and the next message does
    unmarked work (the strategy: deciding, committing) with the Ping still queued."""
    h, child = rig.h, rig.child
    ref = child.ref
    rig.call.armed = True
    assert h.sup.tell(BTC, Reconcile(reason="position stream"))
    assert rig.call.entered.wait(10), "the reconcile's exchange call"
    rig.work.armed = True
    assert h.tick(BTC, Decimal("50000"))  # queued behind the reconcile
    rig.beat(done=lambda: child.ping_sent_at == rig.mono())  # a Timer, then the Ping
    sent_at = child.ping_sent_at
    assert child.ping is not None and inbox_depth(ref.actor_inbox) == 3  # tick, Timer, Ping
    forgiven = rig.sup.busy_waits
    rig.beat(TIMEOUT + INTERVAL, done=lambda: rig.sup.busy_waits > forgiven
             or child.last_failure is not None)
    assert child.last_failure is None  # overdue while in the bounded call: slow, not hung
    rig.call.release.set()  # the reconcile ends (its busy mark cleared) ...
    assert rig.work.entered.wait(10), "the next message's unmarked work"  # ... the tick's begins
    assert child.ping is not None and child.ping_sent_at == sent_at  # the reply is still owed


def hung_after_a_backlog(rig: Rig) -> Any:
    """Started, ping_behind_a_backlog, an entry to send once the stuck work ends, then no
    progress for longer than the timeout: the actor is failed as hung (no heartbeat reply).
    Returns the old incarnation's actor ref (still stuck in its work)."""
    rig.start()
    ping_behind_a_backlog(rig)
    child = rig.child
    old = child.ref
    rig.strategy.then = SignalRaised(side=Side.LONG, reason="after the hang")
    # no progress for longer than the timeout: hung, whatever it is stuck in
    rig.beat(TIMEOUT + INTERVAL, done=lambda: child.last_failure is not None)
    assert child.last_failure["where"] == "heartbeat"
    return old


def test_a_working_actor_between_two_exchange_calls_is_not_restarted(tmp_path):
    rig = Rig(tmp_path)
    try:
        rig.start()
        ping_behind_a_backlog(rig)
        child = rig.child
        forgiven = rig.sup.busy_waits
        # the check falls while the actor is in no exchange call, the reply long overdue; it
        # began that message just now: it is working, not hung
        rig.beat(done=lambda: rig.sup.busy_waits > forgiven or child.last_failure is not None)
        assert child.last_failure is None, child.last_failure
        rig.work.release.set()
        rig.h.idle(BTC)
        rig.beat()  # the late reply is collected
        assert child.last_failure is None and child.restarts == 0
        assert child.state.value == "running" and child.ref.is_alive()
    finally:
        rig.stop()


def test_an_actor_stuck_without_progress_is_failed_and_its_fenced_call_is_one_line(tmp_path):
    rig = Rig(tmp_path)
    try:
        old = hung_after_a_backlog(rig)
        child = rig.child
        assert "no heartbeat reply" in child.last_failure["error"]
        # _fail sets last_failure before it revokes the fence (then the state and restart_at):
        # woken before the revoke, the old incarnation's entry would go out unfenced
        wait_until(lambda: child.restart_at is not None, message="the failure handled")
        assert rig.sup.fences.current(BTC) is None
        rig.work.release.set()  # the old incarnation wakes: its entry's call meets the fence
        wait_until(lambda: old.actor_stopped.is_set(), message="the replaced actor ended")
        wait_until(lambda: any("was replaced" in line for line in rig.lines),
                   message="the replaced incarnation's line")
        rig.beat()  # its report handled; the backoff's restart is due on the manual clock
        wait_until(lambda: child.state.value == "running" and child.ref is not old,
                   message="the new incarnation running")
        rig.h.idle(BTC)
        rig.beat()
        replaced = [line for line in rig.lines if "was replaced" in line]
        assert replaced == ["incarnation 1 was replaced; its exchange call was not sent"]
        assert not [line for line in rig.lines if "crashed" in line or "+traceback" in line]
        assert child.restarts == 1
        assert len(child.history.failures) == 1  # the heartbeat only: the fenced call is none
        assert not rig.sup.escalations and child.state.value == "running"
    finally:
        rig.stop()


def test_a_replaced_report_never_counts_as_a_failure(tmp_path):
    """Whatever state the symbol is in when it arrives (here: running, the same incarnation)."""
    rig = Rig(tmp_path)
    try:
        rig.start()
        child = rig.child
        rig.sup.report(BTC, child.incarnation, "replaced", Fenced("test"))
        rig.beat()  # the report is handled before the beat
        assert child.last_failure is None and child.state.value == "running"
        assert not child.history.failures
    finally:
        rig.stop()
