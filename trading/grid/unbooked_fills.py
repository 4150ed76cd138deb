"""A hedge-grid leg's fills that nothing booked, booked by reconciliation
(trading/grid/reconcile.py), as the one-way core's (trading/unbooked_fills.py): a leg the venue
lists open at another size than ours is brought in line by booking the fills no order of ours
explains (part closed or bought by hand, a partial liquidation), each once: its name is then
known to the ledger, and the snapshot leaves it out (actors/grid_snapshot.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from trading.commands import LedgerEntry
from trading.events import ExternalFill
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.events import GridReconciled
from trading.grid.leg_exit import Fill, take_off
from trading.grid.model import GridState
from trading.primitives import ZERO, Side


def resized(state: GridState, side: Side, contracts: Decimal, ev: GridReconciled,
            ctx: GridCtx) -> GridState:
    """The venue lists the open leg at `contracts`, another size than ours: the fills no order
    of ours explains are booked up to the difference, exits with the P&L of the part taken and
    their whole fee (the venue charged it all; found by review: a part's share), entries into
    the leg's average with theirs (found by review: the leg only followed the venue's size, and
    those fills never reached the ledger). Fills of both sides that explain it exactly (a buy
    and a larger sell by hand between two looks) are all booked, whole, in the venue's order
    (found by review: only the side of the difference was, up to it: the buy's fee and the rest
    of the sell's P&L were lost, the leg's entry left at the old price)."""
    leg = state.leg(side)
    grows = contracts > leg.contracts
    wanted = side.entry_order_side if grows else side.exit_order_side
    every = [f for f in ev.external_fills if f.position_side is side and f.amount > ZERO]
    if any(f.side != wanted for f in every) and leg.contracts + sum(
            (f.amount if f.side == side.entry_order_side else -f.amount for f in every),
            ZERO) == contracts:
        return _in_order(state, side, every, ctx)
    return _up_to(state, side, abs(contracts - leg.contracts), wanted, every, ctx)


def _up_to(state: GridState, side: Side, qty: Decimal, wanted: str,
           every: list[ExternalFill], ctx: GridCtx) -> GridState:
    """The fills of the difference's side, in the venue's order, up to it. The leg's other
    fills of this look took off (or added) only what our books never held (the venue held
    more, or less, than we did by a part no trade shows): their fees are booked, quantity 0
    and no P&L (found by review: left unbooked and unknown, such a fill explained the next
    difference, booked at its own price, while the fill that made it and its fee never
    reached the ledger)."""
    for f in every:
        if qty <= ZERO or f.side != wanted:
            state = _fee_only(state, side, f, ctx)
            continue
        take = min(f.amount, qty)
        fee = f.fee  # whole: booked once, the rest of a part's fee would never be booked
        cid = f.client_order_id or "external"
        qty -= take
        if wanted == side.entry_order_side:
            state = book_entry(state, side, cid, f, take, fee, ctx)
            continue
        pnl = None if f.realized_pnl is None else (
            f.realized_pnl if take == f.amount else f.realized_pnl * take / f.amount)
        state, _, amount = take_off(state, state.leg(side), cid, f.side,
                                    Fill(take, f.price, fee, pnl), ctx)
        ctx.record(ge.LegReduced(leg=side, order=cid, amount=amount, price=f.price))
    return state


def _in_order(state: GridState, side: Side, fills: list[ExternalFill],
              ctx: GridCtx) -> GridState:
    """The leg's fills whole, in the venue's order: an entry into its average, an exit with
    its P&L and fee."""
    for f in fills:
        cid = f.client_order_id or "external"
        if f.side == side.entry_order_side:
            state = book_entry(state, side, cid, f, f.amount, f.fee, ctx)
            continue
        state, _, amount = take_off(state, state.leg(side), cid, f.side,
                                    Fill(f.amount, f.price, f.fee, f.realized_pnl), ctx)
        ctx.record(ge.LegReduced(leg=side, order=cid, amount=amount, price=f.price))
    return state


def _fee_only(state: GridState, side: Side, f: ExternalFill, ctx: GridCtx) -> GridState:
    """A fill none of whose quantity was ours: its fee, quantity 0, no P&L (as a late fee,
    trading/late_fees.py), in the leg's fees."""
    leg = state.leg(side)
    ctx.ledger.append(LedgerEntry(client_order_id=f.client_order_id or "external",
                                  position_id=leg.position_id or "", side=f.side, amount=ZERO,
                                  price=f.price, fee=f.fee, realized_pnl=ZERO))
    return state.with_leg(replace(leg, fees=leg.fees + f.fee))


def book_entry(state: GridState, side: Side, cid: str, f: ExternalFill, take: Decimal,
               fee: Decimal, ctx: GridCtx) -> GridState:
    """A fill that added to the open leg: its average entry and fees (its levels unchanged)."""
    leg = state.leg(side)
    assert leg.entry_price is not None
    contracts = leg.contracts + take
    entry = (leg.entry_price * leg.contracts + f.price * take) / contracts
    ctx.ledger.append(LedgerEntry(client_order_id=cid, position_id=leg.position_id or "",
                                  side=f.side, amount=take, price=f.price, fee=fee,
                                  realized_pnl=ZERO))
    ctx.record(ge.LegAveraged(leg=side, level=leg.level, price=f.price, amount=take))
    return state.with_leg(replace(leg, contracts=contracts, entry_price=entry,
                                  fees=leg.fees + fee))
