"""The hedge grid's event handlers: acknowledgements, fills (growing and reducing a leg),
cancels, failures, the kill switch and a lifted quarantine. Pure; `GridCore.decide` calls them
and reconciliation (trading/grid/reconcile.py) replays what the exchange says through them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from trading import late_fees
from trading import trailing_stop as ts
from trading.commands import LedgerEntry
from trading.decision import fill_time
from trading.events import OrderAccepted, OrderFailed, OrderFilled
from trading.grid import journal_events as ge
from trading.grid.account_events import escalate
from trading.grid.context import GridCtx
from trading.grid.leg_exit import Fill, book, close_leg, fill_pnl, take_off
from trading.grid.model import GridState, Leg
from trading.grid.rules import GridRules
from trading.orders import Order, OrderPurpose, OrderStatus
from trading.primitives import ZERO, Side
from trading.stop_outs import GRID_STOPPED_OUT as STOPPED_OUT
from trading.transitions import LegPhase, acknowledged_first, leg_change, order_change

K = OrderPurpose


def _leg_of(state: GridState, order: Order) -> Leg:
    if order.leg is None:
        raise ValueError(f"{state.symbol}: grid order {order.client_order_id} names no leg")
    return state.leg(order.leg)


def on_accepted(state: GridState, ev: OrderAccepted, ctx: GridCtx) -> GridState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final (final orders leave the state): late report
    if order.status is OrderStatus.OPEN:
        return state  # a repeated acknowledgement (reconciliation reports every resting order)
    order = order_change(order, OrderStatus.OPEN, exchange_id=ev.exchange_id)
    state = state.with_order(order)
    leg = _leg_of(state, order)
    if order.purpose.reduces and not (leg.is_open and state.of_current(order)):
        return ctx.cancel(state, order)  # its leg closed while this was in flight
    state = _placed(state, order, leg, ctx)
    old = state.order(order.replaces) if order.replaces else None
    if old is not None and old.status is OrderStatus.OPEN and old.cancel_requested_at is None:
        state = ctx.cancel(state, old)  # the new one rests first, then the old one goes
    return state


def _placed(state: GridState, order: Order, leg: Leg, ctx: GridCtx) -> GridState:
    """An order known to have reached the venue: journaled as placed, its kind's failures
    counted from none. On its acknowledgement, or on its first report when that is already its
    whole fill (`_filled_unacknowledged`)."""
    cid = order.client_order_id
    if order.purpose is K.STOP:
        if leg.stop_failures:
            state = state.with_leg(replace(leg, stop_failures=0))
        ctx.record(ge.LegStopPlaced(leg=order.leg, stop_price=order.price, amount=order.amount,
                                    order=cid))
    elif order.purpose is K.TAKE_PROFIT:
        if leg.tp_failures:
            state = state.with_leg(replace(leg, tp_failures=0))
        ctx.record(ge.TakeProfitPlaced(leg=order.leg, price=order.price, amount=order.amount,
                                       order=cid))
    elif order.purpose is K.LEVEL:
        if leg.level_failures:
            state = state.with_leg(replace(leg, level_failures=0))
        ctx.record(ge.LevelPlaced(leg=order.leg, level=order.level, price=order.price,
                                  amount=order.amount, order=cid, position_id=order.position_id))
    return state


def _filled_unacknowledged(state: GridState, order: Order, ev: OrderFilled,
                           ctx: GridCtx) -> GridState:
    """An order whose first report is its whole fill (a fast venue, a fill while the bot was
    down) is journaled as placed before its fill is booked, as an acknowledged one (found by a
    live chaos review: a level so filled showed `LegAveraged` with no `LevelPlaced`, and
    tests/e2e/chaos_grid.py read the leg it reopened as a repeated entry). Only the bookkeeping:
    nothing rests to cancel (a part filled first: `acknowledged_first`)."""
    if order.status is not OrderStatus.PENDING or ev.filled <= order.filled:
        return state
    leg = _leg_of(state, order)
    if order.purpose.reduces and not (leg.is_open and state.of_current(order)):
        return state  # its leg closed while it was in flight: as on_accepted, nothing placed
    return _placed(state, order, leg, ctx)


def on_filled(state: GridState, ev: OrderFilled, ctx: GridCtx) -> GridState:
    """A fill report, dated while it is booked by the venue's fill time where it told one
    (`decision.fill_time`: the ledger row, a leg's close and the wait after a stop-out)."""
    order = state.order(ev.client_order_id)
    before = ctx.fill_at  # a report applied inside another's (a level's fill taken first)
    ctx.fill_at = None if order is None else fill_time(ev.filled_at, order.created_at, ctx.now)
    try:
        return _on_filled(state, ev, ctx)
    finally:
        ctx.fill_at = before


def _on_filled(state: GridState, ev: OrderFilled, ctx: GridCtx) -> GridState:
    """A cumulative fill report: the increase since the last one is booked. A fee is booked
    when it grew (a rebate too), even without a new quantity (told after the fill), never when
    it moved towards zero (an unknown fee reads 0: `late_fees.unbooked_fee`); an order that
    ends with its fee unknown is looked at again for it (trading/late_fees.py)."""
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final: its fill was booked when it became final
    # (opened by the fill alone, the later acknowledgement is a no-op and the order it
    # replaces would never be cancelled)
    state, order = acknowledged_first(state, order, ev, ctx, on_accepted)
    state = _filled_unacknowledged(state, order, ev, ctx)
    delta = ev.filled - order.filled
    status = OrderStatus.FILLED if ev.complete else OrderStatus.OPEN
    fee = late_fees.unbooked_fee(order.fee, ev.fee) if ev.fee_known else ZERO
    if delta <= ZERO:
        return _nothing_more_filled(state, order, ev, fee, ctx)
    prev_value = (order.average or ZERO) * order.filled
    price = (ev.average * ev.filled - prev_value) / delta
    # the exchange's P&L is cumulative: the new part's is what it adds to what we booked so far
    reported = None if ev.realized_pnl is None else ev.realized_pnl - order.realized_pnl
    fill = Fill(delta, price, fee, reported)
    leg = _leg_of(state, order)
    # whatever this part is booked with (the exchange's or ours) adds to the order's booked P&L,
    # so the next cumulative report books only the difference (never a part twice)
    booked = order.realized_pnl + (fill_pnl(leg, fill) if order.purpose.reduces else ZERO)
    # a growing order that opens its leg (a level placed for a position that closed before its
    # cancel landed) belongs to the position it opens from now on: its fee told later, and its
    # unfilled rest, are that position's (`_grow` names the new leg by it)
    position_id = order.position_id
    if not order.purpose.reduces and not leg.is_open:
        position_id = _opened_by(order)
    updated = order_change(order, status, filled=ev.filled, average=ev.average,
                           fee=order.fee + fee, realized_pnl=booked, position_id=position_id,
                           exchange_id=ev.exchange_id or order.exchange_id)
    state = _owe(state.with_order(updated), updated, ev, ctx)
    if not order.purpose.reduces:
        return _grow(state, leg, updated, delta, price, fee, ctx)
    state = _reduce(state, leg, order, fill, ctx)
    if order.purpose is K.CLOSE and ev.complete:  # the rest expired: as a failed close
        state = _close_done(state, order, ev.filled, "close order ended part filled", ctx,
                            ev.position_gone)
    return state


def _nothing_more_filled(state: GridState, order: Order, ev: OrderFilled, fee: Decimal,
                         ctx: GridCtx) -> GridState:
    """A report with no new quantity: a fee told after the fill is booked; a report that ends
    the order makes it final (a close that ended so is done)."""
    if fee:
        state = book_late_fee(state.with_order(replace(order, fee=order.fee + fee)), order,
                              fee, ctx)
    if ev.complete and ev.filled >= order.filled:
        current = state.order(order.client_order_id) or order
        state = state.with_order(order_change(current, OrderStatus.FILLED,
                                              exchange_id=ev.exchange_id))
        state = _owe(state, current, ev, ctx)
        if order.purpose is K.CLOSE:  # ended with nothing more filled
            state = _close_done(state, order, ev.filled, "close order ended", ctx,
                                ev.position_gone)
    return state


def _opened_by(order: Order) -> str:
    """The id of the leg a growing order's fill opens: the order's own, or, when it opened a
    leg already (part of a level filled into its closed leg's side, that leg closed too, and
    the rest filled before the cancel landed), `<id>-rest`, as the one-way core's entry rest:
    named by the same id, the new leg's row overwrote the closed one's (found by review)."""
    cid, pid = order.client_order_id, order.position_id
    return f"{pid}-rest" if pid is not None and pid.startswith(cid) else cid


def _close_done(state: GridState, order: Order, filled: Decimal, error: str,
                ctx: GridCtx, gone: bool = False) -> GridState:
    """A close ended. Filled in full with its leg still open (a slice of a leg larger than the
    maximum one order carries): no failed attempt, its count is taken back and the next slice
    goes at once, as the one-way core's (`send_close(counted=False)`; found by review: each
    slice was a failure, backed off, and the fifth escalated). Short of it: `_close_ended`;
    short while the exchange lists no position on the leg's side (`gone`, OrderFilled.
    position_gone): the venue cut it to a leg smaller than the books', it closed the leg."""
    if filled < order.amount:
        if gone:
            error = (f"close {order.client_order_id} filled {filled} of {order.amount}; "
                     f"the exchange lists no {order.leg.value if order.leg else ''} leg")
        if gone and filled == ZERO:  # it closed nothing: raced like a refused one, counted
            ctx.record(ge.LegCloseRaced(leg=order.leg, error=error))
            return _close_ended(state, order, error, True, ctx)
        return _close_ended(state, order, error, False, ctx, cut=gone)
    leg = _leg_of(state, order)
    if leg.is_open and state.of_current(order) and leg.close_attempts:
        state = state.with_leg(replace(leg, close_attempts=leg.close_attempts - 1))
    return state


def _owe(state: GridState, order: Order, ev: OrderFilled, ctx: GridCtx) -> GridState:
    """An order that ended with its fee unknown is looked at again for it."""
    return late_fees.owe(state, order, ctx.now) if ev.complete and not ev.fee_known else state


def book_late_fee(state: GridState, order: Order, fee: Decimal, ctx: GridCtx) -> GridState:
    """A fee told after its fill: a ledger entry of its own (quantity 0), and the leg's fees
    while the leg the order belongs to is still the open one (a leg's opening order names
    the leg it opened by its client order id)."""
    leg = _leg_of(state, order)
    position_id = order.position_id or order.client_order_id
    ctx.ledger.append(late_fees.fee_entry(order, position_id, fee))
    if not leg.is_open or leg.position_id != position_id:
        return state
    return state.with_leg(replace(leg, fees=leg.fees + fee))


def _grow(state: GridState, leg: Leg, order: Order, delta: Decimal, price: Decimal,
          fee: Decimal, ctx: GridCtx) -> GridState:
    r = ctx.rules
    if not leg.is_open:
        leg_change(f"{state.symbol} {leg.side.value}", state.leg_phase(leg.side), LegPhase.OPEN)
        stop = ts.initial_stop(leg.side, price, r.stop_loss_pct, r.market)
        leg = Leg(side=leg.side, position_id=order.position_id, opened_at=ctx.now,
                  ref_qty=_reference(leg, order, r), stop_price=stop)
        ctx.record(ge.LegOpened(leg=leg.side, position_id=leg.position_id, price=price,
                                amount=delta, stop_price=leg.stop_price, ref_qty=leg.ref_qty))
    else:
        ctx.record(ge.LegAveraged(leg=leg.side, level=order.level, price=price, amount=delta))
    contracts = leg.contracts + delta
    entry = price if leg.entry_price is None else (
        (leg.entry_price * leg.contracts + price * delta) / contracts)
    leg = replace(leg, contracts=contracts, entry_price=entry, fees=leg.fees + fee, anchor=price,
                  anchor_seq=state.price_seq, level=max(leg.level, order.level))
    ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id,
                                  position_id=leg.position_id or "", side=order.side,
                                  amount=delta, price=price, fee=fee, realized_pnl=ZERO,
                                  at=ctx.fill_at))
    if order.purpose is K.ENTRY and state.open_refusals:
        state = replace(state, open_refusals=0)  # an opening order filled: the wait starts again
    return state.with_leg(leg)


