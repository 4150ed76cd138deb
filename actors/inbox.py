"""A pykka ThreadingActor's mailbox depth. pykka types `actor_inbox` as its `ActorInbox`
protocol, which has no size; the threading actor's inbox is a `queue.Queue`, which does."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any


def inbox_depth(inbox: Any) -> int:
    """Messages waiting in a threading actor's mailbox (0 for an inbox that cannot tell)."""
    return inbox.qsize() if isinstance(inbox, queue.Queue) else 0


def has_waiting(inbox: Any, kinds: tuple[type, ...],
                where: Callable[[Any], bool] = lambda message: True) -> bool:
    """Whether a message of one of `kinds` (for which `where` holds) waits in a threading
    actor's mailbox (False for an inbox that cannot tell). Reads pykka's envelopes under the
    queue's own lock."""
    if not isinstance(inbox, queue.Queue):
        return False
    with inbox.mutex:
        return any(isinstance(m := getattr(e, "message", None), kinds) and where(m)
                   for e in inbox.queue)
