"""The status view of a hedge-grid symbol: one position per open leg."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.actor_view import ActorView
from trading.grid.model import GridKind, GridState, Leg
from trading.model import OrderStatus
from trading.primitives import decimal_text


def _short(value: Decimal) -> str:
    """An average entry for display: 8 decimal places at most (the state keeps every digit)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        return format(value.quantize(Decimal("1e-8")).normalize(), "f")  # never 1E+3
    return str(value)


def _leg_line(state: GridState, leg: Leg, mark: Decimal | None) -> dict[str, Any]:
    """One open leg as a position line (its entry price is known)."""
    assert leg.entry_price is not None
    upnl = None if mark is None else (mark - leg.entry_price) * leg.contracts * leg.side.sign
    tps = [o for o in state.orders_of(leg.side, GridKind.TP) if o.status is OrderStatus.OPEN]
    return {
        "side": leg.side.value,
        "contracts": str(leg.contracts),
        "entry_price": _short(leg.entry_price),
        "mark_price": None if mark is None else str(mark),
        "unrealized_pnl": None if upnl is None else decimal_text(upnl.quantize(Decimal("0.0001"))),
        "level": leg.level,
        "stop_price": str(leg.stop_price),
        # the grid's own test: an acknowledged stop of this position, for the whole leg, not
        # being cancelled (a stop being cancelled, a stray or a short one protects nothing)
        "protected": state.protected(leg.side),
        "take_profit": str(tps[-1].price) if tps else None,
    }


def _position(legs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The legs as one position: the leg itself when one is open, a "hedge" summary of both
    otherwise; either way with the legs under "legs"."""
    if not legs:
        return None
    position = (
        dict(legs[0])
        if len(legs) == 1
        else {
            "side": "hedge",
            "contracts": "/".join(x["contracts"] for x in legs),
            "entry_price": "/".join(x["entry_price"] for x in legs),
            "mark_price": legs[0]["mark_price"],
            "unrealized_pnl": decimal_text(sum((Decimal(x["unrealized_pnl"] or 0) for x in legs),
                                                  Decimal(0))),
        }
    )
    position["legs"] = legs
    return position


def grid_view(state: GridState, last_tick_at: float | None, reconciled: bool) -> ActorView:
    mark = state.last_price
    legs = [
        _leg_line(state, leg, mark)
        for leg in (state.long, state.short)
        if leg.is_open and leg.entry_price is not None
    ]
    return ActorView(
        phase="open" if legs else ("reopening" if state.reopen else "flat"),
        position=_position(legs),
        stop_price="/".join(x["stop_price"] for x in legs) or None,
        protected=bool(legs) and all(x["protected"] for x in legs),
        trailing=None,
        cooldown_until=state.next_open_at,  # no side opens before it (a stop-out waits)
        close_attempts=max(state.long.close_attempts, state.short.close_attempts),
        quarantined=state.quarantined,
        quarantine_reason=state.quarantine_reason,
        last_tick_at=last_tick_at,
        reconciled=reconciled,
    )
