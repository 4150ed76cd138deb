"""Read-only queries for the status dump, the command line and tests (indexed by symbol)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import peewee as pw
from loguru import logger

from storage import grid_codec
from storage.models import (
    ActorStateRow,
    ControlRow,
    EscalationRow,
    EventRow,
    FillRow,
    GridStateRow,
    OrderRow,
    PositionRow,
)
from storage.restore import (
    STYLE_SLOTS,
    CorruptRow,
    load_state,
    quarantined_unreadable,
    utf8_rows,
)
from storage.restore_selects import OPEN_STATUS
from trading.exposure import grid_held, one_way_held
from trading.grid.model import GridState


def events(symbol: str | None = None, type_: str | None = None) -> list[dict[str, Any]]:
    q = EventRow.select().order_by(EventRow.id)
    if symbol is not None:
        q = q.where(EventRow.symbol == symbol)
    if type_ is not None:
        q = q.where(EventRow.type == type_)
    return [
        {
            "id": e.id,
            "symbol": e.symbol,
            "type": e.type,
            "data": json.loads(e.data),
            "correlation_id": e.correlation_id,
            "created_at": e.created_at,
            "recorded_at": e.recorded_at,
        }
        for e in q
    ]


def ledger_net_pnl(symbol: str | None = None) -> Decimal:
    """Sum over booked fills of realized P&L minus fees."""
    q = FillRow.select()
    if symbol is not None:
        q = q.where(FillRow.symbol == symbol)
    return sum((Decimal(f.realized_pnl) - Decimal(f.fee) for f in q), Decimal(0))


def fills(symbol: str | None = None) -> list[FillRow]:
    q = FillRow.select().order_by(FillRow.id)
    return list(q.where(FillRow.symbol == symbol) if symbol else q)


def orders(symbol: str) -> list[OrderRow]:
    return list(OrderRow.select().where(OrderRow.symbol == symbol).order_by(OrderRow.created_at))


def order(client_order_id: str) -> OrderRow | None:
    return OrderRow.get_or_none(OrderRow.client_order_id == client_order_id)


def positions(symbol: str) -> list[PositionRow]:
    return list(
        PositionRow.select().where(PositionRow.symbol == symbol).order_by(PositionRow.opened_at)
    )


def open_escalations() -> list[dict[str, Any]]:
    q = EscalationRow.select().where(EscalationRow.resolved_at.is_null()).order_by(EscalationRow.id)
    return [
        {
            "symbol": e.symbol,
            "reason": e.reason,
            "attempts": e.attempts,
            "last_error": e.last_error,
            "time": e.created_at,
        }
        for e in q
    ]


def escalations_since(since: float) -> list[dict[str, Any]]:
    """Every escalation (resolved or not) recorded at or after `since`, oldest first: what the
    kill switch counts after a restart."""
    q = EscalationRow.select().where(EscalationRow.created_at >= since).order_by(EscalationRow.id)
    return [{"id": e.id, "symbol": e.symbol, "reason": e.reason, "attempts": e.attempts,
             "last_error": e.last_error, "time": e.created_at} for e in q]


def restart_counts(symbols: list[str]) -> dict[str, Any]:
    """The stored restart count (`actor_state.restarts`) of each of `symbols` that has a row, as
    stored (NULL: 0; not converted: a value that is no count is the caller's to name, for its
    symbol alone: supervision/records.py `stored_restarts`)."""
    q: Any = (ActorStateRow.select(ActorStateRow.symbol,
                                   pw.fn.COALESCE(ActorStateRow.restarts, 0).coerce(False))
              .where(ActorStateRow.symbol.in_(symbols)).tuples())
    return dict(q)


def actor_rows() -> dict[str, ActorStateRow]:
    return {r.symbol: r for r in ActorStateRow.select()}


def pending_controls() -> list[ControlRow]:
    return list(ControlRow.select().where(ControlRow.done_at.is_null()).order_by(ControlRow.id))


def open_positions_of(symbols: list[str], grid: bool | None = None) -> dict[str, int]:
    """What each symbol holds of the account's max_open_positions as storage has it, for
    seeding the account's entry gate before any actor starts: its open positions and its
    entries possibly in flight (`held_at_start`). A symbol whose actor never starts (an
    unreadable row, a crash loop) keeps holding them; one that starts settles its own count
    from its restored and reconciled state. `grid`: the account trades the hedge grid (None:
    a symbol with a grid_state row does). Indexed lookups by symbol only."""
    counts: dict[str, int] = {}
    for symbol in symbols:
        n = held_at_start(symbol, grid)
        if n:
            counts[symbol] = n
    return counts


def _stored_symbols() -> set[str]:
    """Every symbol with a state row of either style or an open position row."""
    stored = {r.symbol for r in ActorStateRow.select(ActorStateRow.symbol)}
    stored |= {r.symbol for r in GridStateRow.select(GridStateRow.symbol)}
    stored |= {r.symbol for r in PositionRow.select(PositionRow.symbol).where(
        PositionRow.status.in_(OPEN_STATUS)).distinct()}
    return stored


def unlisted_holdings(symbols: list[str]) -> dict[str, int]:
    """The symbols outside `symbols` whose stored state still holds something (`held_at_start`:
    a position, an entry in flight, an unreadable state), with what each holds. Startup refuses
    them: a symbol taken off symbols.list while it held a position was started by nobody, so the
    position was forgotten (rule 2: tracked until the exchange says it is closed). One look at
    the account's rows at start, not a path that acts on one symbol (rule 6)."""
    out = {}
    for symbol in sorted(_stored_symbols() - set(symbols)):
        n = held_at_start(symbol)
        if n:
            out[symbol] = n
    return out


