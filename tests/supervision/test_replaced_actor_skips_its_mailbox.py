"""An actor the supervisor gave up on handles nothing more from its mailbox when it wakes.

Found by review: `_fail` stops a hung actor with `stop(block=False)`, which pykka queues behind
its whole mailbox. When the actor woke before its replacement claimed the symbol, it went on
handling what had queued (prices, signals, timers) and could save decisions its successor then
restored (a close attempt counted but never sent: its exchange call is fenced). Now a revoked
incarnation skips every queued message until its stop. Real supervisor, actors and SQLite; the
strategy hangs on its first price until the test lets it go."""

from __future__ import annotations

import dataclasses
import threading

from supervision.restart_policy import RestartPolicy
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class HangsOnFirstPrice:
    name = "hangs"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        self.calls += 1
        if self.calls == 1:
            self.release.wait(30)
        return None


def test_a_revoked_actor_handles_none_of_its_queued_messages(tmp_path):
    strategy = HangsOnFirstPrice()
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, heartbeat_interval_s=0.05,
                heartbeat_timeout_s=0.3,
                policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=60,
                                     backoff_max_s=60, stable_after_s=30))  # no successor yet
    h.deps = dataclasses.replace(h.deps, fences=h.sup.fences)
    h.start()
    try:
        old = h.child(BTC).ref
        h.poll()
        wait_until(lambda: strategy.calls == 1, message="the actor hung in its first price")
        h.clock.advance(5.0)
        h.poll()  # a second price queues behind the hung one
        wait_until(lambda: h.child(BTC).state.value == "backing_off",
                   message="the supervisor gave up on the hung actor")
        strategy.release.set()
        wait_until(lambda: not old.is_alive(), message="the old actor stopped")
        assert strategy.calls == 1  # the queued price was not handled by the revoked actor
    finally:
        strategy.release.set()
        h.stop()
