"""The paced thread shared by the stop watch and the all-symbol sweep (actors/periodic.py): a
real thread on an injected clock. A failing round is one log line and the next round still
runs; a pace of None holds the rounds; a shorter pace takes effect within one look."""

from __future__ import annotations

import threading

from actors.periodic import Periodic
from tests.support.waiting import wait_until

LOOK_WAIT_S = 30.0
"""The deadline of one look of the loop's thread: the first one waits for the thread's start,
which takes longer than 5 s on a loaded CI machine (looks come every 0.01 s otherwise)."""


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, text: str, *args: object) -> None:
        self.lines.append(text.format(*args))


def test_a_failing_round_is_logged_and_the_next_one_runs() -> None:
    rounds: list[int] = []

    def work() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise ConnectionError("venue unreachable")

    log = Lines()
    loop = Periodic(name="t", work=work, pace=lambda: 0.01, look_s=0.01, logger=log,
                    what="test round")
    loop.start()
    try:
        wait_until(lambda: len(rounds) >= 3, message="rounds after the failure")
    finally:
        loop.stop()
    assert log.lines[0].startswith("test round failed: ") and "venue unreachable" in log.lines[0]
    assert len(log.lines) == 1


def test_no_round_without_a_pace_and_a_new_pace_within_one_look() -> None:
    clock = {"t": 0.0}
    pace: dict[str, float | None] = {"s": None}
    looks = threading.Semaphore(0)
    rounds: list[float] = []

    def current() -> float | None:
        looks.release()
        return pace["s"]

    loop = Periodic(name="t", work=lambda: rounds.append(clock["t"]), pace=current,
                    look_s=0.01, logger=Lines(), what="test", monotonic=lambda: clock["t"],
                    first_at_start=False)
    loop.start()
    try:
        for _ in range(5):  # five looks with no pace: no round
            assert looks.acquire(timeout=LOOK_WAIT_S)
        assert rounds == []
        pace["s"] = 10.0
        clock["t"] = 9.0  # 9 s since the start: not due at a 10 s pace
        for _ in range(3):
            assert looks.acquire(timeout=LOOK_WAIT_S)
        assert rounds == []
        clock["t"] = 10.0
        wait_until(lambda: rounds == [10.0], message="the round one pace after the start")
        for _ in range(3):  # the clock stands still: not due again
            assert looks.acquire(timeout=LOOK_WAIT_S)
        assert rounds == [10.0]
    finally:
        loop.stop()


def test_a_pace_that_raises_is_logged_and_the_rounds_go_on() -> None:
    """Found by review: `pace()` was asked outside the round's guard; one that raised (a bug in
    the streams' state it reads) ended the stop watch's thread without a line, and no stop was
    looked up again for the rest of the run."""
    paces: list[int] = []
    rounds: list[int] = []

    def pace() -> float:
        paces.append(1)
        if len(paces) == 1:
            raise AttributeError("'NoneType' object has no attribute 'streams_ok'")
        return 0.01

    log = Lines()
    loop = Periodic(name="t", work=lambda: rounds.append(1), pace=pace, look_s=0.01,
                    logger=log, what="test round")
    loop.start()
    try:
        wait_until(lambda: len(rounds) >= 2, message="rounds after the failed pace")
    finally:
        loop.stop()
    assert log.lines[0].startswith("test round failed: ") and "streams_ok" in log.lines[0]


def test_a_failed_round_waits_its_pace_before_the_next() -> None:
    """Found by a mutation audit: with the round's start taken only once its work succeeded,
    no test failed, and a round that kept failing (the venue unreachable) ran again at every
    look, without its pace: the stop watch or the sweep calling the exchange back to back,
    100 times a second, for as long as the outage lasted. The clock stands still after the
    failed first round: the next one is not due."""
    clock = {"t": 0.0}
    looks = threading.Semaphore(0)
    rounds: list[float] = []

    def current() -> float:
        looks.release()
        return 10.0

    def work() -> None:
        rounds.append(clock["t"])
        raise ConnectionError("venue unreachable")

    loop = Periodic(name="t", work=work, pace=current, look_s=0.01, logger=Lines(),
                    what="test", monotonic=lambda: clock["t"])
    loop.start()
    try:
        wait_until(lambda: rounds == [0.0], timeout=LOOK_WAIT_S, message="the first round")
        for _ in range(5):  # the clock stands still: not due again
            assert looks.acquire(timeout=LOOK_WAIT_S)
        assert rounds == [0.0]
        clock["t"] = 10.0
        wait_until(lambda: rounds == [0.0, 10.0], message="the next round one pace later")
    finally:
        loop.stop()
