"""Pure money arithmetic: position changes on fills, fees, slippage, margin."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from exchange.paper.markets import round_to_tick

ZERO = Decimal(0)
CENT_FRACTION = Decimal("1e-8")  # USDT amounts (fees, realized P&L) are kept to 8 decimals
BPS = Decimal(10000)


def q8(value: Decimal) -> Decimal:
    return value.quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def signed(side: str, amount: Decimal) -> Decimal:
    return amount if side == "buy" else -amount


def apply_fill(
    qty: Decimal, entry: Decimal, side: str, amount: Decimal, price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """A fill on a net position: returns (new signed qty, new entry price, realized P&L).

    Increasing averages the entry; reducing realizes (exit - entry) * closed * (+1 long /
    -1 short) and keeps the entry; flipping realizes the whole old position and opens the
    remainder at the fill price.
    """
    delta = signed(side, amount)
    if qty == 0 or (qty > 0) == (delta > 0):
        new_qty = qty + delta
        new_entry = (abs(qty) * entry + amount * price) / abs(new_qty)
        return new_qty, new_entry, ZERO
    closed = min(amount, abs(qty))
    direction = 1 if qty > 0 else -1
    realized = q8((price - entry) * closed * direction)
    new_qty = qty + delta
    if new_qty == 0:
        return ZERO, ZERO, realized
    if (new_qty > 0) == (qty > 0):
        return new_qty, entry, realized
    return new_qty, price, realized


def opening_amount(qty: Decimal, side: str, amount: Decimal) -> Decimal:
    """The part of an order that would open or increase exposure (the rest only reduces)."""
    delta = signed(side, amount)
    if qty == 0 or (qty > 0) == (delta > 0):
        return amount
    return max(ZERO, amount - abs(qty))


def reducible(qty: Decimal, side: str, amount: Decimal) -> Decimal:
    """How much of a reduce-only order may fill against net position qty (0: none)."""
    if side == "sell" and qty > 0:
        return min(amount, qty)
    if side == "buy" and qty < 0:
        return min(amount, -qty)
    return ZERO


def fee(cost: Decimal, rate: Decimal) -> Decimal:
    return q8(cost * rate)


def slipped(mark: Decimal, side: str, bps: Decimal, tick: Decimal) -> Decimal:
    """Execution price of a market order: mark moved against the taker by `bps`."""
    factor = bps / BPS
    if side == "buy":
        return max(mark, round_to_tick(mark * (1 + factor), tick))
    return max(tick, min(mark, round_to_tick(mark * (1 - factor), tick)))
