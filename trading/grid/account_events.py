"""The hedge grid's answers to events about the whole symbol rather than one order: a
quarantine lifted, entries blocked or allowed, reconciliation failing, and the escalation
every failing close ends in (moved out of handlers.py, which had reached its size limit)."""

from __future__ import annotations

from dataclasses import replace

from trading import journal_events as je
from trading.commands import Escalate
from trading.events import ReconcileFailed
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.maintain import closes_held
from trading.grid.model import GridState
from trading.orders import OrderPurpose as K
from trading.primitives import Side


def on_lifted(state: GridState, by: str, ctx: GridCtx) -> GridState:
    if not state.quarantined:
        return state
    ctx.record(je.QuarantineLifted(by=by, reason=state.quarantine_reason))
    return replace(state, quarantined=False, quarantine_reason=None,
                   long=replace(state.long, close_attempts=0, close_retry_at=0.0),
                   short=replace(state.short, close_attempts=0, close_retry_at=0.0))


def escalate(state: GridState, side: Side, what: str, attempts: int, error: str,
           ctx: GridCtx) -> GridState:
    """Quarantine, an alert and the supervisor's emergency close (the one path of every style,
    run on `Escalate`); the leg stays tracked until a reconciliation finds it closed."""
    name = side.value
    ctx.emit(Escalate(reason=f"{name} leg: {what}", attempts=attempts, last_error=error))
    ctx.record(ge.LegEscalated(leg=side, attempts=attempts, last_error=error))
    return replace(state, quarantined=True, quarantine_reason=f"{name} leg {what}: {error}")


def on_reconcile_failed(state: GridState, ev: ReconcileFailed, ctx: GridCtx) -> GridState:
    """Reconciliation keeps failing for a reason that is not temporary (a bug, a permanent
    refusal) while a leg is being closed (its close in flight with an unknown outcome, or
    failed while no stop protects the leg): after max_close_attempts such failures in a row the
    symbol escalates as a close failing that often does (incident 2). The leg and its orders
    stay tracked."""
    if closes_held(state) or ev.failures < ctx.rules.max_close_attempts:
        return state
    for side in (Side.LONG, Side.SHORT):
        leg = state.leg(side)
        retrying = leg.close_attempts > 0 and not state.protected(side)
        if leg.is_open and (retrying or state.orders_of(side, K.CLOSE)):
            what = f"reconciliation failed {ev.failures} times while closing"
            return escalate(state, side, what, leg.close_attempts, ev.error, ctx)
    return state


def on_blocked(state: GridState, blocked: bool, reason: str, ctx: GridCtx) -> GridState:
    if blocked != state.entries_blocked:
        ctx.record(je.EntriesBlocked(reason=reason) if blocked
                   else je.EntriesAllowed(reason=reason))
    state = replace(state, entries_blocked=blocked,
                    entries_blocked_reason=reason if blocked else None)
    if blocked:  # a resting level would still grow a position: take them off
        for order in state.orders:
            if order.purpose is K.LEVEL and order.cancel_requested_at is None:
                state = ctx.cancel(state, order)
    return state
