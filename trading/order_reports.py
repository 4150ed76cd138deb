"""The order-report handlers of `trading.decide`: an order acknowledged, filled, canceled or
failed, applied to one symbol's state. Pure, like the rest of the decision function; the
reconciler replays its findings through the same four.
"""

from __future__ import annotations

from trading import entry_resend as er
from trading import journal_events as je
from trading import lifecycle as lc
from trading import order_evidence as oe
from trading import trailing_stop as ts
from trading.commands import CancelOrder
from trading.decision import Ctx, fill_time
from trading.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    StopAmended,
    StopAmendFailed,
)
from trading.frozen import replace
from trading.model import Order, OrderPurpose, OrderStatus, Phase, SymbolState
from trading.rules import stop_wait
from trading.stop_rules import cover_stop, guarded, place_stop, standing_stops
from trading.transitions import acknowledged_first, order_change


def on_accepted(state: SymbolState, ev: OrderAccepted, ctx: Ctx) -> SymbolState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final (final orders leave the state): a late report
    if order.status is OrderStatus.OPEN:
        return state  # a repeated acknowledgement (reconciliation reports every resting order)
    order = order_change(order, OrderStatus.OPEN, exchange_id=ev.exchange_id)
    state = state.with_order(order)
    if order.purpose is not OrderPurpose.STOP:
        return state
    if not state.owns(order):  # its position closed while this stop was in flight
        ctx.emit(CancelOrder.of(order))
        return state
    ctx.record(je.StopPlaced(stop_price=order.stop_price, order=order.client_order_id))
    state = replace(state, stop_price=order.stop_price, needs_stop=False, stop_refusals=0)
    old = state.order(order.replaces) if order.replaces else None
    if old is not None and old.status is OrderStatus.OPEN:
        # marked as the grid marks its own: a stop being cancelled covers nothing
        # (`SymbolState.protected`, the coverage alert and the entry gate)
        ctx.emit(CancelOrder.of(old))
        if old.cancel_requested_at is None:
            state = state.with_order(replace(old, cancel_requested_at=ctx.now))
    # the position grew while this stop was pending (the next part of an entry): cover it now
    return cover_stop(state, ctx)


def on_filled(state: SymbolState, ev: OrderFilled, ctx: Ctx) -> SymbolState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final: its fill was booked when it became final
    if _before_its_entry(state, order, ev):
        return oe.defer(state, order, oe.ENTRY_FIRST, ctx)
    state, order = acknowledged_first(state, order, ev, ctx, on_accepted)
    state = _stop_filled_unacknowledged(state, order, ev, ctx)
    state, order = _at_venue_level(state, order, ev)
    before, ctx.fill_at = ctx.fill_at, fill_time(ev.filled_at, order.created_at, ctx.now)
    try:
        return lc.apply_fill(state, order, ev.filled, ev.average, ev.fee, ev.exchange_id,
                             ev.complete, ctx, fee_known=ev.fee_known,
                             position_gone=ev.position_gone)
    finally:
        ctx.fill_at = before


def _stop_filled_unacknowledged(state: SymbolState, order: Order, ev: OrderFilled,
                                ctx: Ctx) -> SymbolState:
    """A stop of the position whose first report is its whole fill (a fast venue, a fill while
    the bot was down) is journaled as placed before its fill is booked, as an acknowledged one
    (`on_accepted`; found by review: the journal showed a position closed by a stop it never
    showed placed). Only the record: nothing rests to cancel or cover."""
    if order.purpose is not OrderPurpose.STOP or order.status is not OrderStatus.PENDING \
            or ev.filled <= order.filled or not state.owns(order):
        return state
    ctx.record(je.StopPlaced(stop_price=order.stop_price, order=order.client_order_id))
    return state


def _at_venue_level(state: SymbolState, order: Order,
                    ev: OrderFilled) -> tuple[SymbolState, Order]:
    """A stop that filled at a trigger other than the books': moved in place by an amend whose
    answer was lost (killed with it in flight), the books still held the old level, and its
    fill was labelled by it (live chaos, Bybit: a trailed stop's profitable fill booked as
    `stop_loss`). The venue's level is the truth: kept, and the close labelled by it."""
    told = ev.trigger_price
    if order.purpose is not OrderPurpose.STOP or told is None or told == order.stop_price \
            or not told.is_finite() or told <= 0:
        return state, order
    order = replace(order, price=told)
    return state.with_order(order), order


