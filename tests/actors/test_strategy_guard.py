"""The strategy guard's waits and streaks (actors/strategy_guard.py), driven directly: a
failure turns the strategy off, a fresh one is tried after RETRY_FIRST_S, each failure in a row
doubles the wait up to RETRY_MAX_S, and a renewed strategy that ran STABLE_S starts afresh."""

from __future__ import annotations

from decimal import Decimal

from actors.strategy_guard import (
    RETRY_FIRST_S,
    RETRY_MAX_S,
    STABLE_S,
    StrategyFailure,
    StrategyGuard,
    describe_failure,
    error_text,
)
from trading.events import SignalRaised
from trading.model import Side

P = Decimal("100")


class Script:
    name = "script"

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.fail:
            raise ValueError("bad window")
        return SignalRaised(side=Side.LONG, reason="go")


class Rig:
    def __init__(self, fails: list[bool], renew: bool = True) -> None:
        self.fails = list(fails)
        self.failures: list[StrategyFailure] = []
        self.renewals: list[int] = []
        self.guard = StrategyGuard(self._make(), renew=self._make if renew else None,
                                   on_failed=self.failures.append,
                                   on_renewed=lambda name, streak: self.renewals.append(streak))

    def _make(self) -> Script:
        return Script(self.fails.pop(0))


def test_failures_in_a_row_double_the_wait_up_to_the_cap() -> None:
    rig = Rig([True] * 10)
    now = 0.0
    waits = []
    for _ in range(8):
        assert rig.guard.on_price(P, None, now, None) is None
        waits.append(rig.failures[-1].retry_in_s)
        # off until the wait is over: the strategy is not asked (the next instance not made)
        assert rig.guard.on_price(P, None, now + waits[-1] - 0.001, None) is None
        now += waits[-1]
    assert waits == [RETRY_FIRST_S * 2 ** k for k in range(6)] + [RETRY_MAX_S, RETRY_MAX_S]
    assert [f.streak for f in rig.failures] == list(range(1, 9))
    assert rig.renewals == list(range(1, 8))


def test_a_renewed_strategy_that_ran_long_enough_starts_a_new_streak() -> None:
    rig = Rig([True, False, True])
    rig.guard.on_price(P, None, 0.0, None)  # fails: streak 1
    signal = rig.guard.on_price(P, None, RETRY_FIRST_S, None)  # renewed, works
    assert signal is not None and rig.guard.off_until is None
    rig.guard.strategy.fail = True  # type: ignore[attr-defined]
    rig.guard.on_price(P, None, RETRY_FIRST_S + STABLE_S, None)
    assert rig.failures[-1].streak == 1 and rig.failures[-1].retry_in_s == RETRY_FIRST_S


def test_without_a_factory_a_failed_strategy_stays_off() -> None:
    rig = Rig([True], renew=False)
    rig.guard.on_price(P, None, 0.0, None)
    assert rig.failures[-1].retry_in_s is None
    assert rig.guard.on_price(P, None, 10 * RETRY_MAX_S, None) is None
    assert rig.renewals == []
    assert "stays off until the actor restarts" in describe_failure("X", rig.failures[-1])


def test_the_error_names_type_message_and_place_in_one_line() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    try:
        raise ValueError("two\nlines")
    except ValueError as exc:
        text = error_text(exc)
    assert text.startswith("ValueError: two lines (test_strategy_guard.py:") and "\n" not in text
    try:
        raise Unprintable()
    except Unprintable as exc:
        assert error_text(exc).startswith("Unprintable: (its message could not be read)")


def test_a_strategy_returning_something_else_than_a_signal_is_a_failure_too() -> None:
    class Sloppy:
        name = "sloppy"

        def on_price(self, price, volume, now, position):  # noqa: ANN001
            return "buy"

    failures: list[StrategyFailure] = []
    guard = StrategyGuard(Sloppy(), renew=None, on_failed=failures.append,
                          on_renewed=lambda name, streak: None)
    assert guard.on_price(P, None, 0.0, None) is None
    assert failures[0].error.startswith("TypeError: on_price returned a str, not a SignalRaised")


def test_a_streak_of_any_length_waits_the_cap_without_overflowing() -> None:
    """Found by review: 2 ** (streak - 1) overflowed the float after ~1,025 failures in a row
    (weeks of hourly retries), and the actor crashed on the guard meant to contain failures."""
    rig = Rig([True] * 3)
    rig.guard.streak = 5_000
    rig.guard.on_price(P, None, 0.0, None)
    assert rig.failures[-1].retry_in_s == RETRY_MAX_S


def test_a_fresh_instance_that_cannot_be_built_is_a_failure_of_the_streak_not_a_crash() -> None:
    """Found by review: the renewal called the factory outside the guard, so a factory that
    raised (a strategy whose constructor loads something that is gone) crashed the symbol's
    actor, whose restart built the strategy again and crashed again: the crash loop (and the
    escalation's emergency close) the guard exists to prevent. A streak of such failures keeps
    doubling its wait (it is not taken for a renewed strategy that ran STABLE_S)."""
    built = {"n": 0}

    def broken_factory() -> Script:
        built["n"] += 1
        raise OSError("model file gone")

    failures: list[StrategyFailure] = []
    renewals: list[int] = []
    guard = StrategyGuard(Script(True), renew=broken_factory, on_failed=failures.append,
                          on_renewed=lambda name, streak: renewals.append(streak))
    guard.on_price(P, None, 0.0, None)  # the strategy fails: off for RETRY_FIRST_S
    now = RETRY_FIRST_S
    for _ in range(3):
        assert guard.on_price(P, None, now, None) is None  # the factory raises: contained
        now += failures[-1].retry_in_s or 0.0
    assert built["n"] == 3 and renewals == []
    assert [f.streak for f in failures] == [1, 2, 3, 4]
    assert failures[1].error.startswith("OSError: model file gone (test_strategy_guard.py:")
    assert [f.retry_in_s for f in failures] == [RETRY_FIRST_S * 2 ** k for k in range(4)]


def test_a_failed_build_long_after_the_last_renewal_does_not_restart_the_streak() -> None:
    """A renewed strategy that ran STABLE_S and then failed starts a new streak once; the
    failed builds after it continue that streak (they do not alert every RETRY_FIRST_S)."""
    fails = [True, False]

    def factory() -> Script:
        if not fails:
            raise OSError("gone")
        return Script(fails.pop(0))

    failures: list[StrategyFailure] = []
    guard = StrategyGuard(factory(), renew=factory, on_failed=failures.append,
                          on_renewed=lambda name, streak: None)
    guard.on_price(P, None, 0.0, None)  # streak 1
    assert guard.on_price(P, None, RETRY_FIRST_S, None) is not None  # renewed, works
    guard.strategy.fail = True  # type: ignore[attr-defined]
    now = RETRY_FIRST_S + STABLE_S
    guard.on_price(P, None, now, None)  # a new streak: 1
    for _ in range(2):
        now += failures[-1].retry_in_s or 0.0
        guard.on_price(P, None, now, None)  # the factory raises
    assert [f.streak for f in failures] == [1, 1, 2, 3]