def style_holdings(grid: bool) -> dict[str, int]:
    """Every stored symbol whose state, read in the given style, holds something (`held_at_start`:
    an open position row, an entry in flight, an unreadable state): what a switch of style
    would misread (runtime/start_checks.py `check_style`)."""
    out = {}
    for symbol in sorted(_stored_symbols()):
        n = held_at_start(symbol, grid)
        if n:
            out[symbol] = n
    return out


def held_at_start(symbol: str, grid: bool | None = None) -> int:
    """Open position rows, at least what the symbol's stored state holds as the running actor
    counts it (actors/cores.py `exposure`): one-way, a position, an entry in flight (phase
    entering or a live entry order) or an unknown position it was quarantined for; hedge grid,
    its open legs and live OPEN orders of flat legs. A state that cannot be read, or one
    quarantined because it could not be, holds every slot of its style (1, the grid 2) until a
    person resumes it: it may hold a position nobody can see (actors/entry_gate.py)."""
    rows = PositionRow.select().where(
        (PositionRow.symbol == symbol) & PositionRow.status.in_(OPEN_STATUS)
    ).count()
    try:
        with utf8_rows(GridStateRow, GridStateRow.symbol == symbol, symbol):
            doc = GridStateRow.get_or_none(GridStateRow.symbol == symbol)
    except CorruptRow:  # its actor's own restore names it and quarantines it
        return max(rows, STYLE_SLOTS["one_way" if grid is False else "hedge_grid"])
    grid = doc is not None if grid is None else grid
    every_slot = STYLE_SLOTS["hedge_grid" if grid else "one_way"]
    try:
        state: Any = _grid_state(symbol, doc) if grid else load_state(symbol)
    except (CorruptRow, RecursionError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
        # anything one row can raise: it must never stop the account's start (rule 7); its
        # actor's own restore names the problem and quarantines it. (Not a database error:
        # on PostgreSQL that aborts the transaction, and the start fails as it should.)
        if not isinstance(exc, CorruptRow):
            logger.warning("{}: stored state unreadable at start ({}: {}); it holds every "
                           "slot of its style", symbol, type(exc).__name__, exc)
        return max(rows, every_slot)
    if quarantined_unreadable(state):
        return max(rows, every_slot)
    return max(rows, grid_held(state) if grid else one_way_held(state))


def _grid_state(symbol: str, doc: GridStateRow | None) -> GridState:
    """The grid's document with the scalar flags of actor_state, as storage/grid_store.py
    `load_grid` reads them."""
    state = GridState(symbol=symbol) if doc is None else grid_codec.loads(symbol, doc.data)
    with utf8_rows(ActorStateRow, ActorStateRow.symbol == symbol, symbol):
        flags = ActorStateRow.get_or_none(ActorStateRow.symbol == symbol)
    if flags is not None and flags.quarantined and not state.quarantined:
        state = replace(state, quarantined=True, quarantine_reason=flags.quarantine_reason)
    return state


def signal_received(signal_id: str) -> bool:
    """Whether a signal with this id was received, under any symbol (indexed by correlation
    id): what makes an external signal's id a duplicate. A rejected one is judged again when it
    is sent again (signals/router.py), and so is one received but never delivered: its actor
    had died before the supervisor knew, so `deliver_signal` journaled it skipped with
    NOT_DELIVERED right after (found by review: the sender, answered 'skipped', retried and was
    told 'duplicate')."""
    rows = (
        EventRow.select(EventRow.type, EventRow.data)
        .where((EventRow.correlation_id == signal_id)
               & EventRow.type.in_(("SignalReceived", "SignalSkipped")))
        .order_by(EventRow.id)
    )
    received = False
    for row in rows:
        if row.type == "SignalReceived":
            received = True
        elif received and _reason(row.data) == NOT_DELIVERED:
            received = False
    return received


NOT_DELIVERED = "actor not running"
"""The reason `Supervisor.deliver_signal` journals a signal with when its actor is not there."""


def _reason(text: str) -> Any:
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return data.get("reason") if isinstance(data, dict) else None