def _before_its_entry(state: SymbolState, order: Order, ev: OrderFilled) -> bool:
    """A reduce-only fill while the books hold the symbol flat and an entry on the side it
    reduces is live (its cancel not landed): the venue fills no reduce-only order on a flat
    side, so that entry's rest filled first and its report is still behind (an older stop of
    the closed position filled against it). Booked now, the fill had no position (no P&L) and
    the entry's report then opened the rest for all of it, larger than the venue's (found by
    review, as the grid's level). It waits until the entry's report is in; the next look
    books it against the position it closed."""
    if not order.purpose.reduces or state.position is not None or ev.filled <= order.filled:
        return False
    return any(e.side != order.side for e in state.live_orders(OrderPurpose.ENTRY))


def on_canceled(state: SymbolState, ev: OrderCanceled, ctx: Ctx) -> SymbolState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final (a late or repeated report)
    kept = oe.unseen_yet(state, ev.client_order_id, ev.unseen, ctx, ctx.rules.send_grace_s)
    if kept is not None:
        return kept  # found nowhere, but it may still land: not evidence yet
    state = state.with_order(order_change(order, OrderStatus.CANCELED))
    ctx.record(je.OrderCanceled(order=order.client_order_id, purpose=order.purpose))
    stops_left = standing_stops(state)  # the current position's, not being cancelled
    if order.purpose is OrderPurpose.STOP and guarded(state) and not stops_left \
            and order.status is OrderStatus.PENDING:
        # ended as it was placed (its create answered "closed", nothing filled), never rested:
        # a refusal, retried with its backoff. Re-placed at once, in the same message, a venue
        # answering every stop so sent 1,000 stops before the loop's step bound (found by review)
        refusals = state.stop_refusals + 1
        return replace(state, needs_stop=True, stop_refusals=refusals,
                       next_stop_at=ctx.now + ctx.rules.risk.stop_retry(refusals))
    if order.purpose is OrderPurpose.STOP and guarded(state) and not stops_left:
        # someone removed our stop: re-placed at once, its refusals counted from none (a
        # count of refused moves must not slow the first retries of a stop that is missing)
        return replace(state, needs_stop=True, next_stop_at=0.0, stop_refusals=0)
    closing = state.phase is Phase.CLOSING and state.owns(order)
    if order.purpose is OrderPurpose.CLOSE and closing:
        return lc.close_failed(state, "close order canceled", ctx)
    if order.purpose is OrderPurpose.ENTRY and state.phase is Phase.ENTERING:
        return _entry_ended(state, ctx)
    return state


def _entry_ended(state: SymbolState, ctx: Ctx) -> SymbolState:
    """The entry order ended unfilled or partly filled: flat, or open with what filled, and
    protected like any opened position (stop, trailing stop, take-profit)."""
    if state.position is None:
        refusals = state.entry_refusals + 1
        wait = ctx.rules.risk.entry_retry(refusals)
        state = replace(state, entry_refusals=refusals, entry_retry_at=ctx.now + wait)
        return lc.to_phase(state, Phase.FLAT)
    return lc.finish_entry(state, ctx)


