"""Position lifecycle transitions: entry, fills, close attempts, escalation. Where the stop goes
and when it is placed: trading/stop_rules.py."""

from __future__ import annotations

from decimal import Decimal

from trading import journal_events as je
from trading import late_fees
from trading import trailing_stop as ts
from trading.commands import CancelOrder, Escalate, LedgerEntry
from trading.decision import Ctx
from trading.events import ReconcileFailed
from trading.frozen import replace
from trading.model import (
    ZERO,
    ClosedNet,
    OrderPurpose,
    OrderStatus,
    Phase,
    Position,
    Side,
    SymbolState,
)
from trading.orders import Order
from trading.primitives import waiting
from trading.quarantine import closes_held
from trading.stop_rules import arm_protection, guarded, protect_part
from trading.transitions import order_change, phase_change

CLOSE_REASONS = {
    OrderPurpose.STOP: "stop_loss",
    OrderPurpose.CLOSE: None,  # the state's close_reason says why
    OrderPurpose.EMERGENCY: "emergency_close",
}


def to_phase(state: SymbolState, phase: Phase) -> SymbolState:
    """The one way a position's phase changes: checked against trading/transitions.py."""
    return replace(state, phase=phase_change(state.symbol, state.phase, phase))


def open_entry(state: SymbolState, side: Side, amount: Decimal, ctx: Ctx, why: str) -> SymbolState:
    state = ctx.new_order(state, OrderPurpose.ENTRY, side.entry_order_side, amount)
    entry = state.orders[-1]
    ctx.record(je.EntryRequested(side=side, amount=amount, reason=why, order=entry.client_order_id))
    return to_phase(state, Phase.ENTERING)


def apply_fill(
    state: SymbolState, order: Order, filled: Decimal, average: Decimal, fee: Decimal,
    exchange_id: str | None, complete: bool, ctx: Ctx, *, fee_known: bool = True,
    position_gone: bool = False,
) -> SymbolState:
    """Apply a cumulative fill report; only the increase since the last report is booked. A
    report that adds nothing (repeated, or an older read arriving late) keeps the order's
    average: its own would price the next part wrong. A fee is booked when it grew, even
    without a new quantity (told after the fill: trading/late_fees.py), never when it shrank;
    an order that ends with its fee unknown (`fee_known`) is looked at again for it.
    `position_gone`: a close that ended short while the exchange lists no position."""
    delta = filled - order.filled
    fee_delta = late_fees.unbooked_fee(order.fee, fee) if fee_known else ZERO
    status = OrderStatus.FILLED if complete else order.status
    average = average if delta > ZERO or order.average is None else order.average
    updated = order_change(order, status, filled=max(filled, order.filled), average=average,
                           fee=order.fee + fee_delta, exchange_id=exchange_id or order.exchange_id,
                           position_id=_opens(state, order, delta))
    state = state.with_order(updated)
    if complete and not fee_known:  # before the booking: a close it makes counts it untold
        state = late_fees.owe(state, updated, ctx.now)
    if delta > ZERO:
        if order.filled > ZERO and order.average is not None:
            price = (average * filled - order.average * order.filled) / delta
        else:
            price = average
        if order.purpose is OrderPurpose.ENTRY:
            state = _entry_filled(state, updated, delta, price, fee_delta, ctx)
            if not complete and state.phase is Phase.ENTERING:
                state = protect_part(state, ctx)
        else:
            state = _exit_filled(state, updated, delta, price, fee_delta, ctx)
    elif fee_delta:
        state = book_late_fee(state, order, fee_delta, ctx)
    # the order is done even when this report adds nothing (the venue expired the rest)
    return _order_done(state, updated, ctx, position_gone) if complete else state


def _opens(state: SymbolState, order: Order, delta: Decimal) -> str | None:
    """The position an entry's fill belongs to from now on: when flat (the part filled before
    was stopped out while the rest of the entry was open, and the rest filled before its
    cancel landed), a new one named `<id>-rest` after the one the entry opened last, so each
    position it opens has an id of its own. Named `<id>-rest` again when that one was stopped
    out too, the next one's row (`positions` is keyed by the id) overwrote the closed one's,
    its P&L gone from the trades (found by review, a sibling of the grid's level rest)."""
    if order.purpose is not OrderPurpose.ENTRY or delta <= ZERO or state.position is not None \
            or state.phase is not Phase.FLAT:
        return order.position_id
    return f"{order.position_id or order.client_order_id}-rest"


