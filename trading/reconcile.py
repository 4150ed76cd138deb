"""Reconciliation: bring one symbol's stored state in line with what the exchange says.

The same function runs on a cold start, after a supervisor restart, and periodically. Every fix
is journaled. The shell gathers the facts (our live orders looked up by client order id, the
position, open orders nobody owns, fills nobody explains); this module decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from trading import evidence
from trading import journal_events as je
from trading import lifecycle as lc
from trading.client_ids import client_order_id
from trading.commands import CancelOrder, Escalate, LedgerEntry
from trading.decision import Ctx
from trading.events import (
    ExchangeOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    Reconciled,
)
from trading.model import ZERO, OrderPurpose, OrderStatus, Phase, Position, SymbolState

Handler = Callable[..., SymbolState]

UNKNOWN_POSITION = "position on the exchange that storage does not know"
"""The quarantine reason of a position flagged, not adopted (`adopt_unknown_positions = false`):
it still holds one of `max_open_positions` (actors/cores.py `exposure`)."""


def reconcile(
    state: SymbolState, ev: Reconciled, ctx: Ctx,
    on_accepted: Handler, on_filled: Handler, on_canceled: Handler, on_failed: Handler,
) -> SymbolState:
    if ev.price is not None:
        state = replace(state, last_price=ev.price)
    for order in evidence.in_fill_order(state.orders, ev.orders):
        found = ev.orders.get(order.client_order_id)
        state = _order(state, order.client_order_id, order.status, found,
                       ctx, on_accepted, on_filled, on_canceled, on_failed)
    state = _position(state, ev, ctx)
    for orphan in ev.orphans:
        ctx.record(je.OrphanCanceled(order=orphan.client_order_id, exchange_id=orphan.exchange_id))
        ctx.emit(CancelOrder(client_order_id=orphan.client_order_id,
                             exchange_id=orphan.exchange_id))
    _cancel_strays(state, ctx)
    unprotected = not state.live_orders(OrderPurpose.STOP)
    if state.phase is Phase.OPEN and state.position is not None and unprotected:
        state = replace(state, needs_stop=True, next_stop_at=0.0)
    stalled = state.phase is Phase.CLOSING and state.next_close_at is None
    if stalled and not state.quarantined and not state.live_orders(OrderPurpose.CLOSE):
        state = replace(state, next_close_at=ctx.now)
    return state


def _cancel_strays(state: SymbolState, ctx: Ctx) -> None:
    """A resting stop (or close) of a position that is no longer ours to protect: its cancel
    failed when the position closed (a timeout, a 429). Ask again on every reconciliation until
    the exchange confirms it; it is never counted as the current position's protection."""
    asked = {c.client_order_id for c in ctx.commands if isinstance(c, CancelOrder)}
    for order in state.strays():
        if order.client_order_id in asked:
            continue  # cancelled in this decision already (the position closed just now)
        ctx.record(je.OrphanCanceled(order=order.client_order_id, exchange_id=order.exchange_id))
        ctx.emit(CancelOrder(client_order_id=order.client_order_id,
                             exchange_id=order.exchange_id))


def _order(
    state: SymbolState, cid: str, status: OrderStatus, found: ExchangeOrder | None, ctx: Ctx,
    on_accepted: Handler, on_filled: Handler, on_canceled: Handler, on_failed: Handler,
) -> SymbolState:
    if found is None:
        if status is OrderStatus.PENDING:
            ctx.record(je.IntentNotOnExchange(order=cid))
            return on_failed(state, OrderFailed(client_order_id=cid, error="not found on exchange",
                                                never_reached=True), ctx)
        return on_canceled(state, OrderCanceled(client_order_id=cid), ctx)
    if found.filled > ZERO:
        return on_filled(state, OrderFilled(
            client_order_id=cid, exchange_id=found.exchange_id, filled=found.filled,
            average=found.average or ZERO, fee=found.fee, complete=found.status != "open"), ctx)
    if found.status == "open":
        accepted = OrderAccepted(client_order_id=cid, exchange_id=found.exchange_id)
        return on_accepted(state, accepted, ctx)
    if status is OrderStatus.PENDING:  # never acknowledged, and the exchange did not execute it
        failed = OrderFailed(client_order_id=cid, error=f"exchange status {found.status}",
                             never_reached=False)
        return on_failed(state, failed, ctx)
    return on_canceled(state, OrderCanceled(client_order_id=cid), ctx)