def on_failed(state: SymbolState, ev: OrderFailed, ctx: Ctx) -> SymbolState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final (a late or repeated report)
    if ev.market_price is not None:  # a fresh price read right after a refused stop
        state = replace(state, last_price=ev.market_price)
    status = OrderStatus.FAILED if ev.never_reached else OrderStatus.REJECTED
    state = state.with_order(order_change(order, status, last_error=ev.error))
    ctx.record(je.OrderFailed(order=order.client_order_id, purpose=order.purpose, error=ev.error))
    match order.purpose:
        case OrderPurpose.ENTRY:
            if state.phase is not Phase.ENTERING:
                return state
            if (ev.set_aside or ev.unseen) and state.position is None:  # never sent (an order
                # report came first, or a kill): no refusal (as the grid's, handlers.py); an
                # external signal's set-aside entry is sent again
                flat = lc.to_phase(state, Phase.FLAT)
                return er.set_aside(flat, order.client_order_id, ctx) if ev.set_aside else flat
            return _entry_ended(state, ctx)
        case OrderPurpose.STOP:
            return _stop_failed(state, order, ctx, lost=ev.lost)
        case OrderPurpose.CLOSE:
            if state.phase is not Phase.CLOSING or not state.owns(order):
                return state
            if ev.position_gone:
                return lc.close_raced(state, ev.error, ctx)
            if ev.unseen:  # never reached the venue (a kill before its send): counted once
                return lc.close_unsent(state, ctx)
            return lc.close_failed(state, ev.error, ctx)
        case _:
            ctx.record(je.EmergencyCloseFailed(error=ev.error))
            return state


def _stop_failed(state: SymbolState, order: Order, ctx: Ctx, *,
                 lost: bool = False) -> SymbolState:
    """A refused stop of the open position: the position closed at once when the price is
    already through its level, else a stop due again after a bounded backoff (a refused move
    waits the same way while the old stop rests). A `lost` one is due again at once
    (`rules.stop_wait`)."""
    pos, price = state.position, state.last_price
    if not state.owns(order):
        return state  # a stop of a position closed before protects nothing now
    if (
        pos is not None
        and state.phase is Phase.OPEN
        and order.stop_price is not None
        and price is not None
        and ts.crossed_against(pos.side, price, order.stop_price)
    ):
        # refused because the price is already through it: no stop can rest there
        ctx.record(je.StopAlreadyCrossed(stop_price=order.stop_price, price=price))
        # a stop is due if none is left: placed if the price comes back above the
        # level while the close is retried (stop_rules.through_stop)
        return lc.start_close(
            replace(state, needs_stop=not state.live_orders(OrderPurpose.STOP)),
            "trailing_stop" if order.replaces else "stop_loss",
            ctx,
        )
    if state.position is None:
        return state
    refusals = state.stop_refusals + 1
    retry_at = ctx.now + stop_wait(state.stop_refusals, lost, ctx.rules.risk.stop_retry)
    if not state.active_stop():
        return replace(state, needs_stop=True, stop_refusals=refusals,
                       next_stop_at=retry_at)
    # a move refused while the old stop rests: it waits as a refused stop does
    # (`decide.move_waits`); sent again at every price, a lasting refusal made one
    # refused order per tick
    return replace(state, stop_refusals=refusals, next_stop_at=retry_at)


def on_stop_amended(state: SymbolState, ev: StopAmended, ctx: Ctx) -> SymbolState:
    """The resting stop now sits at the new level (same order, same client id)."""
    order = state.order(ev.client_order_id)
    if order is None or order.status is not OrderStatus.OPEN:
        return state  # filled or gone meanwhile: its own report decides
    state = state.with_order(order_change(order, OrderStatus.OPEN, price=ev.stop_price))
    ctx.record(je.StopAmended(order=order.client_order_id, stop_price=ev.stop_price))
    if state.position is None:
        return state
    return replace(state, stop_price=ev.stop_price, needs_stop=False, stop_refusals=0)


def on_stop_amend_failed(state: SymbolState, ev: StopAmendFailed, ctx: Ctx) -> SymbolState:
    """The stop rests where it was: move it the other way, a new stop first, then the old one
    is cancelled once the new one is acknowledged (on_accepted)."""
    ctx.record(je.StopAmendFailed(order=ev.client_order_id, stop_price=ev.stop_price,
                                  error=ev.error))
    order = state.order(ev.client_order_id)
    if order is None or order.status is not OrderStatus.OPEN:
        return state
    if state.phase is not Phase.OPEN or state.position is None:
        return state
    if any(o.status is OrderStatus.PENDING for o in state.live_orders(OrderPurpose.STOP)):
        return state  # one stop move at a time
    return place_stop(state, ev.stop_price, ctx, replaces=order.client_order_id)
