"""A failed actor that wakes and crashes while its symbol backs off is not a second failure.

Mutation audit (helper t): dropping supervisor `_on_report`'s "the failed incarnation's thread
ending late" return (a report while BACKING_OFF) failed no test. The hung actor's own crash,
reported when it wakes, was then counted as a failure of its own: the restart intensity counted
one hang twice, and a symbol was escalated (quarantined, its position emergency-closed) after
half the restarts `max_restarts` allows.

Real actors, supervisor and SQLite; the hang and the crash come from the symbol's strategy."""

from __future__ import annotations

import threading

import pykka
import pytest

from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import HangOnce
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_a_hung_actor_crashing_when_it_wakes_is_counted_once(tmp_path):
    gate, entered = threading.Event(), []
    h = Harness(tmp_path, [BTC, ETH],
                strategy_for=lambda s: HangOnce(gate, entered, crash=True) if s == BTC
                else NoSignals())
    beats: list[bool] = []
    sup = h.supervise_with(h.supervisor(
        # one restart allowed; the backoff outlasts the test: BTC stays backing off
        policy=RestartPolicy(max_restarts=1, period_s=600, backoff_initial_s=300,
                             backoff_max_s=300, stable_after_s=300),
        heartbeat_interval_s=0.05, heartbeat_timeout_s=0.3,
        # at each beat: whether every report posted before it was handled (same thread)
        on_heartbeat=lambda: beats.append(h.sup._inbox.empty())), fenced=True)
    try:
        h.start()
        btc = sup.children[BTC]
        first = btc.ref
        assert first is not None
        h.poll()
        wait_until(lambda: entered, message="BTC's actor hangs in its handler")
        wait_until(lambda: btc.state is ChildState.BACKING_OFF, timeout=10,
                   message="the hang failed BTC")
        assert btc.last_failure is not None and btc.last_failure["where"] == "heartbeat"
        restart_at = btc.restart_at
        gate.set()  # the hung actor wakes and crashes: its report comes while BTC backs off
        wait_until(lambda: not first.is_alive(), message="the failed actor's thread ended")
        mark = len(beats)  # its "crashed" report was posted before its thread ended
        wait_until(lambda: any(beats[mark:]), timeout=10,
                   message="the supervisor handled every report posted so far")
        assert btc.state is ChildState.BACKING_OFF, (
            f"one hang was counted as two failures: {btc.state}, {btc.last_failure}")
        assert len(btc.history.failures) == 1
        assert btc.restart_at == restart_at
        assert not sup.escalations
    finally:
        gate.set()
        h.stop()
