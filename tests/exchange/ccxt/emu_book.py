"""In-memory order book shared by the venue emulators: market orders fill at the set price,
limit orders and trigger (stop) orders rest open; one net position per symbol."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class EmuOrder:
    oid: str
    cid: str
    symbol: str  # exchange-native id, e.g. BTCUSDT
    side: str  # 'buy' | 'sell'
    type: str  # 'market' | 'limit'
    qty: Decimal
    price: Decimal | None
    trigger: Decimal | None
    trigger_direction: int | None  # 1 rising, 2 falling
    reduce_only: bool
    created_ms: int
    status: str = "open"  # open | untriggered | filled | canceled
    filled: Decimal = Decimal(0)
    avg: Decimal | None = None
    updated_ms: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class EmuTrade:
    tid: str
    order: EmuOrder
    price: Decimal
    qty: Decimal
    fee: Decimal
    ts: int


class Book:
    def __init__(self, prices: dict[str, Decimal], now_ms: int = 1_700_000_000_000) -> None:
        self.prices = dict(prices)
        self.orders: dict[str, EmuOrder] = {}
        self.trades: list[EmuTrade] = []
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed size, entry)
        self.balance = Decimal("10000")
        self.now_ms = now_ms
        self.lock = threading.RLock()
        self._ids = itertools.count(1001)

    def tick(self) -> int:
        self.now_ms += 1000
        return self.now_ms

    def next_id(self) -> str:
        return str(next(self._ids))

    def place(self, **fields) -> EmuOrder:
        with self.lock:
            order = EmuOrder(oid=self.next_id(), created_ms=self.tick(), **fields)
            order.updated_ms = order.created_ms
            if order.trigger is not None:
                order.status = "untriggered"
            elif order.type == "market":
                self._fill(order, self.prices[order.symbol])
            self.orders[order.oid] = order
            return order

    def _fill(self, order: EmuOrder, price: Decimal) -> None:
        order.status, order.filled, order.avg = "filled", order.qty, price
        fee = (order.qty * price * Decimal("0.00055")).quantize(Decimal("0.00000001"))
        self.trades.append(EmuTrade(self.next_id(), order, price, order.qty, fee, self.tick()))
        size, entry = self.positions.get(order.symbol, (Decimal(0), Decimal(0)))
        delta = order.qty if order.side == "buy" else -order.qty
        new = size + delta
        if size == 0 or (size > 0) == (delta > 0):
            entry = (abs(size) * entry + abs(delta) * price) / abs(new) if new else Decimal(0)
        elif new == 0:
            entry = Decimal(0)
        self.positions[order.symbol] = (new, entry)
        self.balance -= fee

    def find(self, oid: str | None = None, cid: str | None = None, stops: bool | None = None):
        with self.lock:
            for order in self.orders.values():
                if (oid and order.oid == oid) or (cid and order.cid == cid):
                    is_stop = order.trigger is not None
                    if stops is None or stops == is_stop:
                        return order
            return None

    def cancel(self, order: EmuOrder) -> bool:
        with self.lock:
            if order.status not in ("open", "untriggered"):
                return False
            order.status, order.updated_ms = "canceled", self.tick()
            return True
