"""Restart intensity is counted on the monotonic clock, not the wall clock.

The supervisor counted `max_restarts` within `restart_period_s` on the reports' wall-clock
times. After the wall clock stepped back (NTP, a VM restore), the failures from before the step
lay "in the future" and never left the window until the wall clock caught up with them: a
symbol failing once in a while (each failure minutes apart, far outside the window) escalated,
and an escalation runs the emergency close of its position. Real supervisor, real actors and
SQLite; the wall clock and the monotonic clock are passed in (manual clocks)."""

from __future__ import annotations

from typing import Any

from loguru import logger

from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.clock import ManualClock
from tests.support.crashing import ActorBug
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
BACKOFF = 0.5
PERIOD = 60.0


class CrashWhenArmed:
    """A bug that strikes on the next price once armed (shared by every incarnation)."""

    name = "crash-when-armed"

    def __init__(self, armed: list[bool]) -> None:
        self.armed = armed

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.armed and self.armed[0]:
            self.armed[0] = False
            raise ActorBug("bug on a price")
        return None


def rig(tmp_path: Any) -> tuple[Harness, Supervisor, ManualClock, ManualClock, list[bool]]:
    armed = [False]
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: CrashWhenArmed(armed))
    wall, mono = ManualClock(start=1_800_000_000.0), ManualClock(start=1000.0)
    sup = h.supervise_with(h.supervisor(
        policy=RestartPolicy(max_restarts=2, period_s=PERIOD, backoff_initial_s=BACKOFF,
                             backoff_max_s=BACKOFF, stable_after_s=30),
        alerts=Alerts(logger=logger), heartbeat_interval_s=3600, heartbeat_timeout_s=3600,
        clock=wall, monotonic=mono), fenced=True)
    return h, sup, wall, mono, armed


def crash_and_restart(h: Harness, sup: Supervisor, mono: ManualClock, armed: list[bool],
                      n: int) -> None:
    """The actor crashes on a price; once it backs off, time passes past its backoff and it
    must run again (restart number `n`)."""
    child = sup.children[BTC]
    armed[0] = True
    h.poll()
    # the supervisor sets the state, then reads the clock for restart_at: the clock moves on
    # only once the backoff is scheduled (moved before, the restart lands past the advance)
    wait_until(lambda: child.state.value == "quarantined" or child.restart_at is not None,
               message="the crash handled")
    assert child.state.value == "backing_off", (
        f"failure {n} escalated: {child.last_failure}")
    mono.advance(BACKOFF)
    wait_until(lambda: child.restarts == n and child.state.value == "running",
               message=f"restart {n}")


def test_failures_far_apart_do_not_escalate_after_the_wall_clock_stepped_back(tmp_path):
    h, sup, wall, mono, armed = rig(tmp_path)
    h.start()
    try:
        crash_and_restart(h, sup, mono, armed, 1)
        wall.advance(-3600.0)  # the wall clock is stepped back an hour
        for n in (2, 3):  # each failure two windows after the one before
            mono.advance(2 * PERIOD)
            wall.advance(2 * PERIOD)
            crash_and_restart(h, sup, mono, armed, n)
        assert sup.children[BTC].state.value == "running"
        assert sup.escalations == []
    finally:
        h.stop()