def book_late_fee(state: SymbolState, order: Order, fee: Decimal, ctx: Ctx) -> SymbolState:
    """A fee told after its fill: a ledger entry of its own (quantity 0), and the position's
    fees if the order's position is still open, else the closed position's net: a fee that
    makes its close a loss starts the cooldown after a loss, as of the close. An entry order
    names the position it opened (its client order id) rather than carrying a position id."""
    position_id = order.position_id or order.client_order_id
    ctx.ledger.append(late_fees.fee_entry(order, position_id, fee))
    pos = state.position
    if pos is not None and pos.position_id == position_id:
        return replace(state, position=replace(pos, fees=pos.fees + fee))
    return _charge_closed(state, position_id, fee, ctx)


def _charge_closed(state: SymbolState, position_id: str, fee: Decimal, ctx: Ctx) -> SymbolState:
    """A fee booked after its position closed: off the closed position's net; a fee that
    makes its close a loss starts the cooldown after a loss, as of the close."""
    closed = state.closed
    if closed is None or closed.position_id != position_id:
        return state
    state = replace(state, closed=replace(closed, net=closed.net - fee))
    if closed.net - fee < ZERO <= closed.net:
        until = closed.closed_at + ctx.rules.risk.cooldown_after_loss_s
        state = replace(state, cooldown_until=max(state.cooldown_until, until))
    return state


def _order_done(state: SymbolState, order: Order, ctx: Ctx,
                position_gone: bool = False) -> SymbolState:
    """An order of ours filled as far as it ever will: finish what it leaves behind."""
    pos = state.position
    if pos is None:
        return state
    if order.purpose is OrderPurpose.ENTRY:
        return finish_entry(state, ctx) if state.phase is Phase.ENTERING else state
    if not state.owns(order):
        return state  # an order of a position closed before: nothing of this one to finish
    if state.phase is Phase.CLOSING and order.purpose is OrderPurpose.CLOSE:
        if closes_held(state) or state.live_orders(OrderPurpose.CLOSE):
            return state
        if order.filled >= order.amount:
            # filled all it asked for: a slice done, or the position grew while it was out
            # (an entry's rest filled before its cancel landed): the rest, not a failure
            return send_close(state, ctx, counted=False)
        if position_gone and order.filled > ZERO:
            return close_cut(state, order, ctx)
        if position_gone:  # ended unfilled: it closed nothing, raced like a refused one
            return close_raced(state, f"close {order.client_order_id} ended unfilled while the "
                                      "exchange lists no position", ctx)
        # partly filled, the rest expired: the remainder is closed again (bounded, backed off)
        return close_failed(state, f"close {order.client_order_id} left {pos.contracts} "
                                   "contracts open", ctx)
    if guarded(state) and order.purpose is OrderPurpose.STOP \
            and not state.live_orders(OrderPurpose.STOP):
        # a stop filled only in part: re-placed at once (refused moves before do not count)
        return replace(state, needs_stop=True, next_stop_at=0.0, stop_refusals=0)
    return state


def finish_entry(state: SymbolState, ctx: Ctx) -> SymbolState:
    """The entry order is done (filled, or partly filled and the rest gone): the position is
    open; protect it."""
    pos = state.position
    assert pos is not None
    ctx.record(je.PositionOpened(side=pos.side, contracts=pos.contracts,
                                 entry_price=pos.entry_price, position_id=pos.position_id))
    return arm_protection(to_phase(state, Phase.OPEN), ctx)


