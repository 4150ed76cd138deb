"""The trade ids already delivered, shared by the stream feed and the REST fills poller so a fill
seen on both (a stream message and the REST gap fill after a reconnect) reaches its symbol's
mailbox once. Bounded: the oldest ids are forgotten first (the pollers' time windows are far
shorter than the history kept).

An id is remembered with its symbol: Binance numbers trades (and orders) per symbol, so ETH's
trade 1001 and BTC's trade 1001 are two trades."""

from __future__ import annotations

import threading
from collections import defaultdict, deque


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


class FillBatch:
    """One batch of new fills, grouped for delivery: per symbol, our order ids in the order
    their fills happened (the order of each one's last fill; `add` in time order). A set sorted
    by id sent them alphabetically (`...-21s` before `...-24a`, `-100e` before `-99s`), so the
    actor booked a stop's fill before the add it closed."""

    def __init__(self) -> None:
        self._ids: dict[str, list[str]] = defaultdict(list)
        self.unknown: set[str] = set()

    def add(self, symbol: str, client_order_id: str | None, own_prefix: str) -> None:
        cid = client_order_id or ""
        if cid.startswith(own_prefix):
            self._ids[symbol].append(cid)
        else:
            self.unknown.add(symbol)

    def symbols(self) -> list[str]:
        return sorted(set(self._ids) | self.unknown)

    def ids(self, symbol: str) -> tuple[str, ...]:
        return tuple(in_fill_order(self._ids.get(symbol, [])))


def in_fill_order(client_order_ids: list[str]) -> list[str]:
    """The ids of one symbol's fills, listed in time order, as `FillBatch` delivers them: each
    once, in the order of its last fill (the backtest reports a point's fills the same way)."""
    ids: dict[str, None] = {}
    for cid in client_order_ids:
        ids.pop(cid, None)
        ids[cid] = None
    return list(ids)