def _reference(leg: Leg, order: Order, r: GridRules) -> Decimal:
    """The reference quantity of a leg this fill opens: the side's, else the opening order's
    amount. A level k that opens the leg (it filled after both legs closed, before its cancel
    landed) was sized ref * multiplier**k: its reference is that divided back (rounded down),
    never the level's own amount (every later level would be multiplier**k times too large)."""
    if leg.ref_qty is not None:
        return leg.ref_qty
    if order.purpose is not K.LEVEL or order.level <= 0:
        return order.amount
    return r.market.amount_down(order.amount / r.size_multiplier ** order.level)


def _reduce(state: GridState, leg: Leg, order: Order, fill: Fill, ctx: GridCtx) -> GridState:
    """Every fill of a reducing order is booked, once, with the exchange's realized P&L where it
    reports one (issue 16 item 3): the exchange may have applied fills in another order than we
    learn of them, and its averaging decides each fill's P&L."""
    cid = order.client_order_id
    if not leg.is_open and order.position_id is not None:
        # the venue fills no reduce-only order on a flat side: a level of the position it was
        # placed for filled there first (after the leg closed, before its cancel landed), its
        # report still behind this one (the cancels' answers come in the order they went out)
        state = _unseen_level_fill(state, leg.side, order.position_id, fill.amount, ctx)
        leg = state.leg(leg.side)
    if not leg.is_open or leg.entry_price is None:
        ctx.record(ge.FillWithoutLeg(leg=order.leg, order=cid, amount=fill.amount, price=fill.price,
                                     realized_pnl=fill.realized_pnl))
        book(cid, order.side, order.position_id or cid, fill, fill_pnl(leg, fill), ctx)
        return state
    if fill.amount > leg.contracts:
        state = _unseen_level_fill(state, leg.side, leg.position_id, fill.amount - leg.contracts,
                                   ctx)
        leg = state.leg(leg.side)
    if fill.amount > leg.contracts:
        ctx.record(ge.FillExceedsLeg(leg=order.leg, order=cid, amount=fill.amount,
                                     contracts=leg.contracts))
    state, leg, amount = take_off(state, leg, cid, order.side, fill, ctx)
    if leg.is_open:
        ctx.record(ge.LegReduced(leg=leg.side, order=cid, amount=amount, price=fill.price))
        if order.purpose in (K.STOP, K.CLOSE) and not leg.stopped:
            state = state.with_leg(replace(leg, stopped=True))
        return state
    reason = {K.TAKE_PROFIT: "take_profit", K.STOP: "stop_loss", K.CLOSE: "stop_loss_bot"}.get(
        order.purpose, "closed")
    if leg.stopped and reason not in STOPPED_OUT:
        reason = "stop_loss"  # its stop took part of it first: a take-profit of the rest is no win
    return close_leg(state, leg.side, reason, ctx)