def _entry_filled(
    state: SymbolState, order: Order, qty: Decimal, price: Decimal, fee: Decimal, ctx: Ctx,
) -> SymbolState:
    side = Side.entered_by(order.side)
    pos = state.position
    if pos is None:
        position_id = order.client_order_id
        if state.phase is Phase.FLAT:
            # the part filled before was closed (its stop filled) while the rest of the entry
            # was open, and the rest filled before its cancel landed: a new position, under an
            # id of its own (`_opens`: the closed one's row keeps its P&L), protected as any
            # entry's part
            position_id = order.position_id or f"{position_id}-rest"
            state = to_phase(state, Phase.ENTERING)
        pos = Position(position_id=position_id, side=side, contracts=qty,
                       entry_price=price, opened_at=ctx.now, fees=fee)
    else:
        total = pos.contracts + qty
        entry = (pos.entry_price * pos.contracts + price * qty) / total
        pos = replace(pos, contracts=total, entry_price=entry, fees=pos.fees + fee)
    ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id,
                                  position_id=pos.position_id, side=order.side, amount=qty,
                                  price=price, fee=fee, realized_pnl=ZERO, at=ctx.fill_at))
    return replace(state, position=pos, entry_refusals=0)  # entries are taken again


def _exit_filled(
    state: SymbolState, order: Order, qty: Decimal, price: Decimal, fee: Decimal, ctx: Ctx,
) -> SymbolState:
    pos = state.position
    if pos is None or (order.position_id not in (None, pos.position_id)
                       and order.side != pos.side.exit_order_side):
        # booked all the same (the exchange charged its fee), without P&L, under its own
        # position. Also a closed position's close reported after the next one opened on the
        # other side (a short's buy while long): on a one-way venue that buy never shrinks the
        # long, so it must not shrink our books of it (found by the adversarial venue test);
        # the reconciliation compares the size. A sell while long reduces the long there, as
        # here, and is that position's exit.
        ctx.record(je.FillWithoutPosition(order=order.client_order_id, amount=qty, price=price))
        position_id = order.position_id or order.client_order_id
        ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id,
                                      position_id=position_id, side=order.side, amount=qty,
                                      price=price, fee=fee, realized_pnl=ZERO, at=ctx.fill_at))
        return _charge_closed(state, position_id, fee, ctx)
    if qty > pos.contracts:  # booked for what the books held; the excess is journaled
        ctx.record(je.FillExceedsPosition(order=order.client_order_id, amount=qty,
                                          contracts=pos.contracts))
        qty = pos.contracts
    gross = (price - pos.entry_price) * qty * pos.side.sign
    ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id,
                                  position_id=pos.position_id, side=order.side, amount=qty,
                                  price=price, fee=fee, realized_pnl=gross, at=ctx.fill_at))
    pos = replace(pos, contracts=pos.contracts - qty, realized_pnl=pos.realized_pnl + gross,
                  fees=pos.fees + fee)
    state = replace(state, position=pos)
    if pos.contracts > ZERO:
        return state
    reason = CLOSE_REASONS.get(order.purpose) or state.close_reason or "close"
    if order.purpose is OrderPurpose.STOP and _trailed(pos, order, ctx):
        reason = "trailing_stop"
    return position_closed(state, reason, ctx, closing_order=order.client_order_id)


def _trailed(pos: Position, stop: Order, ctx: Ctx) -> bool:
    """Whether a stop that filled had been moved by the trailing stop: its level is better than
    the initial stop. The original stop is a stop-loss even while a trailing trigger exists
    (issue 16 item 7: every such fill used to be labelled trailing_stop)."""
    if stop.stop_price is None:
        return False
    risk, market = ctx.rules.risk, ctx.rules.market
    initial = ts.initial_stop(pos.side, pos.entry_price, risk.stop_loss_pct, market)
    return ts.better(pos.side, stop.stop_price, initial)


