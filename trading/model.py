"""Frozen domain state of one symbol: position, trailing stop, live orders, close attempts.

Everything here is plain data. The decisions live in `trading/decide.py`, the legal phase and
order-status changes in `trading/transitions.py`; storage maps these records to rows. Enum values
are lower-case; `parse_enum` reads any casing (incident 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from trading.evidence import Unconfirmed
from trading.frozen import replace
from trading.late_fees import FeeOwed
from trading.order_evidence import OrderDoubt
from trading.orders import Order, OrderPurpose, OrderStatus, filed, parse_purpose
from trading.primitives import ZERO, Side, parse_enum

if TYPE_CHECKING:
    from trading.entry_resend import EntryResend

OrderRecord = Order
"""The one-way core's former name of the one order model (trading/orders.py)."""

__all__ = ["ZERO", "ClosedNet", "Order", "OrderPurpose", "OrderRecord", "OrderStatus", "Phase",
           "Position", "Side", "SymbolState", "TrailingState", "TrailingStop", "parse_enum",
           "parse_purpose"]


class Phase(StrEnum):
    FLAT = "flat"
    ENTERING = "entering"
    OPEN = "open"
    CLOSING = "closing"


class TrailingState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"


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
class ClosedNet:
    """A closed position's net P&L as booked so far, and when it closed."""

    position_id: str
    net: Decimal
    closed_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolState:
    symbol: str
    phase: Phase = Phase.FLAT
    position: Position | None = None
    trailing: TrailingStop | None = None
    stop_price: Decimal | None = None
    """Where the acknowledged exchange stop sits (the level the position is protected at)."""
    take_profit_price: Decimal | None = None
    orders: tuple[Order, ...] = ()
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
    entries_blocked_reason: str | None = field(default=None, compare=False, repr=False)
    """Why entries are blocked (kill switch, shutdown, the protection that refused): the
    refusal names it. Not persisted (the block itself is re-sent to every new incarnation),
    not compared and left out of the repr (the backtest's decisions digest hashes it)."""
    last_price: Decimal | None = field(default=None, compare=False)
    """Latest price seen; not compared, so a tick alone never makes the state dirty."""
    finished_orders: tuple[Order, ...] = field(default=(), compare=False)
    """Orders that became terminal in the last decision (for storage); not persisted state."""
    skipped_for: str | None = field(default=None, compare=False)
    """Why the strategy's last entry signal was skipped (the kind of reason, without figures):
    the same reason again is not journaled on every price (issue 16 item 17). Not persisted: a
    restart records it once more."""
    entry_retry_at: float = field(default=0.0, compare=False, repr=False)
    """After an entry the venue refused (or that ended unfilled): no strategy entry before this
    (its signal holds for as long as its z-score does: one refused order per price). External
    signals are not held back. Not persisted: a restart may try once at once."""
    entry_refusals: int = field(default=0, compare=False, repr=False)
    """Entries refused in a row (the wait doubles); an entry that fills starts again."""
    stop_refusals: int = field(default=0, compare=False, repr=False)
    """Stops refused in a row (`RiskRules.stop_retry`); a stop that rests starts again. Not
    persisted: a restart retries fast once more."""
    unconfirmed: Unconfirmed | None = field(default=None, compare=False)
    """The exchange lists no position and nothing shows it closed (trading/evidence.py): the
    episode of contradictory answers. Not persisted: a restart starts counting again."""
    doubts: tuple[OrderDoubt, ...] = field(default=(), compare=False, repr=False)
    """Live orders whose last lookup answers were not evidence (trading/order_evidence.py).
    Not persisted (a restart starts counting again) and left out of the repr (the backtest's
    decisions digest hashes it)."""
    closed: ClosedNet | None = field(default=None, compare=False, repr=False)
    """The last closed position's net, while a fee of it may still be told (trading/late_fees.py,
    every Binance close): a fee that makes it a loss starts the cooldown after a loss as of the
    close (`lifecycle.book_late_fee`). Not persisted: a restart before the fee is told misses
    that cooldown (the protections recount the close from the ledger either way)."""
    resize_waited: bool = field(default=False, compare=False, repr=False)
    """The last reconciliation listed the position larger by what our entry still open could
    fill, and waited for the entry's report (trading/unbooked_fills.py `resized`): the next one
    that still does follows the exchange, as the grid's `resize_waits`. Not persisted."""
    fees_owed: tuple[FeeOwed, ...] = field(default=(), compare=False, repr=False)
    """Ended orders whose fee the venue has not told yet (trading/late_fees.py): looked at
    again. Persisted (`actor_state.fees_owed`), so a restart looks again; not compared (a look
    that only counts is not committed on its own) and left out of the repr, like `doubts`."""

    entry_resend: EntryResend | None = field(default=None, compare=False, repr=False)
    """The external signal whose entry is in flight, or waits to be sent again after our own
    rate budget set it aside (trading/entry_resend.py). Not persisted (a restart skips the
    entries lost with the previous mailbox: actors/signal_intake.py) and left out of the repr
    (the backtest's decisions digest hashes it)."""

    def order(self, client_order_id: str) -> Order | None:
        for order in self.orders:
            if order.client_order_id == client_order_id:
                return order
        return None

    def live_orders(self, purpose: OrderPurpose) -> list[Order]:
        """Live orders of one purpose. A stop counts only for the position it was placed for:
        a closed position's stop whose cancel failed protects nothing (`strays`)."""
        if purpose is OrderPurpose.STOP:
            return [o for o in self.orders if o.purpose is purpose and self.owns(o)]
        return [o for o in self.orders if o.purpose is purpose]

    def owns(self, order: Order) -> bool:
        """Whether the order was placed for the current position (none while flat)."""
        pos = self.position
        return pos is not None and order.position_id == pos.position_id

    def strays(self) -> list[Order]:
        """Resting reduce-only orders of no current position: a closed position's stop whose
        cancel failed (a timeout, a 429). They are cancelled again, never counted."""
        return [o for o in self.orders
                if o.status is OrderStatus.OPEN and o.purpose.reduces and not self.owns(o)]

    def active_stop(self) -> Order | None:
        """The acknowledged stop that protects the position (the newest open one of it)."""
        stops = self.live_orders(OrderPurpose.STOP)
        open_stops = [o for o in stops if o.status is OrderStatus.OPEN]
        return open_stops[-1] if open_stops else None

    def protected(self) -> bool:
        """The open position is covered on the exchange: an acknowledged stop of this position,
        for all of it, not being cancelled (what the status and the coverage alert count, as
        the hedge grid's `GridState.protected`). A stop filled in part covers only what it can
        still fill (`Order.remaining`), not its original amount. A stop smaller than a position
        that grew is replaced by `cover_stop` (trading/lifecycle.py); until the new one is
        acknowledged the position is only partly covered."""
        pos = self.position
        return pos is not None and any(
            o.status is OrderStatus.OPEN and o.remaining >= pos.contracts
            and o.cancel_requested_at is None
            and o.position_id in (None, pos.position_id)
            for o in self.live_orders(OrderPurpose.STOP))

    def with_order(self, order: Order) -> SymbolState:
        """Insert or update a live order; terminal orders move to `finished_orders`."""
        orders, finished = filed(self.orders, self.finished_orders, order)
        return replace(self, orders=orders, finished_orders=finished)
