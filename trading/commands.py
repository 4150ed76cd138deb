"""Commands: what the shell must do after the decision is committed. Imperative names."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.model import OrderRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder:
    order: OrderRecord
    """Already persisted (status pending) when this command runs: write-ahead."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    client_order_id: str
    exchange_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate:
    """Quarantine + alert. The emergency close comes as a PlaceOrder in the same decision."""

    reason: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOthers:
    """Emergency path: cancel every open order on the symbol except `keep`."""

    keep: tuple[str, ...] = ()


Command = PlaceOrder | CancelOrder | Escalate | CancelOthers


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """A domain event to be recorded in the journal in the same transaction as the state."""

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