def _unseen_level_fill(state: GridState, side: Side, position_id: str | None, excess: Decimal,
                       ctx: GridCtx) -> GridState:
    """A reducing fill larger than the leg (any, of a leg our books hold flat): the venue's
    position was larger, by a fill of the level of `position_id` not reported yet (the stop
    rests for the leg and its level, and a fast market fills both; their reports may come the
    other way round). That level's fill is booked
    first, at its limit price (a resting level trades at its own price); the level stays live
    until the venue confirms it (its report, its cancel's answer or a lookup then adds only its
    fee, and a level that did not fill after all is cancelled with the leg's orders). Taken as
    nothing, the excess closed the leg and the level's report opened a new leg the venue never
    held."""
    levels = [o for o in state.orders_of(side, K.LEVEL)
              if o.position_id in (None, position_id) and o.price is not None
              and o.amount - o.filled >= excess]
    if not levels:
        return state
    level = levels[-1]
    assert level.price is not None
    filled = level.filled + excess
    average = ((level.average or ZERO) * level.filled + level.price * excess) / filled
    return on_filled(state, OrderFilled(
        client_order_id=level.client_order_id, exchange_id=level.exchange_id, filled=filled,
        average=average, fee=level.fee, complete=False, fee_known=False), ctx)


def on_canceled(state: GridState, cid: str | None, ctx: GridCtx) -> GridState:
    order = state.order(cid) if cid is not None else None
    if order is None:
        return state  # not ours, or already final (a late or repeated report)
    ctx.record(ge.LegOrderCanceled(order=order.client_order_id, leg=order.leg,
                                   kind=order.purpose))
    pending = order.status is OrderStatus.PENDING
    state = state.with_order(order_change(order, OrderStatus.CANCELED))
    if order.purpose in (K.STOP, K.TAKE_PROFIT) and pending and order.filled == ZERO \
            and order.cancel_requested_at is None:
        # ended as it was placed (its create answered "closed", nothing filled), never rested:
        # a refusal, backed off as one (the one-way core's order_reports.py on_canceled); not
        # one the bot took back itself before it went out (maintain.py `_take_profit`).
        # Re-placed at once by maintain, in the same message, a venue answering every stop so
        # sent 1,000 stops before the loop's step bound (found by review)
        return state.with_leg(_backed_off(_leg_of(state, order), order.purpose, ctx))
    if order.purpose is K.CLOSE and pending and order.filled == ZERO \
            and order.cancel_requested_at is not None:
        leg = _leg_of(state, order)  # taken back by the bot (its leg shrank before it went
        if state.of_current(order) and leg.close_attempts:  # out, maintain.py `_protect`):
            state = state.with_leg(replace(leg, close_attempts=leg.close_attempts - 1))
        return state  # no failed attempt, no backoff: the close goes again for the leg
    if order.purpose is K.CLOSE:  # unfilled (an IOC expired): a failed attempt, backed off
        state = _close_ended(state, order, "close order canceled", False, ctx)
    if order.purpose is K.ENTRY and order.filled == ZERO:  # ended unfilled: as a refused one
        state = open_ended(state, ctx)
    return state


