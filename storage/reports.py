"""Read-only reports over the ledger and the journal for the operator's views (dashboard, API,
metrics, protections, the status summary). Run them through ``Repository.read``.

Nothing here writes. The queries the bot repeats every few seconds (``fills_after``,
``positions_by_id``, ``stop_outs``) use the primary key or the (symbol, status) index, so their
cost follows what is new, not the size of the history. The page-by-page views (trades, journal,
equity) run only when someone asks for them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from peewee import fn

from storage.models import EventRow, FillRow, PositionRow
from trading.primitives import money_text

MAX_PAGE = 500
LEDGER_PAGE = 5000
"""Ledger rows read at a time by a whole-ledger view (the equity curve)."""


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    """One read of the ledger: the readable rows and one line for each row that is not."""

    fills: list[dict[str, Any]] = field(default_factory=list)
    """The readable rows, oldest first."""
    skipped: list[str] = field(default_factory=list)
    """One line per unreadable row: which row (id, client order id), and why."""
    last_id: int = 0
    """The highest id read, readable or not (a cursor moves past both)."""
    size: int = 0
    """Rows read, readable or not (fewer than asked: the ledger's end)."""


def fills_after(last_id: int, limit: int = LEDGER_PAGE) -> LedgerBatch:
    """Ledger rows with an id above ``last_id``, oldest first, at most ``limit`` (primary-key
    range). Each row is checked on its own: one that cannot be read is handed back as skipped
    and the rest still count, so one damaged row never stops the protections (which replay the
    whole ledger through here at start) from updating. Plain SQL: peewee's row objects ~4x."""
    db = FillRow._meta.database
    p = db.param  # `?` on SQLite, `%s` on PostgreSQL
    cursor = db.execute_sql(
        "SELECT id, symbol, client_order_id, position_id, fee, realized_pnl, created_at, amount "
        f"FROM fills WHERE id > {p} ORDER BY id LIMIT {p}", (last_id, limit))
    rows = cursor.fetchall()
    fills, skipped = [], []
    for row in rows:
        try:
            fills.append(_ledger_row(row))
        except (ArithmeticError, ValueError, TypeError) as exc:
            skipped.append(f"fills row id {row[0]} (client order id {row[2]!r}): {exc}")
    return LedgerBatch(fills=fills, skipped=skipped,
                       last_id=max([last_id, *(int(r[0]) for r in rows)]), size=len(rows))


def last_fill_id() -> int:
    """The ledger's last row id (0: empty); the primary key's end."""
    return int(FillRow.select(fn.MAX(FillRow.id)).scalar() or 0)


def _ledger_row(row: tuple[Any, ...]) -> dict[str, Any]:
    fill_id, symbol, _cid, position_id, fee, pnl, created_at, amount = row
    # "" is booked against no position (a funding payment no open one explains, funding.py):
    # money all the same (found by review: it was skipped, left out of every total)
    if not isinstance(position_id, str):
        raise ValueError(f"position_id {position_id!r} is not a position id")
    at = float(created_at)
    if not math.isfinite(at):
        raise ValueError(f"created_at {created_at!r} is not a time")
    return {"id": int(fill_id), "symbol": symbol, "position_id": position_id,
            "fee": _money("fee", fee), "realized_pnl": _money("realized_pnl", pnl),
            "created_at": at, "traded": _traded(amount)}


def _traded(amount: Any) -> bool:
    """Whether the row is a trade (not a fee told later, quantity 0): a trade's time is when
    its position changed. An amount that cannot be read counts as a trade."""
    try:
        return Decimal(amount) != 0
    except (ArithmeticError, ValueError, TypeError):
        return True


def _money(name: str, text: Any) -> Decimal:
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError, TypeError):
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not a finite number")
    return value


