"""`stable_after_s` counts the time a symbol ran, not the time since its last failure.

Found by review: the restart history reset its backoff and its crash-loop count once
`stable_after_s` had passed since the last failure, backoff and restart time included. A symbol
that never ran `stable_after_s` (each time 40 s of running after a 50 s backoff, with 60 s to be
stable) started over every time: its backoff never grew and the `crash_loop` alert the README
promises ("more than `max_restarts` failures without `stable_after_s` of running between
them") never came. Real supervisor, real actors and SQLite; the monotonic clock is passed in."""

from __future__ import annotations

from loguru import logger

from supervision.alerts import Alerts
from supervision.restart_policy import RestartHistory, RestartPolicy
from tests.supervision.test_restart_intensity_clock import CrashWhenArmed
from tests.support.clock import ManualClock
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
BACKOFF = 50.0
RUNS = 40.0  # each run is shorter than stable_after_s; backoff + run is longer
STABLE = 60.0


def test_a_symbol_never_running_stable_after_s_is_a_crash_loop(tmp_path):
    armed = [False]
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: CrashWhenArmed(armed))
    mono = ManualClock(start=1000.0)
    alerts = Alerts(logger=logger)
    sup = h.supervise_with(h.supervisor(
        policy=RestartPolicy(max_restarts=2, period_s=10, backoff_initial_s=BACKOFF,
                             backoff_max_s=BACKOFF, stable_after_s=STABLE),
        alerts=alerts, heartbeat_interval_s=0.05, heartbeat_timeout_s=3600,
        monotonic=mono), fenced=True)
    h.start()
    child = sup.children[BTC]
    try:
        for n in (1, 2, 3):
            mono.advance(RUNS)  # it runs, shorter than stable_after_s
            armed[0] = True
            h.poll()
            # the state is set before the clock is read for restart_at: wait for the backoff
            # scheduled, or the advance can come first and the restart lands past it
            wait_until(lambda: child.state.value == "backing_off" and child.restart_at is not None,
                       message=f"failure {n}")
            mono.advance(BACKOFF)
            wait_until(lambda n=n: child.restarts == n and child.state.value == "running",
                       message=f"restart {n}")
        assert child.history.consecutive == 3
        assert [a["kind"] for a in alerts.sent] == ["crash_loop"]
        assert sup.escalations == []
    finally:
        h.stop()


def test_a_run_of_stable_after_s_starts_the_count_over(tmp_path):
    policy = RestartPolicy(max_restarts=2, period_s=10, backoff_initial_s=BACKOFF,
                           backoff_max_s=BACKOFF, stable_after_s=STABLE)
    history = RestartHistory()
    history.started(0.0)
    history.on_failure(policy, RUNS)
    history.started(RUNS + BACKOFF)
    assert history.on_failure(policy, 2 * RUNS + BACKOFF).restarts_in_period == 1
    assert history.consecutive == 2  # ran 40 s: not stable
    history.started(200.0)
    history.on_failure(policy, 200.0 + STABLE)
    assert history.consecutive == 1  # ran stable_after_s: counted from the start again
