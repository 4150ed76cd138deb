"""The exchange's fills that nothing booked, booked by reconciliation (trading/reconcile.py).

A position the exchange lists with another size than ours (`resized`), or no longer lists at
all while its fills account for it (`closed_elsewhere`: manual, liquidation, the supervisor's
emergency close), is brought in line by booking those fills: entry fills into the position's
size and average price, exit fills with their P&L and their fee, each once
(`unbooked` leaves out what a live order of ours will book by its own report).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from trading import journal_events as je
from trading import late_fees
from trading import lifecycle as lc
from trading.client_ids import is_emergency
from trading.commands import LedgerEntry
from trading.decision import BaseCtx, Ctx, fill_time
from trading.events import ExternalFill, Reconciled
from trading.late_fees import FeeUnbooked
from trading.model import ZERO, Order, OrderPurpose, SymbolState

NO_FEE = ("the venue's trade row of this fill tells no fee in the settle currency: booked "
          "without a fee")


def closed_elsewhere(state: SymbolState, ev: Reconciled, ctx: Ctx) -> SymbolState:
    """The exchange has no position but storage still does, and the exchange's fills account
    for it: closed while we were away (manual, liquidation). Book P&L from those fills. Closed
    by the supervisor's emergency close (its order id's form), it is booked as that
    ("emergency_close"), not as a stop-out the stop-loss guard would count (found by review)."""
    pos = state.position
    assert pos is not None
    exits = unbooked(state, ev, pos.side.exit_order_side)
    fills = [f for f in ev.external_fills  # both sides, in order
             if state.order(f.client_order_id or "") is None]
    state = _book_in_order(state, fills, ctx)
    pos = state.position
    assert pos is not None
    pos = replace(pos, contracts=Decimal(0))
    state = replace(state, position=pos, unconfirmed=None)
    emergency = any(is_emergency(f.client_order_id) for f in exits)
    before, ctx.fill_at = ctx.fill_at, last_traded(fills, pos.opened_at, ctx)
    try:  # dated by the venue's trade times where it told them all (the cooldown too)
        return lc.position_closed(
            state, "emergency_close" if emergency else "closed_on_exchange", ctx)
    finally:
        ctx.fill_at = before


def last_traded(fills: list[ExternalFill], opened_at: float, ctx: BaseCtx[Any]
                ) -> float | None:
    """When the last of these fills traded, by the venue (`decision.fill_time`); None when
    one of them told no time (the booking time stands)."""
    times = [fill_time(f.filled_at, opened_at, ctx.now) for f in fills]
    return None if not times or None in times else max(t for t in times if t is not None)


def _book_in_order(state: SymbolState, fills: list[ExternalFill], ctx: Ctx) -> SymbolState:
    """The fills of a position the exchange no longer lists, in the venue's order (the shell
    reads them so): an entry fill adds to it (a buy by hand while we were away), an exit fill
    reduces it with its P&L. Found by review: only the exits were booked, up to our size, so a
    buy by hand before a close by hand never reached the ledger and the close was booked for
    our size only (the P&L of the part the buy added left out)."""
    pos = state.position
    assert pos is not None
    for fill in fills:
        if fill.side == pos.side.entry_order_side:
            state = _book_entries(state, [fill], fill.amount, ctx)
        else:
            held = state.position
            assert held is not None
            state = _book_exits(state, [fill], held.contracts, ctx)
    return state


def unbooked(state: SymbolState, ev: Reconciled, side: str) -> list[ExternalFill]:
    """The exchange's fills on one side that nothing booked (the shell leaves out booked orders
    and trades, and what our live orders' lookups report). A fill of an order still live here
    is not among them: that order's own report books it."""
    return [f for f in ev.external_fills
            if f.side == side and state.order(f.client_order_id or "") is None]


def resized(state: SymbolState, target: Decimal, ev: Reconciled, ctx: Ctx,
             waited: bool = False) -> SymbolState:
    """The exchange's position has another size than ours: the fills that explain it are
    booked (an entry fill of ours never applied, a buy or a partial close by hand, a partial
    liquidation), once; what no fill explains is journaled, and ours follows the exchange (at
    the entry price we have: the price of an unexplained part is unknown)."""
    pos = state.position
    assert pos is not None
    grows = target > pos.contracts
    side = pos.side.entry_order_side if grows else pos.side.exit_order_side
    if any(state.order(f.client_order_id or "") for f in ev.external_fills if f.side == side):
        return state  # an order of ours still being resolved: its own report books it
    fills = unbooked(state, ev, side)
    every = [f for f in ev.external_fills if state.order(f.client_order_id or "") is None]
    if len(every) > len(fills) and pos.contracts + _net(every, pos.side.entry_order_side) \
            == target:
        # fills of both sides explain it exactly (a buy and a larger sell by hand between two
        # looks): all booked, in the venue's order. Found by review: only the side of the
        # difference was, up to it: the buy's fee and the rest of the sell's P&L were lost
        state = _book_in_order(state, every, ctx)
    elif grows:
        state = _book_entries(state, fills, target - pos.contracts, ctx)
    else:
        state = _book_exits(state, fills, pos.contracts - target, ctx)
    pos = state.position
    assert pos is not None
    entering = [o for o in state.live_orders(OrderPurpose.ENTRY)
                if o.side == pos.side.entry_order_side]
    if not waited and target > pos.contracts and target - pos.contracts <= sum(
            (o.remaining for o in entering), ZERO):
        # most likely the rest of our entry still open, which its lookup does not show yet:
        # followed now, its report would book the same part again (a position larger than the
        # exchange's, its entry fill in the ledger twice). Once: a difference still there at
        # the next reconciliation is followed then (the stop must cover what is there)
        ctx.record(je.PositionResizeWaits(stored=pos.contracts, exchange=target,
                                          order=entering[-1].client_order_id))
        return replace(state, resize_waited=True)
    closing = [o for o in state.live_orders(OrderPurpose.CLOSE) if state.owns(o)]
    if pos.contracts > target and closing:
        # most likely that close's fill, which its lookup does not show yet: followed now, its
        # report would take the same part off again and end a position still open
        ctx.record(je.PositionResizeWaits(stored=pos.contracts, exchange=target,
                                          order=closing[-1].client_order_id))
        return state
    if pos.contracts != target:
        ctx.record(je.PositionResized(stored=pos.contracts, exchange=target))
        state = replace(state, position=replace(pos, contracts=target))
    return state


