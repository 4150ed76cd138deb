"""Stop-loss and trailing-stop arithmetic. Pure functions; a trailing stop only ratchets in the
position's favour and every price is on the market's tick."""

from __future__ import annotations

from decimal import Decimal

from trading.frozen import replace
from trading.model import Side, TrailingState, TrailingStop
from trading.rules import MarketRules

HUNDRED = Decimal(100)


def _away(side: Side, price: Decimal, market: MarketRules) -> Decimal:
    """Round a protective price away from the market (never tighter than computed)."""
    return market.price_floor(price) if side is Side.LONG else market.price_ceil(price)


def initial_stop(side: Side, entry: Decimal, stop_loss_pct: Decimal, m: MarketRules) -> Decimal:
    offset = entry * stop_loss_pct / HUNDRED
    return _away(side, entry - side.sign * offset, m)


def target_price(side: Side, entry: Decimal, pct: Decimal, m: MarketRules) -> Decimal:
    """A price `pct` percent in the position's favour (activation, take-profit)."""
    raw = entry + side.sign * entry * pct / HUNDRED
    return m.price_ceil(raw) if side is Side.LONG else m.price_floor(raw)


def new_trailing(
    side: Side, entry: Decimal, activation_pct: Decimal, callback_pct: Decimal, m: MarketRules
) -> TrailingStop:
    return TrailingStop(
        state=TrailingState.WAITING,
        activation_price=target_price(side, entry, activation_pct, m),
        callback_pct=callback_pct,
    )


def better(side: Side, a: Decimal, b: Decimal) -> bool:
    """True when price a is strictly more favourable than b for this side."""
    return a > b if side is Side.LONG else a < b


def reached(side: Side, price: Decimal, level: Decimal) -> bool:
    """True when price is at or beyond a favourable level."""
    return price >= level if side is Side.LONG else price <= level


def crossed_against(side: Side, price: Decimal, level: Decimal) -> bool:
    """True when price is at or beyond a protective level (stop or trailing trigger)."""
    return price <= level if side is Side.LONG else price >= level


def advance(ts: TrailingStop, side: Side, price: Decimal, m: MarketRules) -> TrailingStop:
    """Feed one price; activation once price reaches the activation level, then the trigger
    follows the best price at `callback_pct` and never moves back."""
    if ts.state is TrailingState.WAITING:
        if not reached(side, price, ts.activation_price):
            return ts
        ts = replace(ts, state=TrailingState.ACTIVE, best_price=price)
    elif ts.best_price is not None and not better(side, price, ts.best_price):
        return ts
    else:
        ts = replace(ts, best_price=price)
    assert ts.best_price is not None
    offset = ts.best_price * ts.callback_pct / HUNDRED
    candidate = _away(side, ts.best_price - side.sign * offset, m)
    if ts.trigger_price is None or better(side, candidate, ts.trigger_price):
        ts = replace(ts, trigger_price=candidate)
    return ts


def stop_should_move(
    side: Side, current: Decimal | None, desired: Decimal, price: Decimal, step_pct: Decimal
) -> bool:
    """Move the exchange stop only in the position's favour and only by at least step_pct of
    the price (each move costs exchange calls)."""
    if current is None:
        return True
    if not better(side, desired, current):
        return False
    return abs(desired - current) >= price * step_pct / HUNDRED