def _backed_off(leg: Leg, purpose: K, ctx: GridCtx, lost: bool = False) -> Leg:
    """A leg's refused order that is not a close (`on_failed`; a stop or take-profit ended
    before it ever rested too): maintain retries after retry_s, a stop or take-profit refused
    again and again waits the doubling stop_retry. The first stop of a row that never reached
    the venue (`OrderFailed.lost`) holds back nothing: maintain places it again in the same
    decision (why that cannot double it: trading/rules.py `stop_wait`); a take-profit too (it
    counted as a refusal, backed off and held the levels: review s49)."""
    r = ctx.rules
    if purpose is K.STOP and lost and not leg.stop_failures:
        return replace(leg, stop_failures=1, stop_retry_at=ctx.now)
    if purpose is K.TAKE_PROFIT and lost and not leg.tp_failures:  # a second in a row backs off
        return replace(leg, tp_failures=1)
    leg = replace(leg, retry_at=ctx.now + r.retry_s)
    if purpose is K.TAKE_PROFIT:  # refused again and again: backed off as a stop
        failures = leg.tp_failures + 1  # (found by review: re-sent every retry_s for ever)
        leg = replace(leg, tp_failures=failures, retry_at=ctx.now + r.stop_retry(failures))
    if purpose is K.STOP:  # refused again and again: backed off (stop_retry)
        failures = leg.stop_failures + 1
        leg = replace(leg, stop_failures=failures, stop_retry_at=ctx.now + r.stop_retry(failures))
    return leg


