"""A pykka ThreadingActor's mailbox depth. pykka types `actor_inbox` as its `ActorInbox`
protocol, which has no size; the threading actor's inbox is a `queue.Queue`, which does."""

from __future__ import annotations

import queue
from typing import Any


def inbox_depth(inbox: Any) -> int:
    """Messages waiting in a threading actor's mailbox (0 for an inbox that cannot tell)."""
    return inbox.qsize() if isinstance(inbox, queue.Queue) else 0
