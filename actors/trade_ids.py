"""The trade ids already delivered, shared by the stream feed and the REST fills poller so a fill
seen on both (a stream message and the REST gap fill after a reconnect) reaches its symbol's
mailbox once. Bounded: the oldest ids are forgotten first (the pollers' time windows are far
shorter than the history kept)."""

from __future__ import annotations

import threading
from collections import deque


class TradeIds:
    def __init__(self, maxlen: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        self._maxlen = maxlen

    def add(self, trade_id: str) -> bool:
        """Remember `trade_id`; True when it was new (the caller delivers it)."""
        with self._lock:
            if trade_id in self._set:
                return False
            if len(self._order) >= self._maxlen:
                self._set.discard(self._order.popleft())
            self._order.append(trade_id)
            self._set.add(trade_id)
            return True

    def __contains__(self, trade_id: object) -> bool:
        with self._lock:
            return trade_id in self._set