def _net(fills: list[ExternalFill], entry_side: str) -> Decimal:
    """What the fills added to the position (less what they took off)."""
    return sum((f.amount if f.side == entry_side else -f.amount for f in fills), ZERO)


def owe_unlisted(state: SymbolState, held: tuple[Order, ...], ev: Reconciled,
                 ctx: Ctx) -> SymbolState:
    """Our orders this reconciliation ended unlisted (their lookup found nothing), whose part
    not applied the venue's trades show (booked by `resized` or `closed_elsewhere` as such
    fills) with a fee not told in the settle currency (a fee in BNB): owed, as the hedge
    grid's (trading/late_fees.py), as booked (its fills and the fees told), so a later lookup
    books the fee. Found by review: booked without the fee with a warning and never looked up
    again, though the order's next lookup tells it (the ledger's net high by it for good)."""
    for order in held:
        cid = order.client_order_id
        fills = [f for f in ev.external_fills if f.client_order_id == cid]
        if cid in ev.orders or state.order(cid) is not None or all(f.fee_known for f in fills):
            continue
        booked = replace(order, filled=order.filled + sum((f.amount for f in fills), ZERO),
                         fee=order.fee + sum((f.fee for f in fills), ZERO))
        state = late_fees.owe(state, booked, ctx.now)
    return state


def _say_no_fee(state: SymbolState, fill: ExternalFill, ctx: Ctx) -> None:
    """`no_fee_told`, unless the fill is an order's that is owed (`owe_unlisted`): its fee is
    looked up again, and said if it is given up (trading/late_fees.py `FeeUnbooked`)."""
    if all(o.order.client_order_id != fill.client_order_id for o in state.fees_owed):
        no_fee_told(state.symbol, fill, ctx)


def no_fee_told(symbol: str, fill: ExternalFill, ctx: BaseCtx[Any]) -> None:
    """A fill booked without its fee (its trade row told none in the settle currency: the
    snapshot's `fee_known`, actors/exchange_snapshot.py `settled_fee`): said once, where it is
    booked, as a warning naming the symbol and the fill (the ledger's net is then high by that
    fee; found by review: booked as 0 without a word, or a fee in BNB as that many USDT). Both
    styles call it (the hedge grid's trading/grid/hand_fills.py too)."""
    if not fill.fee_known:
        ctx.record(FeeUnbooked(symbol=symbol, order=fill.client_order_id or "external",
                               looks=1, why=NO_FEE))


def _book_entries(state: SymbolState, fills: list[ExternalFill], qty: Decimal,
                  ctx: Ctx) -> SymbolState:
    """Fills that added to the position, up to `qty`: booked as entry fills (the entry price
    is the weighted average, the fee is the position's)."""
    pos = state.position
    assert pos is not None
    for fill in fills:
        if qty <= ZERO:
            break
        take, fee = min(fill.amount, qty), fill.fee  # the whole fee: see _book_exits
        _say_no_fee(state, fill, ctx)
        total = pos.contracts + take
        entry = (pos.entry_price * pos.contracts + fill.price * take) / total
        ctx.ledger.append(LedgerEntry(client_order_id=fill.client_order_id or "external",
                                      position_id=pos.position_id, side=fill.side,
                                      amount=take, price=fill.price, fee=fee,
                                      realized_pnl=ZERO,
                                      at=fill_time(fill.filled_at, pos.opened_at, ctx.now)))
        pos = replace(pos, contracts=total, entry_price=entry, fees=pos.fees + fee)
        qty -= take
    return replace(state, position=pos)


def _book_exits(state: SymbolState, fills: list[ExternalFill], qty: Decimal,
                ctx: Ctx) -> SymbolState:
    """Fills that reduced the position, up to `qty`: booked with the P&L of the part taken and
    the whole fee. A fill is booked once (its id is then known to the ledger), so the fee of a
    part left out (the exchange held more than we did) was never booked: it used to get only
    the part's share (found by review), though the venue charged it all."""
    pos = state.position
    assert pos is not None
    for fill in fills:
        if qty <= ZERO:
            break
        take, fee = min(fill.amount, qty), fill.fee
        _say_no_fee(state, fill, ctx)
        gross = (fill.price - pos.entry_price) * take * pos.side.sign
        ctx.ledger.append(LedgerEntry(client_order_id=fill.client_order_id or "external",
                                      position_id=pos.position_id, side=fill.side,
                                      amount=take, price=fill.price, fee=fee,
                                      realized_pnl=gross,
                                      at=fill_time(fill.filled_at, pos.opened_at, ctx.now)))
        pos = replace(pos, contracts=pos.contracts - take,
                      realized_pnl=pos.realized_pnl + gross, fees=pos.fees + fee)
        qty -= take
    return replace(state, position=pos)
