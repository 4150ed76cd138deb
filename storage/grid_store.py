"""How hedge-grid symbols are stored (the grid's `StateStore`): the state document and one
position row per leg, fenced like the one-way core's. `Repository.commit` writes them with the
decision's ledger fills, journal and escalation row in one transaction, before any command is
sent (write-ahead); `Repository.load` reads them back."""

from __future__ import annotations

from typing import Any

from storage import grid_codec
from storage.commit_sql import (
    CLOSE_POSITION,
    UPSERT_POSITION,
    FencedOff,
    closed_time,
    closed_totals,
)
from storage.models import ActorStateRow, GridStateRow
from storage.restore import CorruptRow, utf8_rows
from storage.sql_conn import SqlConn
from trading.grid.core import GridDecision
from trading.grid.model import GridState, Leg

FENCE = (
    "UPDATE actor_state SET order_seq=?, quarantined=?, quarantine_reason=?, updated_at=? "
    "WHERE symbol=? AND incarnation=?"
)
CLOSE_SUPERSEDED = (
    "UPDATE positions SET status='closed', closed_at=?, contracts='0', close_reason=? "
    "WHERE symbol=? AND side=? AND status IN ('open', 'OPEN', 'Open') AND position_id<>?"
)
"""A leg's open rows other than the leg the state adopts (see `_leg_row`); the statuses as
storage/restore_selects.py `OPEN_STATUS` spells them (the (symbol, status) index serves the
lookup)."""
UPSERT_GRID = (
    "INSERT INTO grid_state (symbol, data, updated_at) VALUES (?,?,?) "
    "ON CONFLICT (symbol) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at"
)


ADOPTED = "adopted-"
"""How the reconciliation names a leg it adopts (trading/grid/reconcile.py)."""


class GridStore:
    """How a hedge-grid symbol's state is stored: the state document in grid_state, one
    position row per leg, and the fence on actor_state (scalar flags only)."""

    name = "hedge_grid"

    def load(self, conn: Any, symbol: str) -> GridState:
        return load_grid(conn, symbol)

    def write(
        self,
        conn: SqlConn,
        symbol: str,
        incarnation: int,
        before: GridState,
        decision: GridDecision,
        now: float,
    ) -> None:
        s = decision.state
        fence = (s.order_seq, bool(s.quarantined), s.quarantine_reason, now, symbol, incarnation)
        cur = conn.execute(FENCE, fence)
        if cur.rowcount != 1:
            raise FencedOff(symbol)
        conn.execute(UPSERT_GRID, (symbol, grid_codec.dumps(s), now))
        for old, new in ((before.long, s.long), (before.short, s.short)):
            _leg_row(conn, symbol, old, new, now, decision)
        _opened_and_closed(conn, symbol, before, s, now, decision)


HEDGE_GRID = GridStore()


def _leg_row(
    conn: SqlConn, symbol: str, old: Leg, new: Leg, now: float, decision: GridDecision
) -> None:
    if old.position_id is not None and old.position_id != new.position_id:
        pnl, fees = closed_totals(old.position_id, old.realized_pnl, old.fees, decision)
        reason = next(
            (
                str(j.data.get("reason"))
                for j in decision.journal
                if j.type == "LegClosed" and j.data.get("position_id") == old.position_id
            ),
            "closed",
        )
        conn.execute(CLOSE_POSITION, (closed_time(old.position_id, decision, now), str(pnl),
                                      str(fees), reason, old.position_id))
    if new.position_id is not None and new.position_id != old.position_id \
            and new.position_id.startswith(ADOPTED):
        # the exchange holds one position a side: a row of this side still open is the leg the
        # state lost (its grid_state document deleted or lost), which the reconciliation has
        # just adopted again under a new id. Left open it stayed open for good, and the
        # account's entry gate counted 4 positions for the symbol at every start (found by
        # review); closed with what it had booked, naming the leg that carries on.
        conn.execute(CLOSE_SUPERSEDED, (now, f"superseded by {new.position_id}", symbol,
                                        new.side.value, new.position_id))
    if new.position_id is not None and new != old and new.entry_price is not None:
        conn.execute(
            UPSERT_POSITION,
            (
                new.position_id,
                symbol,
                new.side.value,
                str(new.contracts),
                str(new.entry_price),
                new.opened_at,
                str(new.realized_pnl),
                str(new.fees),
            ),
        )


def _opened_and_closed(
    conn: SqlConn, symbol: str, before: GridState, s: GridState, now: float,
    decision: GridDecision,
) -> None:
    """A leg that opened and closed within this decision (a restart's reconciliation books a
    take-profit, then the level placed for that leg opening a new one, then the old stop
    closing it) is open neither before nor after it: its row, closed, from its journal
    records (LegOpened's price, LegClosed's totals and reason). Without it, its fills and
    close belonged to no position: left out of the closed trades and of the protections'
    closes and stop-outs."""
    held = {leg.position_id for leg in (before.long, before.short, s.long, s.short)}
    opened = {j.data.get("position_id"): j.data for j in decision.journal
              if j.type == "LegOpened"}
    for j in decision.journal:
        pid = j.data.get("position_id")
        if j.type != "LegClosed" or pid in held or pid not in opened:
            continue
        pnl, fees = str(j.data.get("realized_pnl")), str(j.data.get("fees"))
        conn.execute(UPSERT_POSITION, (pid, symbol, str(j.data.get("leg")), "0",
                                       str(opened[pid].get("price")), now, pnl, fees))
        conn.execute(CLOSE_POSITION, (closed_time(str(pid), decision, now), pnl, fees,
                                      str(j.data.get("reason")), pid))


def load_grid(conn: Any, symbol: str) -> GridState:
    """Runs inside `Repository.reading()` (text that is not UTF-8 is named through the models:
    storage/restore.py `utf8_rows`)."""
    with utf8_rows(GridStateRow, GridStateRow.symbol == symbol, symbol):
        row = conn.execute("SELECT data FROM grid_state WHERE symbol=?", (symbol,)).fetchone()
    with utf8_rows(ActorStateRow, ActorStateRow.symbol == symbol, symbol):
        flags = conn.execute(
            "SELECT quarantined, quarantine_reason FROM actor_state WHERE symbol=?", (symbol,)
        ).fetchone()
    state = GridState(symbol=symbol) if row is None else grid_codec.loads(symbol, row[0])
    if flags is not None and flags[0] and not state.quarantined:
        from dataclasses import replace

        state = replace(state, quarantined=True,
                        quarantine_reason=_text(symbol, "quarantine_reason", flags[1]))
    return state


def _text(symbol: str, field: str, value: Any) -> Any:
    """An actor_state text column as read on the raw connection: a BLOB comes back as bytes
    (peewee decodes it for the one-way reader). Kept as bytes in the state, every later commit
    failed writing the document (found by review); UTF-8 bytes are their text, others are a
    CorruptRow naming the row and the column (the symbol is quarantined as unreadable)."""
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptRow("actor_state", symbol, field, value.decode("utf-8", "replace")[:80],
                         "not UTF-8 text") from None
