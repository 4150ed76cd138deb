"""An actor whose start hangs is treated like a hung actor.

Found by review: liveness only watched running actors. An actor whose `on_start` (its restore
or its first reconciliation) hung stayed "starting" for ever: never fenced, never restarted,
never escalated, and the status dump showed it starting for as long as the bot ran.

Now a start that has gone on past the start bound while making no progress and waiting in no
announced bounded call (an exchange call, its own commit) is a failure like a missed heartbeat:
its incarnation is fenced, a new one is started after the backoff, the status dump shows the
failure, and repeated hangs escalate like repeated crashes. The default bound covers the
writer's submit timeout (a start's claim of its incarnation is a write that is not announced),
plus `heartbeat_timeout_s`; an actor waiting in an announced bounded exchange call during its
start is not hung.

Real pykka actors (SymbolActor), the real supervisor on a manual monotonic clock, SQLite and the
paper exchange; the start blocks on an Event the test controls (in the repository's restore, or
in an exchange call of the start's reconciliation), given through constructors."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from exchange.fence import check_fence, waiting
from storage.repository import Repository
from storage.writer import SUBMIT_TIMEOUT_S
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
INTERVAL = 0.0625  # binary fractions: the manual clock's sums are exact
TIMEOUT = 16.0  # heartbeat_timeout_s: steps of STEP stay below the frozen-process jump (2x)
BOUND = SUBMIT_TIMEOUT_S + TIMEOUT  # the default start bound
STEP = 8.0
BACKOFF = 0.5
CALL_BOUND = 600.0  # an exchange call announced as bounded by this long


class Gate:
    """Holds each call that meets it while armed, until released (counting who it holds)."""

    def __init__(self, armed: bool = False) -> None:
        self.armed = armed
        self.once = False  # disarm after the first one held
        self.held = 0
        self.bug: Exception | None = None  # raised by the next restore (after any hold)
        self._lock = threading.Lock()
        self.release = threading.Event()

    def hold(self) -> None:
        with self._lock:
            if not self.armed:
                return
            self.held += 1
            if self.once:
                self.armed = False
        assert self.release.wait(60), "never released"


class Turnstile:
    """The first `n` calls each wait for their own release (`let(i)`)."""

    def __init__(self, n: int) -> None:
        self.held = 0
        self.bug: Exception | None = None
        self._lock = threading.Lock()
        self.turns = [threading.Event() for _ in range(n)]

    def hold(self) -> None:
        with self._lock:
            i = self.held
            self.held += 1
        if i < len(self.turns):
            assert self.turns[i].wait(60), "never released"

    def let_all(self) -> None:
        for turn in self.turns:
            turn.set()


def held_restore(gate: Gate | Turnstile) -> type[Repository]:
    class HeldRestore(Repository):
        def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
            if symbol == BTC:
                gate.hold()  # a restore that hangs (a lock, a server that does not answer)
                if gate.bug is not None:
                    bug, gate.bug = gate.bug, None
                    raise bug
            return super().load(symbol, *args, **kwargs)

    return HeldRestore


class Rig:
    def __init__(self, tmp_path: Any, restore: Gate | Turnstile, call: Gate | None = None,
                 max_restarts: int = 3, fence_calls: bool = True) -> None:
        self.call = call
        self.fence_calls = fence_calls
        self.hold_beat = threading.Event()  # set: the next beat holds the supervisor's thread
        self.beat_held = threading.Event()
        self.let_beat = threading.Event()
        box: dict[str, FaultyExchange] = {}

        def wrap(paper: Any) -> FaultyExchange:
            box["fx"] = fx = FaultyExchange(paper)
            return fx

        h = Harness(tmp_path, [BTC], wrap=wrap, repository=held_restore(restore))
        self.refused: list[str] = []
        box["fx"].before["fetch_positions"] = self._exchange_call
        self.mono = ManualClock(start=1000.0)
        self.beats = 0
        self.reports: list[tuple[int, str]] = []
        sup = h.supervise_with(h.supervisor(
            policy=RestartPolicy(max_restarts=max_restarts, period_s=3600,
                                 backoff_initial_s=BACKOFF, backoff_max_s=BACKOFF,
                                 stable_after_s=30),
            heartbeat_interval_s=INTERVAL, heartbeat_timeout_s=TIMEOUT, monotonic=self.mono,
            on_heartbeat=self._beat), fenced=True, report=self._report)
        self.h, self.sup = h, sup

    def _report(self, symbol: str, inc: int, what: str, error: BaseException | None) -> None:
        self.reports.append((inc, what))
        self.sup.report(symbol, inc, what, error)

    def _exchange_call(self, *_: Any) -> None:
        try:
            if self.fence_calls:
                check_fence()  # as the request meter does before each request
        except Exception as exc:
            self.refused.append(type(exc).__name__)
            raise
        if self.call is not None and self.call.armed:
            waiting(CALL_BOUND)  # what RequestMeter.before announces before each request
            self.call.hold()

    def _beat(self) -> None:
        self.beats += 1
        if self.hold_beat.is_set():
            self.hold_beat.clear()
            self.beat_held.set()
            assert self.let_beat.wait(60), "never let go"

    def advance(self, seconds: float) -> None:
        """Move the monotonic clock in steps the supervisor sees one by one (a jump of more
        than twice the heartbeat timeout is a frozen process, not silence)."""
        while seconds > 0:
            step = min(STEP, seconds)
            seconds -= step
            n = self.beats
            self.mono.advance(step)
            wait_until(lambda n=n: self.beats > n, message="a heartbeat")

    def failed(self, child: Any) -> None:
        """Wait until the supervisor's `_fail` of `child` has ended. The beat hook runs at the
        start of a beat, before its hung and dead checks, so `advance` can return while the
        beat's `_fail` still runs: it sets `last_failure` first, then revokes the fence, sets
        the state and last reads the clock for `restart_at` (the backoff). A test that moved
        the clock on before that read put the restart past its last advance (it never came),
        and one that read the state saw the old one."""
        wait_until(lambda: child.restart_at is not None or child.state is ChildState.QUARANTINED,
                   message="the failure handled (its backoff scheduled)")

    def hang_past_the_bound(self, child: Any) -> None:
        """Past the start bound (the last step's beat finds the start hung: steps of STEP from
        its spawn reach BOUND + STEP / 2), then, once the failure is handled, past the backoff:
        a new start begins."""
        self.advance(BOUND + STEP / 2)
        self.failed(child)
        self.advance(BACKOFF)

    def beats_handled(self, n: int = 5) -> None:
        """`n` more beats: the supervisor handles at most one report between two beats, so every
        report posted before this call is handled after it."""
        for _ in range(n):
            self.advance(INTERVAL)

    def stop(self) -> None:
        self.h.stop()


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_a_hung_start_is_fenced_restarted_and_shown(tmp_path):
    restore = Gate(armed=True)
    restore.once = True
    r = Rig(tmp_path, restore)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        wait_until(lambda: restore.held == 1, message="the first start hangs in its restore")
        zombie = child.ref
        r.advance(BOUND - STEP)  # not yet past the bound
        assert child.state is ChildState.STARTING and child.last_failure is None
        r.advance(2 * STEP)
        wait_until(lambda: child.last_failure is not None,
                   message="the hung start failed (it stayed 'starting' for ever)")
        r.failed(child)  # last_failure is set first; the fence, state and backoff after it
        assert child.last_failure["where"] == "start", child.last_failure
        assert "start not finished within" in child.last_failure["error"]
        assert child.state is ChildState.BACKING_OFF
        assert r.sup.fences.current(BTC) is None  # the hung incarnation may send nothing more
        actor = build_status(r.sup, {"pid": 1}, r.h.clock(), [])["actors"][0]
        assert actor["state"] == "backing_off"
        assert actor["last_failure"]["where"] == "start"

        r.advance(BACKOFF)  # restarted from storage after the backoff
        wait_until(lambda: child.state is ChildState.RUNNING, message="the new incarnation runs")
        assert child.restarts == 1 and child.ref is not zombie
        running = child.incarnation

        restore.release.set()  # the hung start wakes up: it sends and commits nothing
        wait_until(lambda: not zombie.is_alive(), message="the replaced incarnation ends")
        r.beats_handled()
        assert child.state is ChildState.RUNNING, child.last_failure
        assert child.incarnation == running and child.restarts == 1
        assert child.last_failure["where"] == "start"  # no new failure of the symbol
        assert not any(inc == running and what != "started" for inc, what in r.reports)
        assert "Fenced" in r.refused or any(what == "start_failed" for _, what in r.reports)
    finally:
        restore.release.set()
        r.stop()


def test_repeated_hung_starts_escalate(tmp_path):
    restore = Gate(armed=True)  # every start hangs
    r = Rig(tmp_path, restore, max_restarts=2)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        for n in (1, 2):
            wait_until(lambda n=n: restore.held == n, message=f"start {n} hangs")
            r.hang_past_the_bound(child)
            wait_until(lambda n=n: restore.held == n + 1, message=f"hung start {n} restarted")
            assert child.last_failure["where"] == "start" and child.restarts == n
        r.advance(BOUND + STEP)
        wait_until(lambda: child.state is ChildState.QUARANTINED,
                   message="the third hung start escalated")
        assert child.state is ChildState.QUARANTINED
        # the state is set before the escalation's close, list entry and alert (_on_escalation)
        wait_until(lambda: "escalation" in [a["kind"] for a in r.h.alerts.sent
                                            if a["symbol"] == BTC],
                   message="the escalation alerted")
        assert "start not finished" in r.sup.escalations[-1]["reason"]
    finally:
        restore.release.set()
        r.stop()


def test_a_start_waiting_in_a_bounded_exchange_call_is_not_hung(tmp_path):
    call = Gate(armed=True)
    call.once = True
    r = Rig(tmp_path, Gate(), call=call)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        wait_until(lambda: call.held == 1, message="the start's reconciliation waits in a call")
        r.advance(BOUND + 4 * STEP)  # past the start bound, within the call's own bound
        r.beats_handled()
        assert child.state is ChildState.STARTING and child.last_failure is None
        call.release.set()
        wait_until(lambda: child.state is ChildState.RUNNING, message="the start ends")
        assert child.last_failure is None and child.restarts == 0
    finally:
        call.release.set()
        r.stop()


def test_a_replaced_start_waking_while_its_successor_starts_fails_nothing(tmp_path):
    """The hung incarnation wakes while its successor is still starting (waiting in a bounded
    exchange call): its refused call ends its start, and that failure report is not taken for
    the successor's (both report as the symbol's starting actor)."""
    restore, call = Gate(armed=True), Gate()
    restore.once = True
    r = Rig(tmp_path, restore, call=call)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        wait_until(lambda: restore.held == 1, message="the first start hangs in its restore")
        zombie = child.ref
        call.armed, call.once = True, True  # the successor's start waits in an exchange call
        r.hang_past_the_bound(child)
        wait_until(lambda: call.held == 1, message="the successor waits in a bounded call")
        assert child.state is ChildState.RESTARTING and child.restarts == 1

        restore.release.set()  # the replaced start wakes: its call is refused by its fence
        wait_until(lambda: not zombie.is_alive(), message="the replaced incarnation ends")
        assert "Fenced" in r.refused
        r.beats_handled()
        assert child.state is ChildState.RESTARTING, child.last_failure
        assert child.last_failure["where"] == "start" and child.restarts == 1

        call.release.set()
        wait_until(lambda: child.state is ChildState.RUNNING, message="the successor runs")
        assert child.restarts == 1 and child.last_failure["where"] == "start"
        assert child.incarnation == max(inc for inc, what in r.reports if what == "started")
    finally:
        restore.release.set()
        call.release.set()
        r.stop()


def test_a_successors_own_start_failure_is_still_counted_and_named(tmp_path):
    """After a replaced start, a failure reported while starting is not believed on its own
    (it may be the replaced one's); the successor's own is found by its death and named by
    its report."""
    restore = Gate(armed=True)
    restore.once = True
    r = Rig(tmp_path, restore)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        wait_until(lambda: restore.held == 1, message="the first start hangs in its restore")
        restore.bug = RuntimeError("a bug in the restore")
        r.hang_past_the_bound(child)
        wait_until(lambda: child.restarts == 1 and not child.ref.is_alive(),
                   message="the successor's start failed")
        # found dead at the beat that spawned it or at the next one (its thread may end either
        # side of that beat's check): known, then dead for longer than the heartbeat timeout
        # at the last step's beat, so its backoff is not passed before it is scheduled
        r.advance(STEP)
        wait_until(lambda: child.dead_at is not None, message="the successor found dead")
        r.advance(child.dead_at + TIMEOUT + STEP / 2 - r.mono())
        r.failed(child)
        assert child.last_failure["where"] == "on_start", child.last_failure
        assert "a bug in the restore" in child.last_failure["error"]
        assert child.state is ChildState.BACKING_OFF
    finally:
        restore.release.set()
        r.stop()


def test_a_replaced_start_that_ends_after_its_successors_does_not_fail_it(tmp_path):
    """The hung incarnation wakes and ends its start ("started", then "stopped": its stop was
    queued) while the supervisor is busy, its successor ends its own start meanwhile: whatever
    order they are handled in, the successor runs and nothing is failed as stopped unasked.
    The exchange checks no fence here, so the woken start can end (as one whose calls were all
    made before it hung would)."""
    turns = Turnstile(2)  # the first start's restore, then its successor's
    r = Rig(tmp_path, turns, fence_calls=False)
    child = r.sup.children[BTC]
    try:
        r.sup.start()
        wait_until(lambda: turns.held == 1, message="the first start hangs in its restore")
        zombie = child.ref
        r.hang_past_the_bound(child)
        wait_until(lambda: turns.held == 2, message="the successor waits in its restore")
        probe = child.start_probe
        assert child.state is ChildState.RESTARTING and probe is not None

        r.hold_beat.set()
        r.mono.advance(INTERVAL)
        assert r.beat_held.wait(10), "the supervisor's thread is held in a beat"
        turns.turns[0].set()  # the replaced start ends: "started", then its queued stop
        wait_until(lambda: not zombie.is_alive(), message="the replaced incarnation ends")
        turns.turns[1].set()  # the successor's start ends and answers its probe
        wait_until(lambda: answered(probe), message="the successor answers its probe")
        r.let_beat.set()  # the supervisor handles them all, the replaced one's first

        r.beats_handled()
        wait_until(lambda: child.state is ChildState.RUNNING, message="the successor runs")
        r.beats_handled()
        assert child.state is ChildState.RUNNING, child.last_failure
        assert child.last_failure["where"] == "start", child.last_failure
        assert child.restarts == 1
        started = [inc for inc, what in r.reports if what == "started"]
        assert child.incarnation == max(started)
    finally:
        turns.let_all()
        r.let_beat.set()
        r.stop()


def answered(future: Any) -> bool:
    try:
        future.get(timeout=0)
    except pykka.Timeout:
        return False
    return True