def position_closed(state: SymbolState, reason: str, ctx: Ctx,
                    closing_order: str | None = None) -> SymbolState:
    pos = state.position
    assert pos is not None
    net = pos.realized_pnl - pos.fees
    untold = sum(1 for o in state.fees_owed
                 if (o.order.position_id or o.order.client_order_id) == pos.position_id)
    ctx.record(je.PositionClosed(position_id=pos.position_id, side=pos.side, reason=reason,
                                 realized_pnl=pos.realized_pnl, fees=pos.fees, net_pnl=net,
                                 fees_not_told=untold))
    for other in state.orders:  # every order of the position goes (incident 9)
        if other.client_order_id != closing_order and other.status is OrderStatus.OPEN:
            ctx.emit(CancelOrder.of(other))
    cooldown = state.cooldown_until
    if net < ZERO:  # from the close: a stop that filled while the bot was down, from its fill
        cooldown = max(cooldown, ctx.closed_at + ctx.rules.risk.cooldown_after_loss_s)
    state = to_phase(state, Phase.FLAT)
    return replace(state, position=None, trailing=None, stop_price=None,
                   take_profit_price=None, close_attempts=0, next_close_at=None, close_reason=None,
                   last_close_error=None, needs_stop=False, cooldown_until=cooldown,
                   closed=ClosedNet(position_id=pos.position_id, net=net,
                                    closed_at=ctx.closed_at))


def start_close(state: SymbolState, reason: str, ctx: Ctx) -> SymbolState:
    """Open -> closing. Every caller checks the phase first; any other phase is a bug and
    raises IllegalTransition (it used to return silently)."""
    state = to_phase(state, Phase.CLOSING)
    return send_close(replace(state, close_reason=reason), ctx)


def send_close(state: SymbolState, ctx: Ctx, *, counted: bool = True) -> SymbolState:
    """One close attempt: counted and persisted before it is sent. A position larger than the
    market's maximum order amount is closed in slices of the maximum; the next slice after one
    that filled in full is not another attempt (`counted`: each such slice takes the maximum
    off, so they end)."""
    pos = state.position
    assert pos is not None
    attempts = state.close_attempts + (1 if counted else 0)
    state = ctx.new_order(state, OrderPurpose.CLOSE, pos.side.exit_order_side,
                          ctx.rules.market.capped(pos.contracts), position_id=pos.position_id)
    ctx.record(je.CloseRequested(reason=state.close_reason, attempt=attempts,
                                 order=state.orders[-1].client_order_id))
    return replace(state, close_attempts=attempts, next_close_at=None)


def close_failed(state: SymbolState, error: str, ctx: Ctx) -> SymbolState:
    risk = ctx.rules.risk
    state = replace(state, last_close_error=error)
    if state.close_attempts >= risk.max_close_attempts:
        return escalate(state, f"close failed {state.close_attempts} times", ctx)
    delay = risk.close_backoff(state.close_attempts)
    ctx.record(je.CloseFailed(attempt=state.close_attempts, error=error, retry_in_s=delay))
    return replace(state, next_close_at=ctx.now + delay)


UNSENT_CLOSE = "close intent not found on the exchange: never sent"


def close_unsent(state: SymbolState, ctx: Ctx) -> SymbolState:
    """A close intent the exchange never had, found by a reconciliation (`OrderFailed.unseen`:
    the process killed between its commit and its send). Nothing refused it: a row of such
    closes counts once. The first is a failure to close (counted when it was committed), each
    next one of the row is not counted again, so a bot killed at that moment again and again
    (a crash loop of another cause, the supervisor's to stop and alert) no longer walks the
    count to max_close_attempts without one close refused (found by review: escalated at the
    third restart). A close the venue refuses or that is lost on its way in-process counts
    every time (`close_failed`), and a refusal ends the row."""
    if state.last_close_error == UNSENT_CLOSE and state.close_attempts > 0:
        state = replace(state, close_attempts=state.close_attempts - 1)
    return close_failed(state, UNSENT_CLOSE, ctx)


def close_raced(state: SymbolState, error: str, ctx: Ctx) -> SymbolState:
    """A close refused while the exchange listed no position: most likely another order closed
    it first (the reconciliation that follows books it). If the venue keeps saying so and
    nothing shows the position closed, the retries are bounded and backed off like any failed
    close, then escalate."""
    risk = ctx.rules.risk
    ctx.record(je.CloseRaced(error=error))
    if state.last_close_error == UNSENT_CLOSE:  # a refusal ends a row of unsent closes
        state = replace(state, last_close_error=error)
    if state.close_attempts >= risk.max_close_attempts:
        return escalate(replace(state, last_close_error=error),
                        f"close refused {state.close_attempts} times while the exchange "
                        "listed no position", ctx)
    delay = max(risk.stop_retry_s, risk.close_backoff(state.close_attempts))
    return replace(state, next_close_at=ctx.now + delay)


