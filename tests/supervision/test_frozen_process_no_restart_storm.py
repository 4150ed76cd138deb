"""A process frozen as a whole (SIGSTOP, a VM or laptop suspended) is not every actor's hang.

Mutation audit (helper t): dropping the supervisor loop's freeze check (`now - last > 2 *
heartbeat_timeout_s`: the pings' ages start over) failed no test. Without it, after a freeze
every actor with a Ping out and a handler running when the process stopped was judged hung at
once and restarted together: a restart storm made by the host, not by the actors.

Real actors, supervisor and SQLite; the supervisor's monotonic clock is moved by hand (the
freeze), and each actor is in its handler (its strategy waits on a gate) with its Ping out."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from supervision.child import ChildState
from tests.support.clock import ManualClock
from tests.support.harness import Harness
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
TIMEOUT_S = 30.0
STEP_S = 0.02
"""The supervisor's clock moves this much at each look of the test: its beats come with it."""


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


class Busy:
    """The first price waits on a gate (the handler the freeze caught); then no signal."""

    name = "busy"

    def __init__(self, gate: threading.Event, entered: list[str], symbol: str) -> None:
        self.gate, self.entered, self.symbol = gate, entered, symbol
        self.done = False

    def on_price(self, price: Any, volume: Any, now: Any, position: Any) -> None:
        if not self.done:
            self.done = True
            self.entered.append(self.symbol)
            self.gate.wait(30)


def ticking(mono: ManualClock) -> bool:
    mono.advance(STEP_S)  # well under the timeout in all: no Ping is late but for the freeze
    return True


def test_a_frozen_process_restarts_no_actor(tmp_path):
    gate, entered = threading.Event(), []
    mono = ManualClock(start=50_000.0)
    h = Harness(tmp_path, SYMBOLS, strategy_for=lambda s: Busy(gate, entered, s))
    beats: list[int] = []
    sup = h.supervise_with(h.supervisor(
        heartbeat_interval_s=0.05, heartbeat_timeout_s=TIMEOUT_S, monotonic=mono,
        on_heartbeat=lambda: beats.append(1)), fenced=True)
    try:
        h.start()
        h.poll()  # each actor enters its handler and stays there (the gate)
        wait_until(lambda: sorted(entered) == sorted(SYMBOLS), message="every actor is busy")
        wait_until(lambda: ticking(mono) and all(c.ping is not None
                                                  for c in sup.children.values()),
                   message="a Ping out to every actor")
        mono.advance(4 * TIMEOUT_S)  # the whole process was frozen for 2 min: no thread ran
        mark = len(beats)
        wait_until(lambda: ticking(mono) and len(beats) >= mark + 3, timeout=10,
                   message="full heartbeat rounds after the freeze")
        failed = {s: c.last_failure for s, c in sup.children.items()
                  if c.last_failure is not None}
        assert failed == {}, f"a freeze of the whole process failed actors: {failed}"
        gate.set()  # the handlers end
        for symbol in SYMBOLS:
            h.idle(symbol)
        assert all(c.state is ChildState.RUNNING and c.restarts == 0
                   for c in sup.children.values())
    finally:
        gate.set()
        h.stop()
