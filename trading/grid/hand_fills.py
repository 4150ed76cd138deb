"""A hedge-grid leg's fills that no order of ours explains (part closed or bought by hand, a
partial liquidation), booked by reconciliation (trading/grid/reconcile.py) when the venue lists
the leg flat (`book_external`, one fill at a time) or at another size than ours
(`book_resized`). The grid twin of the one-way core's trading/unbooked_fills.py: a fill
booked is booked once, its name then known to the ledger, so the snapshot leaves it out
(actors/grid_snapshot.py); one past the leg's difference is left unbooked and looked at again
at the next reconciliation (most often a fill of our own order whose lookup lags the list)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

from trading.commands import LedgerEntry
from trading.decision import fill_time
from trading.events import ExternalFill
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.events import GridReconciled
from trading.grid.leg_exit import Fill, take_off
from trading.grid.model import GridState
from trading.primitives import ZERO, Side
from trading.unbooked_fills import no_fee_told


@contextmanager
def dated(ctx: GridCtx, at: float | None) -> Iterator[None]:
    """What is booked inside is dated `at` (the venue's time; None: the booking time)."""
    before, ctx.fill_at = ctx.fill_at, at
    try:
        yield
    finally:
        ctx.fill_at = before


def _traded(f: ExternalFill, state: GridState, side: Side, ctx: GridCtx) -> float | None:
    return fill_time(f.filled_at, state.leg(side).opened_at, ctx.now)


def book_external(state: GridState, side: Side, f: ExternalFill, ctx: GridCtx) -> GridState:
    """One fill of a leg the venue lists flat, dated by the venue's trade time where told."""
    with dated(ctx, _traded(f, state, side, ctx)):
        return _book_external(state, side, f, ctx)


def _book_external(state: GridState, side: Side, f: ExternalFill, ctx: GridCtx) -> GridState:
    """One fill of a leg the venue lists flat, in the venue's order: an exit takes off what the
    leg holds, an entry adds to it (a buy by hand before the close by hand, or after it: a round
    trip by hand while we were away; found by review: booking stopped where the leg was flat,
    so that round trip's fees and P&L never reached the ledger). An exit that finds the leg
    flat is left as before (a fill of ours whose report lags may explain it)."""
    leg = state.leg(side)
    cid = f.client_order_id or "external"
    if leg.entry_price is None:
        return state
    if f.side == side.entry_order_side:
        return _book_entry(state, side, cid, f, f.amount, f.fee, ctx)
    if not leg.is_open:
        return state
    fill = Fill(f.amount, f.price, f.fee, f.realized_pnl)
    no_fee_told(state.symbol, f, ctx)
    return take_off(state, leg, cid, f.side, fill, ctx)[0]


def book_resized(state: GridState, side: Side, contracts: Decimal, ev: GridReconciled,
                 ctx: GridCtx) -> GridState:
    """The venue lists the open leg at `contracts`, another size than ours: the fills no order
    of ours explains (part closed or bought by hand, a partial liquidation) are booked up to the
    difference, exits with the P&L of the part taken and their whole fee (the venue charged it
    all; found by review: a part's share), entries into the leg's average with theirs, as the
    one-way core's `resized` (trading/unbooked_fills.py; found by review:
    the leg only followed the venue's size, and those fills never reached the ledger)."""
    leg = state.leg(side)
    grows = contracts > leg.contracts
    qty = abs(contracts - leg.contracts)
    wanted = side.entry_order_side if grows else side.exit_order_side
    every = [f for f in ev.external_fills if f.position_side is side and f.amount > ZERO]
    if any(f.side != wanted for f in every) and leg.contracts + sum(
            (f.amount if f.side == side.entry_order_side else -f.amount for f in every),
            ZERO) == contracts:
        # fills of both sides explain it exactly (a buy and a larger sell by hand between two
        # looks): all booked, in the venue's order, as the one-way core's. Found by review:
        # only the side of the difference was, up to it: the buy's fee and the rest of the
        # sell's P&L were lost, the leg's entry left at the old price
        return _book_in_order(state, side, every, ctx)
    for f in ev.external_fills:
        if qty <= ZERO:
            break
        if f.position_side is not side or f.side != wanted or f.amount <= ZERO:
            continue
        take = min(f.amount, qty)
        fee = f.fee  # whole: booked once, the rest of a part's fee would never be booked
        cid = f.client_order_id or "external"
        qty -= take
        with dated(ctx, _traded(f, state, side, ctx)):
            if grows:
                state = _book_entry(state, side, cid, f, take, fee, ctx)
                continue
            pnl = None if f.realized_pnl is None else (
                f.realized_pnl if take == f.amount else f.realized_pnl * take / f.amount)
            no_fee_told(state.symbol, f, ctx)
            state, leg, amount = take_off(state, state.leg(side), cid, f.side,
                                          Fill(take, f.price, fee, pnl), ctx)
        ctx.record(ge.LegReduced(leg=side, order=cid, amount=amount, price=f.price))
    return state


def _book_in_order(state: GridState, side: Side, fills: list[ExternalFill],
                   ctx: GridCtx) -> GridState:
    """The leg's fills whole, in the venue's order: an entry into its average, an exit with
    its P&L and fee."""
    for f in fills:
        cid = f.client_order_id or "external"
        with dated(ctx, _traded(f, state, side, ctx)):
            if f.side == side.entry_order_side:
                state = _book_entry(state, side, cid, f, f.amount, f.fee, ctx)
                continue
            no_fee_told(state.symbol, f, ctx)
            state, _, amount = take_off(state, state.leg(side), cid, f.side,
                                        Fill(f.amount, f.price, f.fee, f.realized_pnl), ctx)
        ctx.record(ge.LegReduced(leg=side, order=cid, amount=amount, price=f.price))
    return state


def _book_entry(state: GridState, side: Side, cid: str, f: ExternalFill, take: Decimal,
                fee: Decimal, ctx: GridCtx) -> GridState:
    """A fill that added to the open leg: its average entry and fees (its levels unchanged)."""
    leg = state.leg(side)
    assert leg.entry_price is not None
    no_fee_told(state.symbol, f, ctx)
    contracts = leg.contracts + take
    entry = (leg.entry_price * leg.contracts + f.price * take) / contracts
    ctx.ledger.append(LedgerEntry(client_order_id=cid, position_id=leg.position_id or "",
                                  side=f.side, amount=take, price=f.price, fee=fee,
                                  realized_pnl=ZERO, at=ctx.fill_at))
    ctx.record(ge.LegAveraged(leg=side, level=leg.level, price=f.price, amount=take))
    return state.with_leg(replace(leg, contracts=contracts, entry_price=entry,
                                  fees=leg.fees + fee))
