"""The live streams (``/api/events``) have their own caps, apart from the connection cap.

A stream is a request that never ends, so without a cap of its own a single local client could
open 64 of them, fill the server's connections and leave ``/api/status`` unanswered (found by
review). Here:

- a connection that becomes a stream leaves the shared connection count
  (dashboard/connections.py): streams never take the slots of plain requests;
- at most ``per_peer`` streams per peer address: a new one closes that peer's oldest stream,
  which is sent ``event: closed`` with the reason first (the page then polls ``/api/status``).
  The oldest rather than the newest: the page someone just opened is the one being looked at,
  while the oldest is the likeliest to be a forgotten tab or a connection whose client vanished
  (those stay open until a write fails, minutes later), and refusing the new one would lock a
  person out behind their own dead streams;
- at most ``max_streams`` in all: over it a new stream is refused (503, the page polls); one
  peer, or many loopback addresses, cannot push out other peers' streams.

Everything here runs on the dashboard's event loop (no locks).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

EVICT_GRACE_S = 1.0
"""An evicted stream's connection is cut this long after the eviction if its handler has not
ended it by then (a client that reads nothing: its write is stuck on a full buffer)."""


class Stream:
    """One open event stream: woken early to end (evicted, or the server stopping)."""

    def __init__(self, peer: str, transport: Any) -> None:
        self.peer, self.transport = peer, transport
        self.wake = asyncio.Event()
        self.ended_because: str | None = None
        self._backstop: asyncio.TimerHandle | None = None

    def end(self, reason: str) -> None:
        """Ask the handler to say ``reason`` and end; cut the connection if it cannot."""
        self.ended_because = reason
        self.wake.set()
        if self._backstop is None and self.transport is not None:
            self._backstop = asyncio.get_running_loop().call_later(EVICT_GRACE_S, self._cut)

    def done(self) -> None:
        if self._backstop is not None:
            self._backstop.cancel()
            self._backstop = None

    def _cut(self) -> None:
        self._backstop = None
        if not self.transport.is_closing():
            self.transport.abort()

    async def sleep(self, seconds: float) -> None:
        """Until the next push, or until woken."""
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except TimeoutError:
            pass


class StreamLimits:
    def __init__(self, *, max_streams: int = 32, per_peer: int = 8,
                 on_evicted: Callable[[str, int], None] = lambda peer, n: None) -> None:
        if not 1 <= per_peer <= max_streams:
            raise ValueError("need 1 <= per_peer <= max_streams")
        self.max_streams, self.per_peer, self.on_evicted = max_streams, per_peer, on_evicted
        self._peers: dict[str, OrderedDict[Stream, None]] = {}
        self.open = 0

    def admit(self, stream: Stream) -> bool:
        """False: refused (``max_streams`` are open). At the peer's cap its oldest stream is
        ended to make room."""
        mine = self._peers.get(stream.peer) or OrderedDict()
        if len(mine) >= self.per_peer:
            oldest, _ = mine.popitem(last=False)
            self.open -= 1
            oldest.end(f"more than {self.per_peer} live streams from your address: this one, "
                       "the oldest, was closed; the page polls /api/status instead")
            self.on_evicted(stream.peer, self.per_peer)
        elif self.open >= self.max_streams:
            return False
        mine[stream] = None
        self._peers[stream.peer] = mine
        self.open += 1
        return True

    def release(self, stream: Stream) -> None:
        stream.done()
        mine = self._peers.get(stream.peer)
        if mine is not None and stream in mine:
            del mine[stream]
            self.open -= 1
            if not mine:
                del self._peers[stream.peer]

    def wake_all(self) -> None:
        """The server is stopping: every stream's handler looks up now."""
        for mine in self._peers.values():
            for stream in mine:
                stream.wake.set()
