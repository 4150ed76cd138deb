"""A person's reset of the kill switch forgets the escalations that tripped it: one more
escalation afterwards does not trip it again (supervision/escalation.py `reset_kill_switch`).

Mutation audit (helper t): keeping the escalation list on a reset failed no test. The next single
escalation of any symbol then counted with the ones the person had just dealt with and
tripped the switch again at once: no new entries anywhere, for one symbol's problem.

Real actors, supervisor, SQLite and paper exchange. Two symbols fail their start (a repository
given to the constructor) and escalate at once (max_restarts 0), which trips the switch (more than
one symbol); after the reset a third one's strategy raises on its first price."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from storage.repository import Repository
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

A, B, C, D = "AAA/USDT:USDT", "BBB/USDT:USDT", "CCC/USDT:USDT", "DDD/USDT:USDT"


class BrokenRestore(Repository):
    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol in (A, B):
            raise RuntimeError(f"a bug in {symbol}'s restore")
        return super().load(symbol, *args, **kwargs)


class CrashOnPrice:
    name = "buggy"

    def on_price(self, price: Any, volume: Any, now: Any, position: Any) -> None:
        raise ActorBug("bug in strategy")


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_one_escalation_after_a_reset_does_not_trip_the_switch_again(tmp_path):
    h = Harness(tmp_path, [A, B, C, D], repository=BrokenRestore, kill_switch_escalations=1,
                policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.1, stable_after_s=30),
                strategy_for=lambda s: CrashOnPrice() if s == C else NoSignals())
    try:
        h.start()
        sup = h.sup
        wait_until(lambda: sup.kill_switch, message="two escalations tripped the kill switch")
        assert {e["symbol"] for e in sup.escalations} == {A, B}
        sup.reset_kill_switch(by="test")
        assert not sup.kill_switch
        h.poll()  # C's strategy raises: C escalates (max_restarts 0)
        wait_until(lambda: C in {e["symbol"] for e in sup.escalations},
                   message="C's escalation")
        assert sup.children[C].state is ChildState.QUARANTINED
        assert not sup.kill_switch, (
            f"one escalation after the reset tripped the switch again: {sup.kill_switch_why}")
        assert sup.children[D].state is ChildState.RUNNING
    finally:
        h.stop()
