"""One order model for both trading styles: what an order is for, where it stands, and the
record we keep of it from the moment its intent is committed.

The one-way core and the hedge grid used to have two models (`OrderRecord`/`OrderPurpose` and
`GridOrder`/`GridKind`); both names remain as aliases of `Order`/`OrderPurpose` so callers
outside `trading/` keep working. Stored values stay what each style wrote before (`entry`,
`stop`, `close`, `emergency`, `add`, `tp`); the grid's old `open` (its opening market order)
reads as `entry` through `parse_purpose` (incident 7: never break restore).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trading.primitives import ZERO, Side, parse_enum


class OrderPurpose(StrEnum):
    ENTRY = "entry"
    """Market order that opens (or, in the grid, reopens) a position or leg."""
    LEVEL = "add"
    """Resting limit order at a grid leg's next level (averaging in)."""
    TAKE_PROFIT = "tp"
    """Resting reduce-only limit order at a grid leg's take-profit."""
    STOP = "stop"
    """Resting reduce-only stop-market order protecting the position on the exchange."""
    CLOSE = "close"
    """Reduce-only market order the bot sends itself (exit signal, crossed stop, ...)."""
    EMERGENCY = "emergency"
    """Reduce-only market order of the escalation path."""

    # Aliases kept for the grid's former `GridKind` names (same members, not new values).
    OPEN = "entry"
    ADD = "add"
    TP = "tp"

    @property
    def reduces(self) -> bool:
        """True for every order that may only make a position smaller."""
        return self not in (OrderPurpose.ENTRY, OrderPurpose.LEVEL)

    @property
    def letter(self) -> str:
        """One character of the client order id (see trading/client_ids.py)."""
        return _LETTERS[self]


_LETTERS = {
    OrderPurpose.ENTRY: "e",
    OrderPurpose.LEVEL: "a",
    OrderPurpose.TAKE_PROFIT: "t",
    OrderPurpose.STOP: "s",
    OrderPurpose.CLOSE: "c",
    OrderPurpose.EMERGENCY: "x",
}

LEGACY_PURPOSES = {"open": OrderPurpose.ENTRY}
"""Values older versions stored that are not a value today (the grid's `GridKind.OPEN`)."""


def parse_purpose(value: object) -> OrderPurpose:
    """Read a stored purpose in any casing, legacy names included; ValueError otherwise."""
    legacy = LEGACY_PURPOSES.get(str(value).strip().lower())
    return legacy if legacy is not None else parse_enum(OrderPurpose, value)


class OrderStatus(StrEnum):
    PENDING = "pending"  # intent committed, exchange answer not yet processed
    OPEN = "open"  # acknowledged and resting
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    FAILED = "failed"  # proven never to have reached the exchange

    @property
    def live(self) -> bool:
        return self in (OrderStatus.PENDING, OrderStatus.OPEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One order we own, from the moment its intent is committed (write-ahead)."""

    client_order_id: str
    """Our id (trading/client_ids.py), sent as clientOrderId; unique per account."""
    purpose: OrderPurpose
    side: str
    """'buy' or 'sell' (ccxt's order side)."""
    amount: Decimal
    price: Decimal | None = None
    """Limit price (level, take-profit) or trigger price (stop); None for market orders."""
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.PENDING
    exchange_id: str | None = None
    filled: Decimal = ZERO
    """Cumulative filled amount already applied to the position."""
    average: Decimal | None = None
    fee: Decimal = ZERO
    """Cumulative fee already booked."""
    realized_pnl: Decimal = ZERO
    """Realized P&L the exchange reported for this order's fills so far (cumulative, like
    `filled`; grid orders, whose fills are booked with the exchange's P&L)."""
    position_id: str | None = None
    leg: Side | None = None
    """The hedge leg the order belongs to; None in one-way mode."""
    level: int = 0
    """Grid level of a LEVEL order (1..levels); 0 otherwise."""
    created_at: float = 0.0
    last_error: str | None = None
    replaces: str | None = None
    """For a moved stop (or take-profit): the order it replaces, cancelled once this one is
    acknowledged, so the position is never without one."""
    cancel_requested_at: float | None = None
    """Set when we asked the exchange to cancel; the order stays live until that is confirmed."""

    @property
    def stop_price(self) -> Decimal | None:
        """Trigger price of a stop (None for every other purpose)."""
        return self.price if self.purpose is OrderPurpose.STOP else None

    @property
    def remaining(self) -> Decimal:
        """What the order can still fill: a stop filled in part covers only this much more."""
        return self.amount - self.filled

    @property
    def kind(self) -> OrderPurpose:
        """The grid's former name for `purpose`."""
        return self.purpose

    @property
    def is_stop(self) -> bool:
        return self.purpose is OrderPurpose.STOP


def filed(live: tuple[Order, ...], finished: tuple[Order, ...],
          order: Order) -> tuple[tuple[Order, ...], tuple[Order, ...]]:
    """The live and finished orders of a state once `order` is inserted or updated: a live
    order replaces its earlier version in place (the live orders stay in placement order, so
    the last of a purpose is the newest: `active_stop`, a stop move's `replaces`; a report about
    an old stop being cancelled once made it the newest, found by review) or is appended; a
    terminal one leaves the live orders for `finished`. Both trading styles' states file their
    orders through this one function (`SymbolState.with_order`, `GridState.with_order`)."""
    cid = order.client_order_id
    others = tuple(o for o in live if o.client_order_id != cid)
    if not order.status.live:
        return others, finished + (order,)
    if len(others) == len(live):
        return others + (order,), finished
    return tuple(order if o.client_order_id == cid else o for o in live), finished
