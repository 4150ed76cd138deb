"""The trade ids already delivered, shared by the stream feed and the REST fills poller so a fill
seen on both (a stream message and the REST gap fill after a reconnect) reaches its symbol's
mailbox once. Bounded: the oldest ids are forgotten first (the pollers' time windows are far
shorter than the history kept).

An id is remembered with its symbol: Binance numbers trades (and orders) per symbol, so ETH's
trade 1001 and BTC's trade 1001 are two trades."""

from __future__ import annotations

import threading
from collections import deque


class TradeIds:
    def __init__(self, maxlen: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._order: deque[tuple[str, str]] = deque()
        self._set: set[tuple[str, str]] = set()
        self._maxlen = maxlen

    def add(self, symbol: str, trade_id: str) -> bool:
        """Remember `symbol`'s `trade_id`; True when it was new (the caller delivers it)."""
        key = (symbol, trade_id)
        with self._lock:
            if key in self._set:
                return False
            if len(self._order) >= self._maxlen:
                self._set.discard(self._order.popleft())
            self._order.append(key)
            self._set.add(key)
            return True

    def seen(self, symbol: str, trade_id: str) -> bool:
        with self._lock:
            return (symbol, trade_id) in self._set
