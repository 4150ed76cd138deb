"""A configured node id (`cluster.node_id`) belongs to one live process at a time.

Leases stay safe when two processes are started with the same id by mistake (a copied config):
a lease is taken only when it is free or expired, and it is renewed, checked and released by
epoch as well as owner, so the second process can never act on the first one's epoch. But the
registry has one row per id: both would beat into it, the cluster would count one node where
two run, `bot.py cluster` would show one pid flipping between them, and balancing would hand
each node a share meant for one. So a node with a configured id waits, at start, until no live
node beats under that id: a crashed predecessor's row goes stale within the lease TTL; a row
still fresh after TTL + `EXTRA_WAIT_S` is another live process, and the start is refused with
one line naming the key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from cluster.balance import fresh

EXTRA_WAIT_S = 1.0
"""Past the TTL: a predecessor's last beat may have been written just before it died."""
POLL_S = 0.2


class NodeIdInUse(Exception):
    """Another live process beats under this node id."""


class _Registry(Protocol):
    def nodes(self) -> tuple[int, list[dict[str, Any]]]: ...


def live_holder(registry: _Registry, node_id: str, ttl_ms: int) -> dict[str, Any] | None:
    """The registry row of `node_id` if its last beat is within the TTL (database clock)."""
    now_ms, rows = registry.nodes()
    for row in rows:
        if row["node"] == node_id and fresh(now_ms - int(row["seen_ms"]), ttl_ms):
            return {**row, "age_ms": now_ms - int(row["seen_ms"])}
    return None


def claim(registry: _Registry, node_id: str, ttl_ms: int,
          clock: Callable[[], float] = time.monotonic,
          pause: Callable[[float], Any] | None = None) -> None:
    """Return once no live node beats under `node_id`; raise `NodeIdInUse` if one still does
    after TTL + EXTRA_WAIT_S."""
    pause = pause or threading.Event().wait
    deadline = clock() + ttl_ms / 1000 + EXTRA_WAIT_S
    while True:
        holder = live_holder(registry, node_id, ttl_ms)
        if holder is None:
            return
        if clock() >= deadline:
            raise in_use(node_id, holder)
        pause(POLL_S)


def in_use(node_id: str, holder: dict[str, Any] | None) -> NodeIdInUse:
    """The refusal of `node_id`, naming the live holder's pid and beat when it is known."""
    who = ("" if holder is None else
           f" (pid {holder['pid']}, last heartbeat {holder['age_ms']} ms ago)")
    return NodeIdInUse(f"cluster.node_id: {node_id!r} is in use by a live node{who}: every "
                       "node needs its own id (leave it empty to generate one)")
