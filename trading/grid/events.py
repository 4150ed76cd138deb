"""What the exchange says about a hedge-grid symbol, gathered by the shell for reconciliation.
Every other event is shared with the one-way core (`trading/events.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from trading.events import ExchangeOrder, ExchangePosition, ExternalFill
from trading.model import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class GridReconciled:
    positions: dict[Side, ExchangePosition] = field(default_factory=dict)
    """Nonzero positions per side (hedge mode: at most one per side)."""
    orders: dict[str, ExchangeOrder] = field(default_factory=dict)
    """Our live orders looked up by client order id; a missing key = the exchange has none."""
    orphans: tuple[ExchangeOrder, ...] = ()
    """Open orders on the symbol that none of our live orders owns."""
    price: Decimal | None = None
    external_fills: tuple[ExternalFill, ...] = ()
    """Fills of a leg that is open in our books but flat (or smaller) on the exchange, since it
    opened, that no booked or live order of ours explains (closed, or part of it, while the bot
    was down or not looking)."""
    unlisted_traded: dict[str, ExchangeOrder] = field(default_factory=dict)
    """Live orders of ours the lookup did not find whose trades show fills beyond what we
    applied, short of their whole amount: those trades as a cumulative answer (status "open":
    the order is still not found), booked by the core before the not-found rules."""
