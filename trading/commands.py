"""Commands: what the shell must do after the decision is committed. Imperative names."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.orders import Order


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder:
    """Send an order of either style (the grid's former `PlaceGridOrder` is this command)."""

    order: Order
    """Already persisted (status pending) when this command runs: write-ahead."""
    margin: Decimal | None = None
    """For a grid order that can grow a position: the free margin it needs; the shell checks
    the balance right before this one placement (one check, one place). None: no check."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    client_order_id: str | None
    """None only for an orphan that carries no client id (cancelled by exchange id)."""
    exchange_id: str | None
    stop: bool = field(default=False, repr=False)
    """(Derived from the order's purpose, so left out of the repr that decision digests hash.)
    A stop of ours: a venue that keeps stops in a book of their own (Binance's algo orders)
    is asked there first, not after a miss in the plain book (found by a soak: every stop
    replacement cost a DELETE and a GET of the plain book before the algo ones)."""

    @classmethod
    def of(cls, order: Order) -> CancelOrder:
        return cls(client_order_id=order.client_order_id, exchange_id=order.exchange_id,
                   stop=order.is_stop)


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate:
    """Quarantine + alert; the supervisor runs its one emergency close (runtime/emergency.py)."""

    reason: str
    attempts: int
    last_error: str | None
    close: bool = True
    """False: an alert only, no emergency close (a persistent contradiction about a position
    that may still be open and protected: trading/evidence.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendStop:
    """Move a resting stop in place (where the venue can amend a trigger: Bybit). The order
    keeps its client id; the result comes back as `StopAmended` or `StopAmendFailed`."""

    client_order_id: str
    exchange_id: str | None
    side: str
    stop_price: Decimal


Command = PlaceOrder | CancelOrder | Escalate | AmendStop


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """A journal row as storage keeps it: a type and JSON data. The cores emit typed records
    (trading/journal.py) with the same `.type`/`.data` surface; this plain form remains for rows
    written outside the cores and for rows read back."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """A confirmed fill booked against a position: the only source of realized P&L."""

    client_order_id: str
    position_id: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    """Gross P&L of this fill (0 for entry fills); net = realized_pnl - fee."""
    at: float | None = None
    """When it filled, as the venue told it (`decision.fill_time`); None: the booking time."""

