"""The heartbeat spread over its interval: each beat goes to one part of the actors.

A heartbeat is a `Timer` and a `Ping` to every running actor. Sent to all of them at once, 500
actors became runnable together once a second and queued for the interpreter lock behind one
another for tens of milliseconds, and a price crossing a stop in that moment waited behind
them (bench/bench_stream_close.py: the close's p99 fell from 126 to 64 ms with heartbeats off,
in one run on a quiet machine). So the interval is cut into parts, at most one every
`MIN_PART_S`, and each beat tells one part: every actor still gets one beat per interval, at
its own phase, and the hung-actor check still looks at each actor once per interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

MAX_PARTS = 20
MIN_PART_S = 0.02

T = TypeVar("T")


def parts_for(interval_s: float, actors: int) -> int:
    """How many parts to cut one heartbeat interval into."""
    return max(1, min(MAX_PARTS, actors, int(interval_s / MIN_PART_S)))


def members(items: Iterable[T], part: int, parts: int) -> list[T]:
    """The items one beat goes to (every `parts`-th, starting at `part`)."""
    return [item for i, item in enumerate(items) if i % parts == part]
