"""The exchange's own realized P&L for one of our orders, read from its fill records.

Where several fills of a hedge-grid leg race (a level filling while the stop triggers, a bot
close while the exchange stop fires), the exchange may have applied them in another order than
we learn of them, and its averaging decides each fill's P&L. Booking the P&L the exchange reports
for the order makes the ledger equal the exchange's fills (issue 16 item 3). Binance reports it
as `realizedPnl`, Bybit as `execPnl` (both before fees); a venue or a paper server that does not
report it per fill answers None, and the core computes it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from exchange.port import ExchangePort
from exchange.records import VenueFill

SLACK_MS = 60_000
"""How far before the order's creation (our clock) to look, for a clock that differs from the
exchange's."""


def reported_pnl(fills: Iterable[VenueFill], filled: Decimal | None = None) -> Decimal | None:
    """The sum of the fills' reported realized P&L, or None when any fill lacks it (or none),
    or when the fills add up to less than the order's `filled`: the venue's trade list lags its
    order state (Binance's userTrades, Bybit's execution list), and the part listed so far,
    taken as the whole fill's P&L, left the rest's P&L unbooked for good once the order ended
    (the fee's check is the same: exchange/ccxt/lookup.py `with_trade_fees`)."""
    total, amount, seen = Decimal(0), Decimal(0), False
    for f in fills:
        if f.realized_pnl is None:
            return None
        total += f.realized_pnl
        amount += f.amount
        seen = True
    if not seen or (filled is not None and amount < filled):
        return None
    return total


def order_pnl(exchange: ExchangePort, symbol: str, client_order_id: str,
              created_at_s: float, filled: Decimal | None = None) -> Decimal | None:
    """The order's realized P&L from its fill records; `filled`: what the order filled."""
    fills = exchange.fetch_my_trades(symbol, int(created_at_s * 1000) - SLACK_MS)
    return reported_pnl((f for f in fills if f.client_order_id == client_order_id), filled)
