"""Read-only queries for the status dump, the command line and tests (indexed by symbol)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from storage.models import (
    ActorStateRow,
    ControlRow,
    EscalationRow,
    EventRow,
    FillRow,
    OrderRow,
    PositionRow,
)
from storage.restore import OPEN_STATUS


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
    return [{"symbol": e.symbol, "reason": e.reason, "attempts": e.attempts,
             "last_error": e.last_error, "time": e.created_at} for e in q]


def actor_rows() -> dict[str, ActorStateRow]:
    return {r.symbol: r for r in ActorStateRow.select()}


def pending_controls() -> list[ControlRow]:
    return list(ControlRow.select().where(ControlRow.done_at.is_null()).order_by(ControlRow.id))


def signal_seen(signal_id: str) -> bool:
    """An external signal id already journaled (received or rejected), under any symbol; uses
    the index on events.correlation_id."""
    return (
        EventRow.select(EventRow.id)
        .where(
            (EventRow.correlation_id == signal_id)
            & EventRow.type.in_(("SignalReceived", "SignalRejected"))
        )
        .exists()
    )


def open_positions_of(symbols: list[str]) -> dict[str, int]:
    """Open position rows per symbol (one indexed lookup on (symbol, status) per symbol), for
    seeding the account's entry gate before any actor starts."""
    counts: dict[str, int] = {}
    for symbol in symbols:
        rows = PositionRow.select().where(
            (PositionRow.symbol == symbol) & PositionRow.status.in_(OPEN_STATUS)
        )
        n = rows.count()
        if n:
            counts[symbol] = n
    return counts


def signal_received(signal_id: str) -> bool:
    """Whether a signal with this id was journaled as received (indexed by correlation id)."""
    return (
        EventRow.select(EventRow.id)
        .where((EventRow.correlation_id == signal_id) & (EventRow.type == "SignalReceived"))
        .exists()
    )
