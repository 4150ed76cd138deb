"""Reconciliation of a hedge-grid symbol: what the exchange says about our live orders and
both legs, replayed through the same handlers as live events (trading/grid/handlers.py). An
answer that is not evidence (trading/order_evidence.py: a fill without a price, a not-found
right after an ambiguous send or a single one, an unreadable status) leaves the order as it is,
as in the one-way core (trading/reconcile.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from trading import evidence, late_fees
from trading import journal_events as je
from trading import order_evidence as oe
from trading import trailing_stop as ts
from trading.client_ids import is_emergency
from trading.commands import CancelOrder, Escalate
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    ExternalFill,
    OrderAccepted,
    OrderFailed,
    OrderFilled,
)
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.events import GridReconciled
from trading.grid.hand_fills import book_external, book_resized, dated
from trading.grid.handlers import (
    book_late_fee,
    on_accepted,
    on_canceled,
    on_failed,
    on_filled,
)
from trading.grid.leg_exit import close_leg
from trading.grid.model import GridState, Leg
from trading.orders import Order, OrderPurpose, OrderStatus
from trading.primitives import ZERO, Side
from trading.reconcile import UNKNOWN_POSITION, entry_done
from trading.transitions import LegPhase, leg_change, order_change
from trading.unbooked_fills import last_traded

K = OrderPurpose


def reconcile(state: GridState, ev: GridReconciled, ctx: GridCtx) -> GridState:
    if ev.price is not None:
        state = replace(state, last_price=ev.price, price_seq=state.price_seq + 1)
    held = {s for s in (Side.LONG, Side.SHORT) if state.leg(s).is_open}
    for listed in evidence.in_fill_order(state.orders, ev.orders):
        order = state.order(listed.client_order_id)
        if order is not None:  # still live (a report before it may have ended it)
            found = ev.orders.get(order.client_order_id)
            state = _levels_first(state, order, found, ev, ctx)
            order = state.order(listed.client_order_id)
            if order is not None:
                state = _apply_exchange_order(state, order, found, ev, ctx)
    state = late_fees.settle(oe.pruned(state), ev.orders, ctx, book_late_fee)
    for side in (Side.LONG, Side.SHORT):
        closed = side in held and not state.leg(side).is_open
        if not closed:
            state = _entry_shown_by_position(state, side, ev, ctx)
        state = _adopt_position(state, side, ev, ctx, closed)
    for orphan in ev.orphans:  # after the legs: a leg flagged just now keeps its owner's stop
        if orphan.reduce_only and (_left_alone(state, ev) or (
                _bare(state) and orphan.trigger_price is not None)):
            continue  # it can only reduce a leg: its protection until ours rests
        ctx.record(je.OrphanCanceled(order=orphan.client_order_id,
                                     exchange_id=orphan.exchange_id))
        ctx.emit(CancelOrder(client_order_id=orphan.client_order_id or None,
                             exchange_id=orphan.exchange_id))
    return state


def _left_alone(state: GridState, ev: GridReconciled) -> bool:
    """A leg listed that the grid does not manage (`adopt_unknown_positions = false`): the
    reduce-only orders on the symbol (its owner's stop) stay, as in the one-way core."""
    return state.quarantined and any(not state.leg(side).is_open for side in ev.positions)


def _flagged_before(state: GridState, ctx: GridCtx) -> bool:
    """The symbol was flagged by an earlier reconciliation (journaled then): not again at every
    look while it lasts (found by review: a row every 30 s). A leg flagged in this one is."""
    return (state.quarantine_reason == UNKNOWN_POSITION
            and not any(isinstance(j, je.UnknownPositionFlagged) for j in ctx.journal))


def _bare(state: GridState) -> bool:
    """An open leg without an acknowledged stop of its own (one just sent, or refused): the
    reduce-only stops on the symbol (an adopted leg's own stop) stay until ours rests, as in
    the one-way core (trading/reconcile.py `_bare`); a reduce-only limit by hand protects
    nothing and goes (on Binance it refused the bot's close of the leg, -4118)."""
    return any(state.leg(side).is_open and not state.covered(side, ZERO)
               for side in (Side.LONG, Side.SHORT))


def _entry_shown_by_position(state: GridState, side: Side, ev: GridReconciled,
                             ctx: GridCtx) -> GridState:
    """As the one-way core's (trading/reconcile.py): a flat leg's opening order kept pending by
    the send grace, or acknowledged, whose lookup lags (not found, or open with nothing filled:
    a market order the list shows filled; acknowledged, the listed leg waited without a stop
    for the order's report: found by review), or reported filled without a price, while the exchange
    already lists the leg, no larger than the order: that position is the evidence it landed,
    booked as its fill (contracts and entry price as the venue lists them; the fee looked up
    later). Adopted as an unknown leg instead, the order's own report added the same fill to it
    again: the books held the leg twice."""
    ex = ev.positions.get(side)
    if state.leg(side).is_open or ex is None or ex.contracts <= ZERO:
        return state
    for order in state.orders_of(side, K.ENTRY):
        found = ev.orders.get(order.client_order_id)
        lagging = found is None or (found.status == "open" and found.filled == ZERO)
        priceless = found is not None and found.filled > ZERO and found.average is None
        if (lagging or priceless) and order.filled == ZERO and ex.contracts <= order.amount:
            cid = order.client_order_id
            ctx.record(oe.EntryShownByPosition(order=cid, contracts=ex.contracts,
                                               entry_price=ex.entry_price))
            told = priceless and found is not None and found.fee_known  # its fee is this fill's
            return on_filled(oe.settled(state, cid), OrderFilled(
                client_order_id=cid, exchange_id=found.exchange_id if found else None,
                filled=ex.contracts, average=ex.entry_price,
                fee=found.fee if found and told else ZERO, fee_known=told,
                complete=entry_done(found, ex.contracts, order.amount)), ctx)
    return state


def _levels_first(state: GridState, order: Order, found: ExchangeOrder | None,
                  ev: GridReconciled, ctx: GridCtx) -> GridState:
    """A reducing order found filled for more than its leg (the leg's stop rests for the leg and
    its level): the level's fill came first on the exchange. Where this reconciliation found
    that level filled too (listed later, no fill times to order them), its answer is applied
    first, at the price it filled at; left for later, the excess was taken as the level's fill
    at its limit price (handlers.py `_unseen_level_fill`)."""
    if found is None or order.leg is None or not order.purpose.reduces:
        return state
    if found.filled - order.filled <= state.leg(order.leg).contracts:
        return state
    for level in state.orders_of(order.leg, K.LEVEL):
        answer = ev.orders.get(level.client_order_id)
        if (state.of_current(level) and answer is not None and answer.filled > level.filled
                and answer.average is not None):
            state = _apply_exchange_order(state, level, answer, ev, ctx)
    return state


def _apply_exchange_order(state: GridState, order: Order, found: ExchangeOrder | None,
                          ev: GridReconciled, ctx: GridCtx) -> GridState:
    """One live order's lookup answer, applied only when it is evidence
    (trading/order_evidence.py)."""
    cid = order.client_order_id
    if found is None:
        return _not_found(state, order, ev, ctx)
    if found.status not in oe.READABLE_STATUSES:
        return oe.defer(state, order, oe.unreadable(found.status), ctx)
    if found.status == "open" and _listed_ahead(state, order, found, ev):
        return oe.defer(state, order, oe.LIST_AHEAD, ctx)
    done = found.status != "open"
    fee_told = (found.fee_known and found.filled > ZERO
                and late_fees.unbooked_fee(order.fee, found.fee) != ZERO)
    if found.filled > order.filled or (found.filled > ZERO and done and order.status.live) \
            or fee_told:
        average = oe.fill_average(order, found.filled, found.average)
        if average is None:
            return oe.defer(state, order, oe.NO_PRICE, ctx)
        state = on_filled(oe.settled(state, cid), OrderFilled(
            client_order_id=cid, exchange_id=found.exchange_id, filled=found.filled,
            average=average, fee=found.fee, complete=done, realized_pnl=found.realized_pnl,
            fee_known=found.fee_known, filled_at=found.last_fill_at), ctx)
        current = state.order(cid)
        if current is None:
            return state  # final now: it left the live orders
        order = current
    state = oe.settled(state, cid)
    if found.status == "open":
        if order.status is OrderStatus.PENDING:
            accepted = OrderAccepted(client_order_id=cid, exchange_id=found.exchange_id)
            return on_accepted(state, accepted, ctx)
        return state
    if found.status == "closed" and order.filled:
        return state.with_order(order_change(order, OrderStatus.FILLED))
    # ended with nothing filled ("closed" too): as a refused or cancelled one, through the same
    # handlers (found by review: a close ended so was sent again at once, for ever)
    if order.status is OrderStatus.PENDING and found.filled == ZERO:
        failed = OrderFailed(client_order_id=cid, error=f"exchange status {found.status}",
                             never_reached=False)
        return on_failed(state, failed, ctx)
    return on_canceled(state, cid, ctx)


def _listed_ahead(state: GridState, order: Order, found: ExchangeOrder,
                  ev: GridReconciled) -> bool:
    """As the one-way core's (trading/reconcile.py `_listed_ahead`): a leg our books hold flat
    listed by the exchange while an order that grows it (a closed leg's level whose cancel has
    not landed, an opening order) is live and its lookup shows nothing more filled. Not
    adopted (its report books it), but in doubt: looked at again within LOOK_AGAIN_S, an
    alert if it lasts, instead of waiting unprotected for the next periodic reconciliation.
    An opening order with nothing applied, the leg no larger than it, is booked from the list
    (`_entry_shown_by_position`)."""
    side = order.leg
    ex = ev.positions.get(side) if side is not None else None
    if side is None or order.purpose.reduces or state.leg(side).is_open or ex is None \
            or ex.contracts <= ZERO or found.filled > order.filled:
        return False
    return not (order.purpose is K.ENTRY and order.filled == ZERO
                and ex.contracts <= order.amount)


def _not_found(state: GridState, order: Order, ev: GridReconciled, ctx: GridCtx) -> GridState:
    """As the one-way core (trading/reconcile.py `_not_found`): a pending intent fails only
    after the send grace; an acknowledged order ends at the MISSES_TO_END-th miss in a row (or
    at once when the exchange's trades show it done); a leg's stop is replaced at its
    first miss, the old one cancelled once the new one rests (handlers.on_accepted)."""
    cid = order.client_order_id
    # trades of it are evidence it reached the exchange: booked before any not-found rule
    state, order = _book_traded(state, order, ev.unlisted_traded.get(cid), ctx)
    if oe.sent_only(order):
        if oe.in_grace(order, ctx.now, ctx.rules.send_grace_s):
            return oe.defer(state, order, oe.NOT_FOUND_YET, ctx, missed=True)
        failed = OrderFailed(client_order_id=cid, error="never reached the exchange", lost=True,
                             unseen=True)
        return on_failed(oe.settled(state, cid), failed, ctx)
    traded = oe.done_in_trades(order, ev.external_fills)
    leg = state.leg(order.leg) if order.leg is not None else None
    stop = order.purpose is K.STOP and leg is not None and leg.is_open and state.of_current(order)
    crossed = (stop and leg is not None and leg.stop_price is not None
               and state.last_price is not None
               and ts.crossed_against(leg.side, state.last_price, leg.stop_price))
    if traded or crossed or oe.misses(state, cid) + 1 >= oe.MISSES_TO_END:
        return on_canceled(oe.settled(state, cid), cid, ctx)
    state = oe.defer(state, order, oe.NOT_FOUND, ctx, missed=True)
    replaced = any(o.replaces == cid for o in state.orders if o.status.live)
    if not stop or leg is None or leg.stop_price is None or replaced \
            or order.cancel_requested_at is not None:
        return state
    # the size the missing one had: the leg and its level (maintain.py `_cover`), at most the
    # maximum one order carries (found by review: sized for the leg alone, and uncapped)
    amount = ctx.rules.market.capped(max(order.amount, leg.contracts))
    return ctx.place(state, leg.side, K.STOP, leg.side.exit_order_side, amount,
                     price=leg.stop_price, replaces=cid)


def _book_traded(state: GridState, order: Order, found: ExchangeOrder | None,
                 ctx: GridCtx) -> tuple[GridState, Order]:
    """A not-found order's trades beyond what we applied (short of its amount): booked as a
    fill of it, while the order itself stays not found (it ends by the not-found rules)."""
    if found is None or found.filled <= order.filled or found.average is None:
        return state, order
    state = on_filled(state, OrderFilled(
        client_order_id=order.client_order_id, exchange_id=found.exchange_id,
        filled=found.filled, average=found.average, fee=found.fee, complete=False,
        realized_pnl=found.realized_pnl, fee_known=found.fee_known), ctx)
    return state, state.order(order.client_order_id) or order


def _closed_reason(fills: list[ExternalFill]) -> str:
    """A leg found closed by the supervisor's emergency close (its order id's form) is booked
    as that, not as a stop-out (as the one-way core's, trading/reconcile.py)."""
    emergency = any(is_emergency(f.client_order_id) for f in fills)
    return "emergency_close" if emergency else "closed_on_exchange"


def _unconfirmed(state: GridState, leg: Leg, ctx: GridCtx) -> GridState:
    """The leg is listed flat and no fill shows it closed: an absence is not evidence
    (trading/evidence.py). The leg and its stop stay; a persistent contradiction alerts once."""
    episode = evidence.note(state.unconfirmed_of(leg.side), ctx.now)
    ctx.record(ge.LegCloseUnconfirmed(leg=leg.side, contracts=leg.contracts,
                                      answers=episode.count))
    if episode.alert_due(ctx.now):
        reason = evidence.alert_reason(f"{leg.side.value} leg {leg.position_id}", episode)
        ctx.record(je.CloseConfirmationAlerted(reason=reason))
        ctx.emit(Escalate(reason=reason, attempts=episode.count, last_error=None, close=False))
        episode = replace(episode, alerted=True)
    return state.with_unconfirmed(leg.side, episode)


def _adopt_position(state: GridState, side: Side, ev: GridReconciled,
                    ctx: GridCtx, closed: bool = False) -> GridState:
    """`closed`: this reconciliation's own order answers closed the leg (its stop's fill, a
    close's); the position list, read before them, still showing it lags those fills: the
    leg just closed, not one to adopt (as the one-way core, trading/reconcile.py `_position`)."""
    leg = state.leg(side)
    ex = ev.positions.get(side)
    contracts = ex.contracts if ex is not None else ZERO
    waited = side in state.resize_waits
    if waited:
        state = replace(state, resize_waits=tuple(s for s in state.resize_waits if s is not side))
    if closed and contracts > ZERO:
        ctx.record(ge.LegListedAfterClose(leg=side, contracts=contracts))
        return state
    if contracts == ZERO and leg.is_open:
        fills = [f for f in ev.external_fills if f.position_side in (side, None)]
        exits = (f.amount for f in fills if f.side == side.exit_order_side)
        if not evidence.covered(leg.contracts, exits):
            return _unconfirmed(state, leg, ctx)
    state = state.with_unconfirmed(side, None)
    if contracts == leg.contracts:
        return state
    if contracts == ZERO:
        return _closed_on_exchange(state, leg, ev, ctx)
    assert ex is not None
    closing = [o for o in state.orders_of(side, K.CLOSE) if state.of_current(o)]
    if leg.is_open and contracts < leg.contracts and closing:
        # most likely that close's fill, which its lookup does not show yet: followed now, its
        # report would take the same part off again and close a leg still open on the exchange
        ctx.record(ge.LegResizeWaits(leg=side, ours=leg.contracts, exchange=contracts,
                                     order=closing[-1].client_order_id))
        return state
    if leg.is_open:
        state = book_resized(state, side, contracts, ev, ctx)
        leg = state.leg(side)
        if contracts == leg.contracts:
            return state
    if not leg.is_open:
        return _unknown_leg(state, leg, ex, ctx)
    return _follow_size(state, leg, ex, waited, ctx)


def _closed_on_exchange(state: GridState, leg: Leg, ev: GridReconciled,
                        ctx: GridCtx) -> GridState:
    """Our open leg listed flat, its exits covered by the exchange's fills: closed there (by
    its stop, a take-profit, by hand). What closed it (and what added to it) is booked from
    those fills (issue 16 item 3), and the leg closes dated by its last trade."""
    side = leg.side
    fills = [f for f in ev.external_fills if f.position_side in (side, None)]
    ctx.record(ge.LegClosedOnExchange(leg=side, ours=leg.contracts, fills=len(fills)))
    for f in fills:  # book what closed it, from the exchange's fills (issue 16 item 3),
        state = book_external(state, side, f, ctx)  # and what added to it
    with dated(ctx, last_traded(fills, leg.opened_at, ctx)):  # its wait from its trades
        return close_leg(state, side, _closed_reason(fills), ctx)


def _unknown_leg(state: GridState, leg: Leg, ex: ExchangePosition, ctx: GridCtx) -> GridState:
    """A leg the exchange lists that our books hold flat: left while an opening order of ours
    may still explain it, flagged (the symbol quarantined) when `adopt_unknown_positions` is
    off, adopted with the grid's own level size and a stop otherwise."""
    side = leg.side
    if any(not o.purpose.reduces for o in state.orders_of(side)):
        # our opening order (or a closed leg's level whose cancel has not landed) is still
        # being resolved, its lookup lagging the list, as the one-way core's entry:
        # adopted, its own report added the same fill to the adopted leg, held twice
        # (found by review)
        return state
    if not ctx.rules.adopt_unknown_positions:
        if state.quarantined and state.quarantine_reason != UNKNOWN_POSITION:
            # escalated (our leg's close failed): the emergency close owns the legs now;
            # flagged again, the bot's own closes of our leg resumed (maintain.closes_held)
            return state
        if not _flagged_before(state, ctx):  # once per episode, not every look
            ctx.record(je.UnknownPositionFlagged(side=side, contracts=ex.contracts))
        return replace(state, quarantined=True, quarantine_reason=UNKNOWN_POSITION)
    return _adopted(state, leg, ex, ctx)


def _adopted(state: GridState, leg: Leg, ex: ExchangePosition, ctx: GridCtx) -> GridState:
    """The listed leg taken over as ours: its size and entry price as listed, a stop from
    them, and a position id from the next order sequence (so it is never reused)."""
    side = leg.side
    r = ctx.rules
    leg_change(f"{state.symbol} {side.value}", state.leg_phase(side), LegPhase.OPEN)
    seq = state.order_seq + 1
    # its levels are the grid's own size, as a leg it opens (found by review: sized from
    # the adopted position, a 10 BTC buy by hand was averaged into with 20, 40, 80 BTC)
    ref = leg.ref_qty or r.market.amount_down(
        r.order_size_usdt / (state.last_price or ex.entry_price))
    adopted = Leg(side=side, position_id=f"adopted-{r.client_order_id(seq, K.ENTRY)}",
                  contracts=ex.contracts, entry_price=ex.entry_price, opened_at=ctx.now,
                  ref_qty=ref, anchor=ex.entry_price,
                  stop_price=ts.initial_stop(side, ex.entry_price, r.stop_loss_pct, r.market))
    ctx.record(ge.LegAdopted(leg=side, contracts=ex.contracts, entry_price=ex.entry_price,
                             stop_price=adopted.stop_price))
    return replace(state, order_seq=seq).with_leg(adopted)


def _follow_size(state: GridState, leg: Leg, ex: ExchangePosition, waited: bool,
                 ctx: GridCtx) -> GridState:
    """Our open leg listed at another size that no booked fill explains: followed to the
    exchange's size and entry price, unless a live order of ours may still explain it and
    this is the first look (then once more at the next reconciliation)."""
    side = leg.side
    contracts = ex.contracts
    pending = None if waited else _in_flight(state, leg, contracts)
    if pending is not None:
        # its lookup may lag the position list: followed now, that order's report would add
        # the same fill again (a level grows the leg twice; a take-profit filled in part is
        # then larger than the leg left and closes it early). A difference still there at the
        # next reconciliation (a trade by hand while the order rests) is followed then.
        ctx.record(ge.LegResizeWaits(leg=side, ours=leg.contracts, exchange=contracts,
                                     order=pending.client_order_id))
        return replace(state, resize_waits=state.resize_waits + (side,))
    ctx.record(ge.LegAdjusted(leg=side, ours=leg.contracts, exchange=contracts,
                              entry_price=ex.entry_price))
    return state.with_leg(replace(leg, contracts=contracts, entry_price=ex.entry_price))


def _in_flight(state: GridState, leg: Leg, contracts: Decimal) -> Order | None:
    """A live order of the leg's side whose unreported rest could make the exchange's size:
    a level, or the leg's opening order still open after a part, when the exchange's leg is
    larger, a reducing order when it is smaller (any position's: the venue applies either to
    the one position of the side)."""
    grows = contracts > leg.contracts
    diff = abs(contracts - leg.contracts)
    for order in state.orders_of(leg.side):
        fits = not order.purpose.reduces if grows else order.purpose.reduces
        if fits and order.amount - order.filled >= diff:
            return order
    return None
