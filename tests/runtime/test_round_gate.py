"""The run loop's step on an account and the account's stop exclude each other (runtime/
round_gate.py): a stop waits for the step under way, and no step starts once the stop began
(tests/cluster/test_node_round_hand_over.py shows it on a real node's hand-over)."""

from __future__ import annotations

import threading

import pytest

from runtime.round_gate import AccountLeft, RoundGate


def test_a_stop_waits_for_the_step_under_way_and_no_step_starts_after_it() -> None:
    gate = RoundGate()
    inside, release, waited = threading.Event(), threading.Event(), []

    def step() -> None:
        with gate.step():
            inside.set()
            release.wait(30)

    runner = threading.Thread(target=step)
    runner.start()
    assert inside.wait(30)
    gate.leave()
    assert not gate.wait_steps(0.05)  # the step still holds the account
    with pytest.raises(AccountLeft):
        with gate.step():
            waited.append("ran")  # never: the account is leaving
    release.set()
    assert gate.wait_steps(30)
    runner.join(30)
    assert waited == []


@pytest.mark.parametrize("aborting", [False, True])
def test_a_step_failing_during_a_stop_is_skipped_only_when_the_stop_aborts_its_calls(
        aborting: bool) -> None:
    """A stop that aborts the account's database calls (a lapsed lease) cuts the step under way
    short: AccountLeft, the step skipped (tests/cluster/test_lapsed_stop_aborts.py shows it on
    real PostgreSQL). A stop that aborts nothing leaves a step's own failure its error."""
    gate = RoundGate()
    expected = AccountLeft if aborting else ValueError
    with pytest.raises(expected) as caught:
        with gate.step():
            gate.leave(aborting=aborting)
            raise ValueError("the step's call failed")
    if aborting:
        assert isinstance(caught.value.__cause__, ValueError)