def close_cut(state: SymbolState, order: Order, ctx: Ctx) -> SymbolState:
    """A close that filled short of its amount while the exchange lists no position after it:
    the venue cut a reduce-only close to a position smaller than the books' (a fill hidden
    from us, e.g. a person's reduce-only order, closed the rest). It closed the position: no
    failed attempt, no escalation (incident 2 counts failures). The reconciliation asked for
    at once (actors/command_executor.py `reconcile_after`) books the rest; if it does not, the
    close is due again after the backoff, counted, and a refusal then is `close_raced`.
    Found by review: journaled `CloseFailed ... left 0.001 contracts open` with the venue flat,
    and at the last attempt it escalated a symbol whose close had worked."""
    ctx.record(je.CloseRaced(error=f"close {order.client_order_id} filled {order.filled} of "
                                   f"{order.amount}; the exchange lists no position"))
    risk = ctx.rules.risk
    delay = max(risk.stop_retry_s, risk.close_backoff(state.close_attempts))
    return replace(state, next_close_at=ctx.now + delay)


def retry_close_due(state: SymbolState, ctx: Ctx) -> SymbolState:
    risk = ctx.rules.risk
    longest = max(risk.stop_retry_s, risk.close_backoff_max_s)
    due = state.next_close_at is not None and not waiting(ctx.now, state.next_close_at, longest)
    closing = state.phase is Phase.CLOSING and not closes_held(state) and state.position
    if closing and due and not state.live_orders(OrderPurpose.CLOSE):
        return send_close(state, ctx)
    return state


def escalate(state: SymbolState, reason: str, ctx: Ctx) -> SymbolState:
    """Quarantine: no new entries, an alert, and the supervisor's emergency close (the one
    emergency path of every style: runtime/emergency.py, run on `Escalate`). The exchange stop
    is kept so the position stays protected if the emergency close fails too; the position stays
    tracked until a reconciliation finds it closed and books the exchange's fills."""
    ctx.record(je.Escalated(reason=reason, attempts=state.close_attempts,
                            error=state.last_close_error))
    ctx.emit(Escalate(reason=reason, attempts=state.close_attempts,
                      last_error=state.last_close_error))
    return replace(state, quarantined=True, quarantine_reason=reason, next_close_at=None)


def reconcile_failed(state: SymbolState, ev: ReconcileFailed, ctx: Ctx) -> SymbolState:
    """Reconciliation keeps failing for a reason that is not temporary (a bug, a permanent
    refusal) while the position is being closed: the close's outcome cannot be learnt, so it
    can neither be confirmed nor retried. After max_close_attempts such failures in a row the
    symbol escalates as a close failing that often does (incident 2); the position and its
    pending close stay tracked until a reconciliation reads them."""
    closing = state.phase is Phase.CLOSING and state.position is not None
    if not closing or closes_held(state) or ev.failures < ctx.rules.risk.max_close_attempts:
        return state
    state = replace(state, last_close_error=ev.error)
    return escalate(state, f"reconciliation failed {ev.failures} times while closing", ctx)


def on_lifted(state: SymbolState, by: str, ctx: Ctx) -> SymbolState:
    """`bot.py resume`: the quarantine is lifted, close attempts start again from zero."""
    if not state.quarantined:
        return state
    ctx.record(je.QuarantineLifted(by=by, reason=state.quarantine_reason))
    if state.position is not None and state.phase is Phase.CLOSING:
        state = to_phase(state, Phase.OPEN)
    unprotected = state.position is not None and not state.live_orders(OrderPurpose.STOP)
    return replace(
        state,
        quarantined=False,
        quarantine_reason=None,
        close_attempts=0,
        next_close_at=None,
        last_close_error=None,
        needs_stop=unprotected,
    )
