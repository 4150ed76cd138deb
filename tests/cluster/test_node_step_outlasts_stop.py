"""An account the node stops while the run loop's step on it still runs past the stop's wait
(runtime/node_accounts.py `NodeAccount.stop`, runtime/round_gate.py `STEP_WAIT_S`) did not stop
cleanly: the step (a controls or protections pass: it may deliver a signal to an actor or start
an emergency close) can still reach the exchange under the old epoch. The stop must say so, so
that the node leaves the lease to expire (expiry + the takeover grace, cluster/node.py
`_unsafe`) instead of releasing it for another node to take at once.

Found by review (session 49): the stop logged "stopping the account anyway" and returned only
the actors' stuck list, empty when the actors themselves stopped, so the node released the
lease at once (a hand-over: no grace) with the step still under way.

Real threads and RoundGate; the runtime is the stand-in of tests/cluster/test_node_accounts.py,
injected through NodeAccount's constructor, as is the stop's wait for the step."""

from __future__ import annotations

import threading

from runtime.node_accounts import NodeAccount
from tests.cluster.test_node_accounts import Runtime


def test_a_step_still_running_after_the_wait_makes_the_stop_unclean() -> None:
    runtime = Runtime(fail=())
    entered, release = threading.Event(), threading.Event()

    def step() -> None:
        with runtime.round.step():
            entered.set()
            release.wait(60)

    stepping = threading.Thread(target=step, name="run-loop", daemon=True)
    stepping.start()
    try:
        assert entered.wait(30)
        stuck = NodeAccount(runtime, step_wait_s=0.2).stop()
        assert runtime.calls == ["stop"]  # the actors were stopped all the same
        assert stuck, "a step still under way must make the stop unclean"
        assert any("run loop" in s for s in stuck), stuck
    finally:
        release.set()
        stepping.join(30)


def test_a_step_that_ends_in_time_leaves_the_stop_clean() -> None:
    runtime = Runtime(fail=())
    assert NodeAccount(runtime, step_wait_s=0.2).stop() == []
