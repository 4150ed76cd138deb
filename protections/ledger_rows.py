"""The ledger rows the protections read, each checked on its own: a row that cannot be read is
handed back as skipped (named by id and client order id) and the rest still count, so one bad
row never stops the daily loss limit and the drawdown from updating.

Run ``fills_after`` through ``Repository.read`` (the same primary-key range as
``storage.reports.fills_after``, which raises on the first bad value of a batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from storage.models import FillRow


@dataclass(frozen=True, slots=True)
class FillBatch:
    fills: list[dict[str, Any]] = field(default_factory=list)
    """The readable rows, oldest first (as ``storage.reports.fills_after`` gives them)."""
    skipped: list[str] = field(default_factory=list)
    """One line per unreadable row: which row, and why."""
    last_id: int = 0
    """The highest id read, readable or not (the cursor moves past both)."""
    size: int = 0
    """Rows read, readable or not (fewer than asked: the ledger's end)."""


def fills_after(last_id: int, limit: int) -> FillBatch:
    """Ledger rows with an id above ``last_id``, oldest first, at most ``limit``."""
    db = FillRow._meta.database
    p = db.param  # `?` on SQLite, `%s` on PostgreSQL
    cursor = db.execute_sql(
        "SELECT id, symbol, client_order_id, position_id, fee, realized_pnl, created_at "
        f"FROM fills WHERE id > {p} ORDER BY id LIMIT {p}", (last_id, limit))
    rows = cursor.fetchall()
    fills, skipped = [], []
    for row in rows:
        try:
            fills.append(_fill(row))
        except (ArithmeticError, ValueError, TypeError) as exc:
            skipped.append(f"fills row id {row[0]} (client order id {row[2]!r}): {exc}")
    return FillBatch(fills=fills, skipped=skipped,
                     last_id=max([last_id, *(int(r[0]) for r in rows)]), size=len(rows))


def _fill(row: tuple[Any, ...]) -> dict[str, Any]:
    fill_id, symbol, _cid, position_id, fee, pnl, created_at = row
    if not isinstance(position_id, str) or not position_id:
        raise ValueError(f"position_id {position_id!r} is not a position id")
    at = float(created_at)
    if not math.isfinite(at):
        raise ValueError(f"created_at {created_at!r} is not a time")
    return {"id": int(fill_id), "symbol": symbol, "position_id": position_id,
            "fee": _money("fee", fee), "realized_pnl": _money("realized_pnl", pnl),
            "created_at": at}


def _money(name: str, text: Any) -> Decimal:
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError, TypeError):
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not a finite number")
    return value