def open_ended(state: GridState, ctx: GridCtx) -> GridState:
    """An opening order ended unfilled: the next waits, doubling while they keep ending so
    (never shortening a stop-out's wait), as the one-way core's entries."""
    refusals = state.open_refusals + 1
    until = ctx.now + ctx.rules.open_retry(refusals)
    return replace(state, open_refusals=refusals, next_open_at=max(state.next_open_at, until))


def on_failed(state: GridState, ev: OrderFailed, ctx: GridCtx) -> GridState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state  # not ours, or already final (a late or repeated report)
    r = ctx.rules
    if ev.market_price is not None:
        # the exchange's price read right after a refused stop: the stop check uses it; it is
        # not a tick (price_seq), so a leg closed in this message still reopens only on the next
        state = replace(state, last_price=ev.market_price)
    status = OrderStatus.FAILED if ev.never_reached else OrderStatus.REJECTED
    state = state.with_order(order_change(order, status, last_error=ev.error))
    ctx.record(ge.LegOrderFailed(order=order.client_order_id, leg=order.leg, kind=order.purpose,
                                 error=ev.error))
    leg = _leg_of(state, order)
    if (ev.set_aside or ev.unseen) and order.purpose is K.ENTRY:  # no refusal: after retry_s
        return replace(state, next_open_at=max(state.next_open_at, ctx.now + r.retry_s))
    if (ev.set_aside or ev.unseen) and order.purpose is K.LEVEL:  # none refused it either
        return state.with_leg(replace(leg, level_retry_at=ctx.now + r.retry_s))
    if ev.unseen and order.purpose is K.TAKE_PROFIT:  # none refused it: placed again at once,
        return state  # no backoff, nothing held (a stop so ended: `_backed_off`'s lost stop)
    if order.purpose is K.ENTRY:
        return open_ended(state, ctx)
    if order.purpose is K.LEVEL:  # backed off: a level the balance cannot pay is not re-asked
        failures = leg.level_failures + 1  # every retry_s for ever
        wait = max(r.retry_s, r.close_backoff(failures))
        return state.with_leg(replace(leg, level_failures=failures,
                                      level_retry_at=ctx.now + wait))
    if order.purpose is not K.CLOSE:
        # maintain retries after retry_s; a stop refused because the price is through it is
        # replaced by a close in this same decision (maintain: the close is never throttled by
        # retry_at; issue 16 item 2). A refused take-profit holds back no stop.
        return state.with_leg(_backed_off(leg, order.purpose, ctx, ev.lost))
    if ev.position_gone or not leg.is_open:
        ctx.record(ge.LegCloseRaced(leg=order.leg, error=ev.error))
    if not leg.is_open:  # booked closed already: nothing to retry
        return state.with_leg(replace(leg, close_retry_at=ctx.now + r.retry_s))
    if ev.unseen and leg.close_unsent and leg.close_attempts and state.of_current(order):
        # never reached the venue again (a kill before its send): a row of them counts once
        state = state.with_leg(replace(leg, close_attempts=leg.close_attempts - 1))
    return _close_ended(state, order, ev.error, ev.position_gone, ctx, unsent=ev.unseen)