def positions_by_id(position_ids: list[str]) -> list[dict[str, Any]]:
    """The named positions' state (primary key); their P&L is the caller's sum of their fills
    (see ``_with_ledger`` for why not the row's)."""
    if not position_ids:
        return []
    columns = ("position_id", "symbol", "side", "contracts", "entry_price", "status",
               "opened_at", "closed_at", "close_reason")
    rows: list[dict[str, Any]] = []
    for start in range(0, len(position_ids), 500):  # SQLite's bound-parameter limit
        chunk = position_ids[start:start + 500]
        db = PositionRow._meta.database
        cursor = db.execute_sql(
            f"SELECT {', '.join(columns)} FROM positions WHERE position_id IN "
            f"({', '.join([db.param] * len(chunk))})", tuple(chunk))
        rows += [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return rows


def trades(limit: int = 50, offset: int = 0, symbol: str | None = None) -> list[dict[str, Any]]:
    """Closed positions, most recent first, with their net result (realized minus fees)."""
    q = trades_query(limit, offset, symbol)
    return _with_ledger(cast(list[dict[str, Any]], list(q.dicts())))


def trades_query(limit: int, offset: int, symbol: str | None) -> Any:
    """A page of closed positions, newest first: a walk of an index in its order (schema 6:
    (status, closed_at, position_id), with the symbol first for one symbol's), not a read and
    sort of every position, which the dashboard's page did every 5 s."""
    q = PositionRow.select().where(PositionRow.status == "closed")
    if symbol is not None:
        q = q.where(PositionRow.symbol == symbol)
    # position_id breaks ties: a hedge grid's two legs closed in one decision share closed_at,
    # and an order that does not decide between them may page one twice, the other never
    q = q.order_by(PositionRow.closed_at.desc(), PositionRow.position_id.desc())
    return q.limit(_page(limit)).offset(max(offset, 0))


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
    """The ledger's equity curve: ``base`` plus the cumulative net of every fill in the order
    of their times (ties: booking order), thinned to at most ``max_points`` (the last point is
    always the current equity). Not id order: a fill is dated by the venue's fill time, so a
    stop that filled while the bot was down is booked after rows dated later (found by review:
    the curve stepped back in time there). A row that cannot be read adds nothing, as in the
    protections' totals (``fills_after``), so the curve ends at the status's equity (found by
    review: one damaged row made this view a 500, or end at NaN)."""
    total = FillRow.select().count()
    step = max(1, -(-total // max(max_points, 1)))
    rows: list[tuple[float, int, Decimal]] = []
    last_id = 0
    while True:
        batch = fills_after(last_id, LEDGER_PAGE)
        rows += net_rows(batch.fills)
        last_id = batch.last_id
        if batch.size < LEDGER_PAGE:
            break
    points: list[dict[str, Any]] = []
    equity, last = base, None
    for i, (at, _, net) in enumerate(sorted(rows)):
        equity += net
        last = {"time": at, "equity": money_text(equity)}
        if i % step == step - 1:
            points.append(last)
    if last is not None and (not points or points[-1] is not last):
        points.append(last)
    return points


def net_rows(fills: list[dict[str, Any]]) -> list[tuple[float, int, Decimal]]:
    """(time, id, net) of readable ledger rows: sorted, the equity curve's order."""
    return [(f["created_at"], f["id"], f["realized_pnl"] - f["fee"]) for f in fills]


def _with_ledger(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Positions with realized P&L and fees summed from their fills (index on position_id).

    The ledger, not the positions row, is the source: a closed position's row is written when
    it closes (storage/commit_sql.py ``closed_totals``), so it misses a fee the venue tells
    later (Binance: trading/late_fees.py), which the ledger books as a row of its own."""
    ids = [p["position_id"] for p in rows]
    booked: dict[str, tuple[Decimal, Decimal]] = {}
    fills = FillRow.select(FillRow.position_id, FillRow.realized_pnl, FillRow.fee).where(
        FillRow.position_id.in_(ids)).tuples() if ids else []
    for pid, pnl, fee in fills:
        try:  # an unreadable row adds nothing, as in the status's totals (fills_after)
            amounts = (_money("realized_pnl", pnl), _money("fee", fee))
        except ValueError:
            amounts = (Decimal(0), Decimal(0))
        realized, fees = booked.get(pid, (Decimal(0), Decimal(0)))
        booked[pid] = (realized + amounts[0], fees + amounts[1])
    return [_position(p, booked.get(p["position_id"])) for p in rows]


def _position(p: dict[str, Any], booked: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    realized: Decimal | None
    fees: Decimal | None
    if booked is None:  # no fills: the position row's own totals, unknown when unreadable
        try:
            realized, fees = _money("realized_pnl", p["realized_pnl"]), _money("fees", p["fees"])
        except ValueError:  # shown as unknown ('-' on the page) rather than failing the page
            realized = fees = None
    else:
        realized, fees = booked
    keys = ("position_id", "symbol", "side", "contracts", "entry_price", "opened_at",
            "closed_at", "status", "close_reason")
    net = None if realized is None or fees is None else realized - fees
    return {**{k: p[k] for k in keys}, "realized_pnl": realized, "fees": fees, "net_pnl": net}


def _page(limit: int) -> int:
    """0..MAX_PAGE rows: a limit of 0 reads none (it read one: found by review)."""
    return min(max(int(limit), 0), MAX_PAGE)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return {"raw": text}  # an unreadable row is shown as text, never breaks the page
