"""The bot freezes the objects alive once it has started (and once more a minute later) out of
the cyclic collector's walks, and gives them back at stop (runtime/interpreter.py)."""

from __future__ import annotations

import gc

from runtime.interpreter import GcFreezer


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args: object) -> None:
        self.lines.append(fmt.format(*args))


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_started_freezes_again_a_minute_later_and_stop_unfreezes():
    now = [1000.0]
    log = Log()
    freezer = GcFreezer(log, clock=lambda: now[0])
    try:
        kept = [Cycle() for _ in range(1000)]  # alive at start: frozen, not walked
        freezer.started()
        frozen = gc.get_freeze_count()
        assert frozen >= 1000
        assert len(log.lines) == 1 and "(started;" in log.lines[0]
        freezer.tick()
        now[0] += GcFreezer.AGAIN_AFTER_S - 0.5
        freezer.tick()
        assert freezer.freezes == 1
        later = [Cycle() for _ in range(500)]  # made after the start (a stream's markets)
        now[0] += 1.0
        freezer.tick()
        assert freezer.freezes == 2
        # the later objects are in the permanent generation (not listed by get_objects); a
        # count against `frozen` failed once in a pytest-xdist worker, where the freeze state
        # is the whole process's and another test's objects had gone meanwhile
        walked = {id(o) for o in gc.get_objects()}
        assert not any(id(c) in walked for c in later)
        assert "(running 60 s;" in log.lines[1]
        now[0] += 3600
        freezer.tick()
        assert freezer.freezes == 2  # twice only
    finally:
        freezer.stopped()
    assert gc.get_freeze_count() == 0
    del kept, later


def test_garbage_cycles_are_collected_before_the_freeze():
    import weakref

    freezer = GcFreezer(Log())
    dead = Cycle()
    ref = weakref.ref(dead)
    del dead  # a cycle only the collector frees: it must not be frozen alive
    try:
        freezer.started()
        assert ref() is None
    finally:
        freezer.stopped()
