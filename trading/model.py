"""Frozen domain state of one symbol: position, trailing stop, live orders, close attempts.

Everything here is plain data. The state machine lives in `trading/decide.py`; storage maps these
records to rows. Enum values are lower-case; `parse_enum` reads any casing (incident 7: rows
written by an older version held `WAITING` where the code said `waiting`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

ZERO = Decimal(0)

E = TypeVar("E", bound=StrEnum)


def parse_enum(cls: type[E], value: object) -> E:
    """Read an enum value case-insensitively; raise ValueError naming the allowed values."""
    text = str(value).strip().lower()
    for member in cls:
        if member.value == text:
            return member
    allowed = ", ".join(m.value for m in cls)
    raise ValueError(f"{value!r} is not a valid {cls.__name__} (allowed: {allowed})")


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def entry_order_side(self) -> str:
        return "buy" if self is Side.LONG else "sell"

    @property
    def exit_order_side(self) -> str:
        return "sell" if self is Side.LONG else "buy"


class Phase(StrEnum):
    FLAT = "flat"
    ENTERING = "entering"
    OPEN = "open"
    CLOSING = "closing"


class TrailingState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"


class OrderPurpose(StrEnum):
    ENTRY = "entry"
    STOP = "stop"
    CLOSE = "close"
    EMERGENCY = "emergency"

    @property
    def reduces(self) -> bool:
        return self is not OrderPurpose.ENTRY


class OrderStatus(StrEnum):
    PENDING = "pending"  # intent committed, exchange answer not yet processed
    OPEN = "open"  # acknowledged and resting (stops)
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    FAILED = "failed"  # proven never to have reached the exchange

    @property
    def live(self) -> bool:
        return self in (OrderStatus.PENDING, OrderStatus.OPEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One order we own, from the moment its intent is committed."""

    client_order_id: str
    """Our id, derived from the symbol's persisted order sequence; sent as clientOrderId."""
    purpose: OrderPurpose
    side: str
    """'buy' or 'sell' (ccxt's order side)."""
    amount: Decimal
    stop_price: Decimal | None = None
    """Trigger price for a reduce-only stop-market; None for market orders."""
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.PENDING
    exchange_id: str | None = None
    filled: Decimal = ZERO
    """Cumulative filled amount already applied to the position."""
    average: Decimal | None = None
    fee: Decimal = ZERO
    """Cumulative fee already booked."""
    position_id: str | None = None
    created_at: float = 0.0
    last_error: str | None = None
    replaces: str | None = None
    """For a moved stop: the client order id of the stop it replaces (cancelled once this one
    is acknowledged, so the position is never without a stop)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    position_id: str
    side: Side
    contracts: Decimal
    entry_price: Decimal
    opened_at: float
    fees: Decimal = ZERO
    """Fees paid on this position so far (entry and exits)."""
    realized_pnl: Decimal = ZERO
    """Gross realized P&L of the closing fills so far (before fees)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailingStop:
    state: TrailingState
    activation_price: Decimal
    callback_pct: Decimal
    best_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolState:
    symbol: str
    phase: Phase = Phase.FLAT
    position: Position | None = None
    trailing: TrailingStop | None = None
    stop_price: Decimal | None = None
    """Where the acknowledged exchange stop sits (the level the position is protected at)."""
    take_profit_price: Decimal | None = None
    orders: tuple[OrderRecord, ...] = ()
    """Live orders (pending or open). Terminal ones live only in storage."""
    order_seq: int = 0
    cooldown_until: float = 0.0
    close_attempts: int = 0
    next_close_at: float | None = None
    close_reason: str | None = None
    last_close_error: str | None = None
    needs_stop: bool = False
    next_stop_at: float = 0.0
    quarantined: bool = False
    quarantine_reason: str | None = None
    entries_blocked: bool = False
    last_price: Decimal | None = field(default=None, compare=False)
    """Latest price seen; not compared, so a tick alone never makes the state dirty."""
    finished_orders: tuple[OrderRecord, ...] = field(default=(), compare=False)
    """Orders that became terminal in the last decision (for storage); not persisted state."""
    skipped_for: str | None = field(default=None, compare=False)
    """Why the strategy's last entry signal was skipped (the kind of reason, without figures):
    the same reason again is not journaled on every price (issue 16 item 17). Not persisted: a
    restart records it once more."""

    def order(self, client_order_id: str) -> OrderRecord | None:
        for order in self.orders:
            if order.client_order_id == client_order_id:
                return order
        return None

    def live_orders(self, purpose: OrderPurpose) -> list[OrderRecord]:
        return [o for o in self.orders if o.purpose is purpose]

    def active_stop(self) -> OrderRecord | None:
        """The acknowledged stop that protects the position (the newest open one)."""
        stops = [o for o in self.orders if o.purpose is OrderPurpose.STOP]
        open_stops = [o for o in stops if o.status is OrderStatus.OPEN]
        return open_stops[-1] if open_stops else None

    def with_order(self, order: OrderRecord) -> SymbolState:
        """Insert or update a live order; terminal orders move to `finished_orders`."""
        others = tuple(o for o in self.orders if o.client_order_id != order.client_order_id)
        if order.status.live:
            return replace(self, orders=others + (order,))
        return replace(self, orders=others, finished_orders=self.finished_orders + (order,))
