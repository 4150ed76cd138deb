"""Read-only reports over the ledger and the journal for the operator's views (dashboard, API,
metrics, protections, the status summary). Run them through ``Repository.read``.

Nothing here writes. The queries the bot repeats every few seconds (``fills_after``,
``positions_by_id``, ``stop_outs``) use the primary key or the (symbol, status) index, so their
cost follows what is new, not the size of the history. The page-by-page views (trades, journal,
equity) run only when someone asks for them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from storage.models import EventRow, FillRow, PositionRow

MAX_PAGE = 500


def fills_after(last_id: int, limit: int = 5000) -> list[dict[str, Any]]:
    """Ledger rows with an id above ``last_id``, oldest first (primary-key range)."""
    q = (FillRow.select().where(FillRow.id > last_id).order_by(FillRow.id).limit(limit))
    return [{"id": f.id, "symbol": f.symbol, "position_id": f.position_id,
             "client_order_id": f.client_order_id, "side": f.side, "amount": Decimal(f.amount),
             "price": Decimal(f.price), "fee": Decimal(f.fee),
             "realized_pnl": Decimal(f.realized_pnl), "created_at": f.created_at} for f in q]


def positions_by_id(position_ids: list[str]) -> list[dict[str, Any]]:
    """The named positions (primary key), their P&L from the ledger."""
    if not position_ids:
        return []
    q = list(PositionRow.select().where(PositionRow.position_id.in_(position_ids)))
    return _with_ledger(q)


def stop_outs(symbol: str, since: float) -> list[float]:
    """When the symbol's positions closed by their stop-loss since ``since`` ((symbol, status)
    index), oldest first."""
    q = (PositionRow.select(PositionRow.closed_at)
         .where((PositionRow.symbol == symbol) & (PositionRow.status == "closed")
                & (PositionRow.close_reason == "stop_loss") & (PositionRow.closed_at >= since))
         .order_by(PositionRow.closed_at))
    return [float(p.closed_at) for p in q if p.closed_at is not None]


def trades(limit: int = 50, offset: int = 0, symbol: str | None = None) -> list[dict[str, Any]]:
    """Closed positions, most recent first, with their net result (realized minus fees)."""
    q = PositionRow.select().where(PositionRow.status == "closed")
    if symbol is not None:
        q = q.where(PositionRow.symbol == symbol)
    q = q.order_by(PositionRow.closed_at.desc()).limit(_page(limit)).offset(max(offset, 0))
    return _with_ledger(list(q))


def journal(symbol: str | None = None, before_id: int | None = None,
            limit: int = 50) -> list[dict[str, Any]]:
    """Journal events, newest first; page with ``before_id`` (the last id of the previous page)."""
    q = EventRow.select()
    if symbol is not None:
        q = q.where(EventRow.symbol == symbol)
    if before_id is not None:
        q = q.where(EventRow.id < before_id)
    q = q.order_by(EventRow.id.desc()).limit(_page(limit))
    return [{"id": e.id, "symbol": e.symbol, "type": e.type, "data": _json(e.data),
             "correlation_id": e.correlation_id, "created_at": e.created_at,
             "recorded_at": e.recorded_at} for e in q]


def equity_points(base: Decimal, max_points: int = 500) -> list[dict[str, Any]]:
    """The ledger's equity curve: ``base`` plus the cumulative net of every fill, thinned to at
    most ``max_points`` (the last point is always the current equity)."""
    total = FillRow.select().count()
    step = max(1, -(-total // max(max_points, 1)))
    points: list[dict[str, Any]] = []
    equity = base
    q = FillRow.select(FillRow.id, FillRow.realized_pnl, FillRow.fee, FillRow.created_at)
    for i, f in enumerate(q.order_by(FillRow.id).iterator()):
        equity += Decimal(f.realized_pnl) - Decimal(f.fee)
        if i % step == step - 1 or i == total - 1:
            points.append({"time": f.created_at, "equity": str(equity)})
    return points


def _with_ledger(rows: list[PositionRow]) -> list[dict[str, Any]]:
    """Positions with realized P&L and fees summed from their fills (index on position_id).

    The ledger, not the positions row, is the source: the row's totals are written from the
    state before the closing fill (storage/commit_sql.py ``_position``), so they miss it."""
    ids = [p.position_id for p in rows]
    booked: dict[str, tuple[Decimal, Decimal]] = {}
    fills = FillRow.select(FillRow.position_id, FillRow.realized_pnl, FillRow.fee).where(
        FillRow.position_id.in_(ids)) if ids else []
    for f in fills:
        realized, fee = booked.get(f.position_id, (Decimal(0), Decimal(0)))
        booked[f.position_id] = (realized + Decimal(f.realized_pnl), fee + Decimal(f.fee))
    return [_position(p, booked.get(p.position_id)) for p in rows]


def _position(p: PositionRow, booked: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    realized, fees = booked if booked is not None else (Decimal(p.realized_pnl), Decimal(p.fees))
    return {"position_id": p.position_id, "symbol": p.symbol, "side": p.side,
            "contracts": p.contracts, "entry_price": p.entry_price, "opened_at": p.opened_at,
            "closed_at": p.closed_at, "status": p.status, "realized_pnl": realized,
            "fees": fees, "net_pnl": realized - fees, "close_reason": p.close_reason}


def _page(limit: int) -> int:
    return min(max(int(limit), 1), MAX_PAGE)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {"raw": text}  # an unreadable row is shown as text, never breaks the page
