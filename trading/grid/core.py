"""GridCore.decide(state, event, now) -> GridDecision: the whole hedge-grid logic of one symbol.

Pure, like `trading/decide.py`. The seed grid bot's race bugs are impossible by construction:
- every exchange event is an event here, handled in mailbox order; reconciliation is one more
  event, so a take-profit fill is never dropped while a sync runs (incident 8);
- when a leg closes, every order of that leg and the pending levels of both legs are cancelled,
  and the leg reopens only once each cancel is confirmed (incident 9);
- every order, the take-profit included, has its client id committed before it is sent
  (incident 10);
- a pending level is recomputed after the price moves more than `recalc_pct` from the price it
  was computed from; reference quantities are cleared when both legs are flat.
After every event `maintain` (trading/grid/maintain.py) brings the orders in line with the legs:
each open leg has a stop covering it and a take-profit, and the next level rests on the exchange
while levels remain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from trading import trailing_stop as ts
from trading.commands import CancelOrder, Escalate, LedgerEntry
from trading.decision import Decision
from trading.events import (
    EntriesBlocked,
    ExchangeOrder,
    ExternalFill,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    QuarantineLifted,
    SignalRaised,
    TimerFired,
)
from trading.grid.context import GridCtx
from trading.grid.events import GridReconciled
from trading.grid.maintain import maintain
from trading.grid.model import GridKind, GridOrder, GridState, Leg
from trading.grid.rules import GridRules
from trading.model import ZERO, OrderStatus, Side

GridDecision = Decision  # its state is a GridState
STOPPED_OUT = ("stop_loss", "stop_loss_bot", "closed_on_exchange")


class GridCore:
    def __init__(self, rules: GridRules) -> None:
        self.rules = rules

    def decide(self, state: GridState, event: Any, now: float, *, maintain_after: bool = True,
               admit: Callable[[str, Decimal | None], str | None] | None = None) -> GridDecision:
        ctx = GridCtx(rules=self.rules, now=now)  # type: ignore[arg-type]
        if admit is not None:
            ctx.admit = admit
        state = replace(state, finished_orders=())
        match event:
            case PriceTicked(price=price):
                state = replace(state, last_price=price, price_seq=state.price_seq + 1)
            case OrderAccepted():
                state = on_accepted(state, event, ctx)
            case OrderFilled():
                state = on_filled(state, event, ctx)
            case OrderCanceled():
                state = on_canceled(state, event.client_order_id, ctx)
            case OrderFailed():
                state = on_failed(state, event, ctx)
            case GridReconciled():
                state = reconcile(state, event, ctx)
            case TimerFired():
                pass
            case EntriesBlocked(blocked=blocked, reason=reason):
                state = on_blocked(state, blocked, reason, ctx)
            case QuarantineLifted(by=by):
                if state.quarantined:
                    ctx.record("QuarantineLifted", by=by, reason=state.quarantine_reason)
                    state = replace(state, quarantined=False, quarantine_reason=None,
                                    long=replace(state.long, close_attempts=0),
                                    short=replace(state.short, close_attempts=0))
            case SignalRaised():
                ctx.record("SignalSkipped", side=event.side, signal_id=event.signal_id,
                           reason="the hedge grid trades its own levels, not external signals")
            case _:
                raise TypeError(f"grid decide: unknown event {event!r}")
        if maintain_after:
            state = maintain(state, ctx)
        return ctx.decision(state)


# -- events ---------------------------------------------------------------------------------
def on_accepted(state: GridState, ev: OrderAccepted, ctx: GridCtx) -> GridState:
    order = state.order(ev.client_order_id)
    if order is None or order.status is not OrderStatus.PENDING:
        return state
    order = replace(order, status=OrderStatus.OPEN, exchange_id=ev.exchange_id)
    state = state.with_order(order)
    leg = state.leg(order.leg)
    if order.kind.reduces and not leg.is_open:  # the leg closed while this order was in flight
        return ctx.cancel(state, order)
    if order.kind is GridKind.STOP:
        ctx.record("StopPlaced", leg=order.leg, stop_price=order.price, amount=order.amount,
                   order=order.client_order_id)
    elif order.kind is GridKind.TP:
        ctx.record("TakeProfitPlaced", leg=order.leg, price=order.price, amount=order.amount,
                   order=order.client_order_id)
    elif order.kind is GridKind.ADD:
        ctx.record("LevelPlaced", leg=order.leg, level=order.level, price=order.price,
                   amount=order.amount, order=order.client_order_id)
    old = state.order(order.replaces) if order.replaces else None
    if old is not None and old.status is OrderStatus.OPEN and old.cancel_requested_at is None:
        state = ctx.cancel(state, old)  # the new one rests first, then the old one goes
    return state


def on_filled(state: GridState, ev: OrderFilled, ctx: GridCtx) -> GridState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state
    delta = ev.filled - order.filled
    status = OrderStatus.FILLED if ev.complete else OrderStatus.OPEN
    if delta <= ZERO:
        if ev.complete and order.status.live and ev.filled >= order.filled:
            state = state.with_order(replace(order, status=OrderStatus.FILLED, exchange_id=ev.exchange_id))
        return state
    prev_value = (order.average or ZERO) * order.filled
    price = (ev.average * ev.filled - prev_value) / delta
    fee = ev.fee - order.fee
    reported = None if ev.realized_pnl is None else ev.realized_pnl - order.realized_pnl
    booked = order.realized_pnl if ev.realized_pnl is None else ev.realized_pnl
    state = state.with_order(replace(order, status=status, filled=ev.filled, average=ev.average,
                                     fee=ev.fee, exchange_id=ev.exchange_id or order.exchange_id,
                                     realized_pnl=booked))
    leg = state.leg(order.leg)
    if order.kind.reduces:
        return _reduce(state, leg, order, Fill(delta, price, fee, reported), ctx)
    return _grow(state, leg, order, delta, price, fee, ctx)


@dataclass(frozen=True, slots=True)
class Fill:
    """The part of an order's cumulative report that is new: amount, price, fee and, when the
    exchange reports it, its realized P&L."""

    amount: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal | None


def _grow(state: GridState, leg: Leg, order: GridOrder, delta: Decimal, price: Decimal, fee: Decimal,
          ctx: GridCtx) -> GridState:
    r = ctx.rules
    if not leg.is_open:
        leg = Leg(side=leg.side, position_id=order.client_order_id, opened_at=ctx.now,
                  ref_qty=leg.ref_qty or order.amount, stop_price=ts.initial_stop(leg.side, price, r.stop_loss_pct, r.market))
        ctx.record("LegOpened", leg=leg.side, position_id=leg.position_id, price=price, amount=delta,
                   stop_price=leg.stop_price, ref_qty=leg.ref_qty)
    else:
        ctx.record("LegAveraged", leg=leg.side, level=order.level, price=price, amount=delta)
    contracts = leg.contracts + delta
    entry = price if leg.entry_price is None else (leg.entry_price * leg.contracts + price * delta) / contracts
    leg = replace(leg, contracts=contracts, entry_price=entry, fees=leg.fees + fee, anchor=price,
                  level=max(leg.level, order.level))
    ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id, position_id=leg.position_id or "",
                                  side=order.side, amount=delta, price=price, fee=fee, realized_pnl=ZERO))
    return state.with_leg(leg)


def _reduce(state: GridState, leg: Leg, order: GridOrder, fill: Fill, ctx: GridCtx) -> GridState:
    """Every fill of a reducing order is booked, once, with the exchange's realized P&L where it
    reports one (issue 16 item 3): the exchange may have applied fills in another order than
    we learn of them, and its averaging decides the P&L of each."""
    pnl = fill.realized_pnl
    if not leg.is_open or leg.entry_price is None:
        ctx.record("FillWithoutLeg", leg=order.leg, order=order.client_order_id, amount=fill.amount,
                   price=fill.price, realized_pnl=pnl)
        return _book(state, order, order.position_id or "", fill, pnl or ZERO, ctx)
    amount = min(fill.amount, leg.contracts)
    if fill.amount > leg.contracts:
        ctx.record("FillExceedsLeg", leg=order.leg, order=order.client_order_id, amount=fill.amount,
                   contracts=leg.contracts)
    if pnl is None:
        pnl = q8((fill.price - leg.entry_price) * amount * leg.side.sign)
    leg = replace(leg, contracts=leg.contracts - amount, realized_pnl=leg.realized_pnl + pnl,
                  fees=leg.fees + fill.fee)
    state = _book(state.with_leg(leg), order, leg.position_id or "", fill, pnl, ctx)
    if leg.is_open:
        ctx.record("LegReduced", leg=leg.side, order=order.client_order_id, amount=amount, price=fill.price)
        return state
    reason = {GridKind.TP: "take_profit", GridKind.STOP: "stop_loss", GridKind.CLOSE: "stop_loss_bot"}
    return close_leg(state, leg.side, reason.get(order.kind, "closed"), ctx)


def _book(state: GridState, order: GridOrder, position_id: str, fill: Fill, pnl: Decimal,
          ctx: GridCtx) -> GridState:
    ctx.ledger.append(LedgerEntry(client_order_id=order.client_order_id, position_id=position_id,
                                  side=order.side, amount=fill.amount, price=fill.price, fee=fill.fee,
                                  realized_pnl=pnl))
    return state


def q8(value: Decimal) -> Decimal:
    """USDT amounts to 8 places, half up, as the venues book realized P&L."""
    return value.quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)


def close_leg(state: GridState, side: Side, reason: str, ctx: GridCtx) -> GridState:
    """The leg is flat: book it, then cancel every order it owned and the pending levels of both
    legs; it reopens once all of those are confirmed gone."""
    leg = state.leg(side)
    ctx.record("LegClosed", leg=side, position_id=leg.position_id, reason=reason,
               realized_pnl=leg.realized_pnl, fees=leg.fees, net_pnl=leg.realized_pnl - leg.fees)
    state = state.with_leg(Leg(side=side, ref_qty=leg.ref_qty))
    for order in state.orders:
        if order.cancel_requested_at is None and (order.leg is side or order.kind is GridKind.ADD):
            state = ctx.cancel(state, order)
    state = replace(state, reopen=tuple(dict.fromkeys(state.reopen + (side,))),
                    reopen_after_seq=state.price_seq)
    if reason in STOPPED_OUT:  # a stop-out waits before the side trades again
        state = replace(state, next_open_at=max(state.next_open_at, ctx.now + ctx.rules.reopen_after_stop_s))
    if not state.long.is_open and not state.short.is_open:
        if state.long.ref_qty is not None or state.short.ref_qty is not None:
            ctx.record("ReferenceQuantitiesCleared", long=state.long.ref_qty, short=state.short.ref_qty)
        state = replace(state, long=replace(state.long, ref_qty=None), short=replace(state.short, ref_qty=None))
    return state


def on_canceled(state: GridState, cid: str, ctx: GridCtx) -> GridState:
    order = state.order(cid)
    if order is None:
        return state
    ctx.record("OrderCanceled", order=cid, leg=order.leg, kind=order.kind)
    return state.with_order(replace(order, status=OrderStatus.CANCELED))


def on_failed(state: GridState, ev: OrderFailed, ctx: GridCtx) -> GridState:
    order = state.order(ev.client_order_id)
    if order is None:
        return state
    r = ctx.rules
    status = OrderStatus.FAILED if ev.never_reached else OrderStatus.REJECTED
    state = state.with_order(replace(order, status=status, last_error=ev.error))
    ctx.record("OrderFailed", order=order.client_order_id, leg=order.leg, kind=order.kind, error=ev.error)
    leg = state.leg(order.leg)
    if order.kind is GridKind.OPEN:
        return replace(state, next_open_at=ctx.now + r.open_retry_s)
    if order.kind is not GridKind.CLOSE:
        # maintain retries after retry_s; a stop refused because the price is through it is
        # replaced by a close in this same decision (maintain: the close is never throttled by
        # retry_at; issue 16 item 2)
        return state.with_leg(replace(leg, retry_at=ctx.now + r.retry_s))
    if ev.position_gone or not leg.is_open:
        ctx.record("CloseRaced", leg=order.leg, error=ev.error)
        return state.with_leg(replace(leg, close_retry_at=ctx.now + r.retry_s))
    attempts = leg.close_attempts + 1
    state = state.with_leg(replace(leg, close_attempts=attempts,
                                   close_retry_at=ctx.now + r.close_backoff(attempts)))
    if attempts >= r.max_close_attempts:
        ctx.emit(Escalate(reason=f"{order.leg.value} leg: close failed {attempts} times",
                                     attempts=attempts, last_error=ev.error))
        ctx.record("Escalated", leg=order.leg, attempts=attempts, last_error=ev.error)
        state = replace(state, quarantined=True,
                        quarantine_reason=f"{order.leg.value} leg close failed {attempts} times: {ev.error}")
    return state


def _book_external(state: GridState, side: Side, f: ExternalFill, ctx: GridCtx) -> GridState:
    leg = state.leg(side)
    if not leg.is_open or leg.entry_price is None:
        return state
    amount = min(f.amount, leg.contracts)
    pnl = f.realized_pnl
    if pnl is None:
        pnl = q8((f.price - leg.entry_price) * amount * side.sign)
    ctx.ledger.append(LedgerEntry(client_order_id=f.client_order_id or "external",
                                  position_id=leg.position_id or "", side=f.side, amount=f.amount,
                                  price=f.price, fee=f.fee, realized_pnl=pnl))
    leg = replace(leg, contracts=leg.contracts - amount, realized_pnl=leg.realized_pnl + pnl,
                  fees=leg.fees + f.fee)
    state = state.with_leg(leg)
    if leg.is_open:
        return state
    return close_leg(state, side, "closed_on_exchange", ctx)


def on_blocked(state: GridState, blocked: bool, reason: str, ctx: GridCtx) -> GridState:
    if blocked != state.entries_blocked:
        ctx.record("EntriesBlocked" if blocked else "EntriesAllowed", reason=reason)
    state = replace(state, entries_blocked=blocked)
    if blocked:  # a resting level would still grow a position: take them off
        for order in state.orders:
            if order.kind is GridKind.ADD and order.cancel_requested_at is None:
                state = ctx.cancel(state, order)
    return state


# -- reconciliation -------------------------------------------------------------------------
def reconcile(state: GridState, ev: GridReconciled, ctx: GridCtx) -> GridState:
    if ev.price is not None:
        state = replace(state, last_price=ev.price, price_seq=state.price_seq + 1)
    for order in list(state.orders):
        found = ev.orders.get(order.client_order_id)
        state = _apply_exchange_order(state, order, found, ctx)
    for orphan in ev.orphans:
        ctx.record("OrphanCanceled", order=orphan.client_order_id, exchange_id=orphan.exchange_id)
        ctx.emit(CancelOrder(client_order_id=orphan.client_order_id or None,
                                        exchange_id=orphan.exchange_id))
    for side in (Side.LONG, Side.SHORT):
        state = _adopt_position(state, side, ev, ctx)
    return state


def _apply_exchange_order(state: GridState, order: GridOrder, found: ExchangeOrder | None,
                          ctx: GridCtx) -> GridState:
    cid = order.client_order_id
    if found is None:
        if order.status is OrderStatus.PENDING:
            return on_failed(state, OrderFailed(client_order_id=cid, error="never reached the exchange"), ctx)
        return on_canceled(state, cid, ctx)
    if found.filled > order.filled or (found.filled > ZERO and found.status != "open" and order.status.live):
        average = found.average if found.average is not None else (order.price or ZERO)
        state = on_filled(state, OrderFilled(client_order_id=cid, exchange_id=found.exchange_id,
                                             filled=found.filled, average=average, fee=found.fee,
                                             complete=found.status != "open",
                                             realized_pnl=found.realized_pnl), ctx)
        order = state.order(cid) or order
        if not order.status.live:
            return state
    if found.status == "open":
        if order.status is OrderStatus.PENDING:
            return on_accepted(state, OrderAccepted(client_order_id=cid, exchange_id=found.exchange_id), ctx)
        return state
    if found.status == "closed":
        if order.status.live:
            state = state.with_order(replace(order, status=OrderStatus.FILLED if order.filled else OrderStatus.CANCELED))
        return state
    if order.status is OrderStatus.PENDING and found.filled == ZERO:
        return on_failed(state, OrderFailed(client_order_id=cid, error=f"exchange status {found.status}",
                                            never_reached=False), ctx)
    return on_canceled(state, cid, ctx)


def _adopt_position(state: GridState, side: Side, ev: GridReconciled, ctx: GridCtx) -> GridState:
    leg = state.leg(side)
    ex = ev.positions.get(side)
    contracts = ex.contracts if ex is not None else ZERO
    if contracts == leg.contracts:
        return state
    if contracts == ZERO:
        fills = [f for f in ev.external_fills if f.position_side in (side, None)]
        ctx.record("LegClosedOnExchange", leg=side, ours=leg.contracts, fills=len(fills))
        for f in fills:  # book what closed it, from the exchange's fills (issue 16 item 3)
            state = _book_external(state, side, f, ctx)
        if state.leg(side).is_open:
            return close_leg(state, side, "closed_on_exchange", ctx)
        return state
    assert ex is not None
    if not leg.is_open:
        adopted = Leg(side=side, position_id=f"adopted-{ctx.rules.client_order_id(state.order_seq + 1, GridKind.OPEN)}",
                      contracts=contracts, entry_price=ex.entry_price, opened_at=ctx.now,
                      ref_qty=leg.ref_qty or contracts, anchor=ex.entry_price,
                      stop_price=ts.initial_stop(side, ex.entry_price, ctx.rules.stop_loss_pct, ctx.rules.market))
        ctx.record("LegAdopted", leg=side, contracts=contracts, entry_price=ex.entry_price,
                   stop_price=adopted.stop_price)
        return replace(state, order_seq=state.order_seq + 1).with_leg(adopted)
    ctx.record("LegAdjusted", leg=side, ours=leg.contracts, exchange=contracts, entry_price=ex.entry_price)
    return state.with_leg(replace(leg, contracts=contracts, entry_price=ex.entry_price))
