"""A leg's exit bookkeeping: the P&L a reducing fill is booked with (the exchange's, else ours
from the leg's entry), its ledger entry, and the leg's close once it is flat (booked, every
order it owned cancelled, its side set to reopen). The live handlers (trading/grid/handlers.py)
and reconciliation's fills nobody reported (trading/grid/hand_fills.py) book through the same
functions, so a reducing fill is booked one way whoever learns of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from trading.commands import LedgerEntry
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.model import GridState, Leg
from trading.orders import OrderPurpose
from trading.primitives import ZERO, Side
from trading.stop_outs import GRID_STOPPED_OUT as STOPPED_OUT
from trading.transitions import LegPhase, leg_change

K = OrderPurpose

@dataclass(frozen=True, slots=True)
class Fill:
    """The new part of an order's cumulative report: amount, price, fee and, when the exchange
    reports it, its realized P&L."""

    amount: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal | None


def fill_pnl(leg: Leg, fill: Fill) -> Decimal:
    """The P&L a reducing fill is booked with: the exchange's where it reports one, else ours
    from the leg's entry (none for a fill without an open leg)."""
    if fill.realized_pnl is not None:
        return fill.realized_pnl
    if not leg.is_open or leg.entry_price is None:
        return ZERO
    amount = min(fill.amount, leg.contracts)
    return q8((fill.price - leg.entry_price) * amount * leg.side.sign)


def take_off(state: GridState, leg: Leg, cid: str, side: str, fill: Fill,
             ctx: GridCtx) -> tuple[GridState, Leg, Decimal]:
    """One reducing fill on an open leg: booked with the exchange's P&L, or ours where it
    reports none; the leg shrinks by the fill, at most to flat. Returns the amount taken."""
    assert leg.entry_price is not None
    amount = min(fill.amount, leg.contracts)
    pnl = fill_pnl(leg, fill)
    leg = replace(leg, contracts=leg.contracts - amount, realized_pnl=leg.realized_pnl + pnl,
                  fees=leg.fees + fill.fee)
    book(cid, side, leg.position_id or "", fill, pnl, ctx)
    return state.with_leg(leg), leg, amount


def book(cid: str, side: str, position_id: str, fill: Fill, pnl: Decimal, ctx: GridCtx) -> None:
    ctx.ledger.append(LedgerEntry(client_order_id=cid, position_id=position_id, side=side,
                                  amount=fill.amount, price=fill.price, fee=fill.fee,
                                  realized_pnl=pnl, at=ctx.fill_at))


def q8(value: Decimal) -> Decimal:
    """USDT amounts to 8 places, half up, as the venues book realized P&L."""
    return value.quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)


def close_leg(state: GridState, side: Side, reason: str, ctx: GridCtx) -> GridState:
    """The leg is flat: book it, then cancel every order it owned and the pending levels of both
    legs; it reopens once all of those are confirmed gone."""
    leg = state.leg(side)
    leg_change(f"{state.symbol} {side.value}", state.leg_phase(side), LegPhase.CLOSED)
    untold = sum(1 for o in state.fees_owed
                 if (o.order.position_id or o.order.client_order_id) == leg.position_id)
    ctx.record(ge.LegClosed(leg=side, position_id=leg.position_id, reason=reason,
                            realized_pnl=leg.realized_pnl, fees=leg.fees,
                            net_pnl=leg.realized_pnl - leg.fees, fees_not_told=untold))
    state = state.with_leg(Leg(side=side, ref_qty=leg.ref_qty))
    # the leg's stop stays while a level of its side is live: a level that fills before its
    # cancel lands opens a position there, which that stop (reduce-only, sized for the leg and
    # the level) covers; cancelled first, it left such a position without a stop until the
    # bot was back (a paper chaos review: 21 s). maintain.py `_release_stops` cancels it after.
    levels_live = any(o.purpose is K.LEVEL and o.leg is side for o in state.orders)
    for order in state.orders:
        if order.cancel_requested_at is not None or not (
                order.leg is side or order.purpose is K.LEVEL):
            continue
        if not (levels_live and order.leg is side and order.purpose is K.STOP):
            state = ctx.cancel(state, order)
    state = replace(state, reopen=tuple(dict.fromkeys(state.reopen + (side,))),
                    reopen_after_seq=state.price_seq)
    if reason in STOPPED_OUT:  # a stop-out waits before the side trades again
        state = replace(state, next_open_at=max(state.next_open_at,
                                                ctx.closed_at + ctx.rules.reopen_after_stop_s))
    if not state.long.is_open and not state.short.is_open:
        if state.long.ref_qty is not None or state.short.ref_qty is not None:
            ctx.record(ge.ReferenceQuantitiesCleared(long=state.long.ref_qty,
                                                     short=state.short.ref_qty))
        state = replace(state, long=replace(state.long, ref_qty=None),
                        short=replace(state.short, ref_qty=None))
    return state
