"""The exchange's own realized P&L for one of our orders, read from its trade records.

Where several fills of a hedge-grid leg race (a level filling while the stop triggers, a bot
close while the exchange stop fires), the exchange may have applied them in another order than
we learn of them, and its averaging decides each fill's P&L. Booking the P&L the exchange reports
for the order makes the ledger equal the exchange's fills (issue 16 item 3). Venues that do not
report it per trade (Bybit) answer None, and the core computes it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from exchange.port import ExchangePort

SLACK_MS = 60_000
"""How far before the order's creation (our clock) to look, for a clock that differs from the
exchange's."""


def trade_client_id(trade: dict[str, Any]) -> str:
    return trade.get("clientOrderId") or (trade.get("info") or {}).get("clientOrderId") or ""


def reported_pnl(trades: Iterable[dict[str, Any]]) -> Decimal | None:
    """The sum of the trades' reported realized P&L, or None when any trade lacks it."""
    total, seen = Decimal(0), False
    for t in trades:
        value = (t.get("info") or {}).get("realizedPnl")
        if value is None:
            return None
        total += value if isinstance(value, Decimal) else Decimal(str(value))
        seen = True
    return total if seen else None


def order_pnl(exchange: ExchangePort, symbol: str, client_order_id: str,
              created_at_s: float) -> Decimal | None:
    trades = exchange.fetch_my_trades(symbol, int(created_at_s * 1000) - SLACK_MS)
    return reported_pnl(t for t in trades if trade_client_id(t) == client_order_id)