def _close_ended(state: GridState, order: Order, error: str, raced: bool,
                 ctx: GridCtx, cut: bool = False, *, unsent: bool = False) -> GridState:
    """A close of the open leg ended with the leg still open: refused, raced (the exchange
    listed the leg flat), cancelled unfilled or filled in part. The attempt was counted when the
    close was committed (maintain.py `_protect`, as the one-way `send_close`): backed off, and
    escalated after max_close_attempts, so no way a close ends makes a loop (incident 2).
    `cut`: filled in part while the exchange lists the leg flat: it closed the leg, no failed
    attempt, no escalation (the one-way `close_cut`; found by review: it escalated); the
    reconciliation asked for at once books the rest, else it is due again after the backoff."""
    r = ctx.rules
    leg = _leg_of(state, order)
    if not leg.is_open or not state.of_current(order):
        return state
    if cut:
        ctx.record(ge.LegCloseRaced(leg=order.leg, error=error))
    attempts = max(leg.close_attempts, 1)  # a close committed before attempts were counted
    retry_at = ctx.now + max(r.retry_s if raced or cut else 0.0, r.close_backoff(attempts))
    state = state.with_leg(replace(leg, close_attempts=attempts, close_retry_at=retry_at,
                                   close_unsent=unsent))
    if attempts >= r.max_close_attempts and not cut:
        state = escalate(state, leg.side, f"close failed {attempts} times", attempts, error,
                          ctx)
    return state
