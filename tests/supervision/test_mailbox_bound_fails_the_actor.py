"""An actor whose mailbox grows past `mailbox_max` is failed and restarted from storage (the
supervisor's `_check_hung`); one at its bound is not.

Mutation audit (helper t): doubling the bound in the check (`size > 2 * mailbox_max`) failed no
test: no test drove a mailbox to its bound at all. An actor that cannot keep up (its messages
queued faster than it handles them) then grew its mailbox unchecked, every price and order
report for the symbol waiting behind the backlog. The bound itself is checked too (`>=` fails).

Real actors, supervisor and SQLite; the actor is held in its handler (its strategy waits on a
gate) while messages queue; the heartbeat timeout is an hour, so only the bound can fail it."""

from __future__ import annotations

import threading
from decimal import Decimal

import pykka
import pytest

from actors.inbox import inbox_depth
from supervision.child import ChildState
from tests.support.crashing import HangOnce
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BOUND = 10


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_a_mailbox_past_its_bound_fails_the_actor_and_one_at_it_does_not(tmp_path):
    gate, entered = threading.Event(), []
    h = Harness(tmp_path, [BTC, ETH], mailbox_max=BOUND, heartbeat_timeout_s=3600,
                strategy_for=lambda s: HangOnce(gate, entered) if s == BTC else NoSignals())
    beats: list[int] = []
    sup = h.supervise_with(h.supervisor(on_heartbeat=lambda: beats.append(1)), fenced=True)
    try:
        h.start()
        btc = sup.children[BTC]
        first = btc.ref
        assert first is not None
        h.poll()
        wait_until(lambda: entered, message="BTC's actor held in its handler")

        def rounds(n: int) -> None:
            mark = len(beats)
            wait_until(lambda: len(beats) >= mark + n, message=f"{n} heartbeat rounds")

        rounds(3)  # its Timer and Ping are queued (one of each at most: watch.py)
        for _ in range(BOUND - inbox_depth(first.actor_inbox)):  # up to the bound exactly
            assert h.tick(BTC, Decimal("60000"))
        rounds(3)
        assert btc.last_failure is None and btc.state is ChildState.RUNNING
        assert inbox_depth(first.actor_inbox) == BOUND
        for _ in range(BOUND // 2):  # past the bound, under twice the bound
            assert h.tick(BTC, Decimal("60000"))
        wait_until(lambda: btc.last_failure is not None, timeout=10,
                   message="BTC failed for its mailbox")
        assert btc.last_failure["where"] == "mailbox", btc.last_failure
        assert f"(bound {BOUND})" in btc.last_failure["error"]
        gate.set()
        wait_until(lambda: btc.restarts == 1 and btc.state is ChildState.RUNNING, timeout=20,
                   message="BTC restarted from storage")
        assert btc.ref is not first
        assert sup.children[ETH].state is ChildState.RUNNING
        assert sup.children[ETH].last_failure is None
    finally:
        gate.set()
        h.stop()
