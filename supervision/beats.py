"""The heartbeat spread over its interval: each beat goes to one part of the actors.

A heartbeat is a `Timer` and a `Ping` to every running actor. Sent to all of them at once, 500
actors became runnable together once a second and queued for the interpreter lock behind one
another for tens of milliseconds, and a price crossing a stop in that moment waited behind
them (bench/bench_stream_close.py: the close's p99 fell from 126 to 64 ms with heartbeats off,
in one run on a quiet machine). So the interval is cut into parts, at most one every
`MIN_PART_S`, and each beat tells one part: every actor still gets one beat per interval, at
its own phase, and the hung-actor check still looks at each actor once per interval.

The periodic `Reconcile` of a few symbols goes out at once instead: reconciliations are mostly
waiting on the exchange, and ones that run together share their reads. On Binance an
all-symbol `positionRisk` weighs what one symbol's does, so concurrent reconciles share one
position read (exchange/ccxt/fresh_read.py); spread one per part, the 20 held symbols of a
live account each paid two reads (bench_rate_budget.py: positionRisk 41 weight a minute against
15 before the spread). A large round (paper mode reconciles every symbol) is still spread.

A beat tells no `Timer` (no periodic `Reconcile`) to an actor that has one waiting: an actor
slower than the heartbeat (its reconciliations waiting for rate budget) got one more a second,
and a live soak saw mailboxes of 95-157, a stop's cancel report behind ~100 Timers, each of
which started the set-aside reconciliation again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

MAX_PARTS = 20
MIN_PART_S = 0.02
TOGETHER_MAX = 32
"""A periodic reconcile of at most this many symbols is sent at once (the held symbols of a
live account: `risk.max_open_positions` is 20 by default)."""

T = TypeVar("T")


def parts_for(interval_s: float, actors: int) -> int:
    """How many parts to cut one heartbeat interval into."""
    return max(1, min(MAX_PARTS, actors, int(interval_s / MIN_PART_S)))


def members(items: Iterable[T], part: int, parts: int) -> list[T]:
    """The items one beat goes to (every `parts`-th, starting at `part`)."""
    return [item for i, item in enumerate(items) if i % parts == part]


def spread_or_send(due: set[str], send: Callable[[str], object]) -> set[str]:
    """A small round of reconciles is sent now (returns the empty set); a large one is
    returned to go out with each actor's own part."""
    if len(due) > TOGETHER_MAX:
        return due
    for symbol in sorted(due):
        send(symbol)
    return set()