def _position(state: SymbolState, ev: Reconciled, ctx: Ctx) -> SymbolState:
    mine, theirs = state.position, ev.position
    if mine is not None and theirs is None:
        exits = (f.amount for f in ev.external_fills if f.side == mine.side.exit_order_side)
        if not evidence.covered(mine.contracts, exits):
            return _unconfirmed(state, ev, ctx)
        return _closed_elsewhere(state, ev, ctx)
    if state.unconfirmed is not None:  # the position is listed again (or gone for good)
        state = replace(state, unconfirmed=None)
    if mine is None and theirs is not None:
        if state.phase is Phase.ENTERING and state.live_orders(OrderPurpose.ENTRY):
            return state  # our entry is still being resolved
        if not ctx.rules.risk.adopt_unknown_positions:
            ctx.record(je.UnknownPositionFlagged(side=theirs.side, contracts=theirs.contracts))
            return replace(state, quarantined=True, quarantine_reason=UNKNOWN_POSITION)
        seq = state.order_seq + 1
        r = ctx.rules  # the id is unique in the account: positions are keyed by it alone
        adopted = client_order_id(r.account, r.id_tag, r.symbol, seq, OrderPurpose.ENTRY)
        pos = Position(position_id=f"adopted-{adopted}", side=theirs.side,
                       contracts=theirs.contracts, entry_price=theirs.entry_price,
                       opened_at=ctx.now)
        ctx.record(je.PositionAdopted(side=theirs.side, contracts=theirs.contracts,
                                      entry_price=theirs.entry_price))
        state = replace(state, order_seq=seq, position=pos)
        if state.phase is not Phase.OPEN:  # an open phase without a position: keep it
            state = lc.to_phase(state, Phase.OPEN)
        return lc.arm_protection(state, ctx)
    if mine is not None and theirs is not None:
        if theirs.side is not mine.side:
            ctx.record(je.PositionSideMismatch(stored=mine.side, exchange=theirs.side))
            return replace(state, quarantined=True,
                           quarantine_reason="position side differs from exchange")
        if theirs.contracts != mine.contracts:
            ctx.record(je.PositionResized(stored=mine.contracts, exchange=theirs.contracts))
            state = replace(state, position=replace(mine, contracts=theirs.contracts))
        if state.phase is Phase.ENTERING and not state.live_orders(OrderPurpose.ENTRY):
            state = lc.arm_protection(lc.to_phase(state, Phase.OPEN), ctx)
    return state


def _unconfirmed(state: SymbolState, ev: Reconciled, ctx: Ctx) -> SymbolState:
    """No position listed, and no fill that closed it: an absence is not evidence. The position
    stays open in our books, its stop stays on the exchange, and the next reconciliation looks
    again; a contradiction that persists raises one alert (no emergency close: the position may
    well be open and protected)."""
    pos = state.position
    assert pos is not None
    episode = evidence.note(state.unconfirmed, ctx.now)
    ctx.record(je.CloseUnconfirmed(contracts=pos.contracts, answers=episode.count))
    if episode.alert_due(ctx.now):
        reason = evidence.alert_reason(f"{pos.side.value} position {pos.position_id}", episode)
        ctx.record(je.CloseConfirmationAlerted(reason=reason))
        ctx.emit(Escalate(reason=reason, attempts=episode.count, last_error=None, close=False))
        episode = replace(episode, alerted=True)
    return replace(state, unconfirmed=episode)


def _closed_elsewhere(state: SymbolState, ev: Reconciled, ctx: Ctx) -> SymbolState:
    """The exchange has no position but storage still does, and the exchange's fills account
    for it: closed while we were away (manual, liquidation). Book P&L from those fills."""
    pos = state.position
    assert pos is not None
    remaining = pos.contracts
    for fill in ev.external_fills:
        if remaining <= ZERO:
            break
        qty = min(fill.amount, remaining)
        gross = (fill.price - pos.entry_price) * qty * pos.side.sign
        ctx.ledger.append(LedgerEntry(client_order_id=fill.client_order_id or "external",
                                      position_id=pos.position_id,
                                      side=fill.side, amount=qty, price=fill.price, fee=fill.fee,
                                      realized_pnl=gross))
        pos = replace(pos, realized_pnl=pos.realized_pnl + gross, fees=pos.fees + fill.fee)
        remaining -= qty
    pos = replace(pos, contracts=Decimal(0))
    state = replace(state, position=pos, unconfirmed=None)
    return lc.position_closed(state, "closed_on_exchange", ctx)
