"""Is an actor that owes a heartbeat reply hung, or slow? (README "Liveness")

A Ping waits in the actor's mailbox behind every message sent before it. Under a saturated rate
budget each of those messages spends seconds in bounded exchange calls, so the reply can come
back long after `heartbeat_timeout_s` while the actor never stopped working. Judging that by
"is it inside an exchange call at this instant" (the busy mark alone) failed a working actor
whenever the check fell between two calls: a message had just ended (its mark cleared) and the
next one was deciding and committing before its first request (the TRX restart of soak b1:
the check came 3 ms after a 9 s reconcile ended, while the next Timer committed a stop move).

So an overdue reply is a hang only when the actor has also made no progress for the timeout:
it began or finished no message and announced no exchange call (exchange/fence.py
`BusyBoard`), and it is not inside an announced bounded call nor came out of one within the
timeout (a request that times out returns a little after its bound). An actor stuck in a
handler without progress is failed within the timeout of its last progress or of its last
bounded call's end.
"""

from __future__ import annotations

from enum import Enum

import pykka

from exchange.fence import BusyBoard
from supervision.child import Child


class Liveness(Enum):
    ALIVE = "alive"  # answered, or not overdue yet
    SLOW = "slow"  # overdue, but in a bounded exchange call or progressing: not a hang
    HUNG = "hung"


def judge(
    busy: BusyBoard, symbol: str, ping_age_s: float | None, timeout_s: float
) -> Liveness:
    """`ping_age_s`: how long the unanswered Ping has been out (None: none is)."""
    if ping_age_s is None or ping_age_s <= timeout_s:
        return Liveness.ALIVE
    if busy.busy_for(symbol) > 0 or busy.idle_for(symbol) <= timeout_s:
        return Liveness.SLOW
    return Liveness.HUNG


def ping_age(child: Child, now: float) -> float | None:
    """How long the child's Ping has been out unanswered (None: none is; an answered one is
    collected here, and one whose actor died is dropped: its failure report handles it)."""
    if child.ping is None:
        return None
    try:
        child.ping.get(timeout=0)
        child.ping = None
        return None
    except pykka.Timeout:
        pass
    except Exception:  # noqa: BLE001 - the actor died; its failure report handles it
        child.ping = None
        return None
    return None if child.ping_sent_at is None else now - child.ping_sent_at
