"""Stop capacity (issue 12): every open position needs a stop resting on the exchange, and a
venue caps how many conditional orders an account may hold. An entry that would leave its
position without room for its stop is refused at the entry gate (trading/gate.py `HeldLimit`:
judged on the gate's count under its lock, so a wave of entries cannot all pass on one count),
and the refusal is journaled like every other (`SignalSkipped` / the grid's `EntryRefused`).

Binance USDⓈ-M: conditional orders (stop market, stop limit, trailing stop; since December 2025
served by the Algo Service, /fapi/v1/algoOrder) are limited to 200 open per account and 10 open
per symbol. Source: Binance FAQ "What is a conditional order?"
(https://www.binance.com/en/support/faq/what-are-conditional-orders-998e63d2587d4e2fb894b1615de3b288,
"Max. Limits for Open Orders: 200 open orders per account, 10 open orders per symbol"), and the
USDⓈ-M trading-rule update of 2021-02-23 (10 per symbol per user). Pure: the account gate hands
in its count of open positions and entries in flight.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionalCap:
    """A venue's cap on open conditional (stop) orders."""

    per_account: int
    per_symbol: int
    source: str
    """Where the figure comes from (named in the refusal)."""


CAPS: dict[str, ConditionalCap] = {
    "binanceusdm": ConditionalCap(per_account=200, per_symbol=10,
                                  source="Binance USDⓈ-M conditional order limits"),
}
"""Venues (ccxt ids) known to cap open conditional orders. Bybit places stops as conditional
orders too, but its cap is per symbol and far above what one position needs."""

STOPS_PER_POSITION = 2
"""Conditional orders one position (or hedge leg) can hold at once: its stop, plus the new stop
of a move, which is placed before the old one is cancelled where the venue cannot amend."""


class StopCapacity:
    """A `HeldLimit`: refuses an entry whose stop the venue might not accept."""

    name = "stop capacity"

    def __init__(self, *, cap: ConditionalCap,
                 stops_per_position: int = STOPS_PER_POSITION) -> None:
        self.cap = cap
        self.stops_per_position = stops_per_position

    def refuse_held(self, symbol: str, held: int) -> str | None:
        """`held`: open positions (or legs) plus entries in flight across the account, before
        this one."""
        per = self.stops_per_position
        if per > self.cap.per_symbol:
            return (f"{symbol} needs {per} stop orders, the venue allows "
                    f"{self.cap.per_symbol} per symbol ({self.cap.source})")
        if (held + 1) * per > self.cap.per_account:
            return (f"{held} positions hold up to {held * per} stop orders; one more needs "
                    f"{per} of the {self.cap.per_account} the venue allows per account "
                    f"({self.cap.source})")
        return None


def stop_capacity_for(exchange_id: str) -> StopCapacity | None:
    """The limit for this venue, or None where no cap is known (paper, Bybit)."""
    cap = CAPS.get(exchange_id)
    return None if cap is None else StopCapacity(cap=cap)
