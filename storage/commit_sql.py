"""The commit hot path (the one-way core's state rows and every decision's records) as constant,
parameterised SQL on the writer's own connection (sqlite3, or psycopg through
storage/sql_conn.py: the texts below are valid on both engines).

Building the same statements through peewee's query builder cost ~0.8 ms of CPU per decision
(measured by bench/bench_storage.py and a profile of the writer thread), and the single writer
thread made that the ceiling of the whole bot under the GIL. The statements below are compiled
once by sqlite3's statement cache (prepared by the server on PostgreSQL). Upserts are
ON CONFLICT ... DO UPDATE of every column, which leaves the row exactly as SQLite's INSERT OR
REPLACE did (no table has foreign keys or triggers that a delete-and-insert would fire). Only
rows that changed are written. The table and column names are the peewee models' in
storage/models.py; tests/storage round-trip through both, on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from storage.grid_codec import owed_data
from storage.sql_conn import SqlConn
from trading.commands import Escalate
from trading.decision import Decision
from trading.journal import JournalItem
from trading.late_fees import FeeOwed
from trading.model import OrderRecord, SymbolState

UPDATE_ACTOR = (
    "UPDATE actor_state SET phase=?, order_seq=?, cooldown_until=?, close_attempts=?, "
    "next_close_at=?, close_reason=?, last_close_error=?, needs_stop=?, stop_price=?, "
    "take_profit_price=?, quarantined=?, quarantine_reason=?, fees_owed=?, updated_at=? "
    "WHERE symbol=? AND incarnation=?"
)
CLOSE_POSITION = (
    "UPDATE positions SET status='closed', closed_at=?, contracts='0', realized_pnl=?, fees=?, "
    "close_reason=? WHERE position_id=?"
)
UPSERT_POSITION = (
    "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, opened_at, "
    "closed_at, status, realized_pnl, fees, close_reason) "
    "VALUES (?,?,?,?,?,?,NULL,'open',?,?,NULL) "
    "ON CONFLICT (position_id) DO UPDATE SET symbol=excluded.symbol, side=excluded.side, "
    "contracts=excluded.contracts, entry_price=excluded.entry_price, "
    "opened_at=excluded.opened_at, closed_at=NULL, status='open', "
    "realized_pnl=excluded.realized_pnl, fees=excluded.fees, close_reason=NULL"
)
DELETE_TRAILING = "DELETE FROM trailing_stops WHERE symbol=?"
UPSERT_TRAILING = (
    "INSERT INTO trailing_stops (symbol, position_id, state, activation_price, "
    "callback_pct, best_price, trigger_price) VALUES (?,?,?,?,?,?,?) "
    "ON CONFLICT (symbol) DO UPDATE SET position_id=excluded.position_id, "
    "state=excluded.state, activation_price=excluded.activation_price, "
    "callback_pct=excluded.callback_pct, best_price=excluded.best_price, "
    "trigger_price=excluded.trigger_price"
)
UPSERT_ORDER = (
    "INSERT INTO orders (client_order_id, symbol, position_id, purpose, side, amount, "
    "stop_price, reduce_only, status, exchange_id, filled, average, fee, replaces, last_error, "
    "created_at, updated_at, cancel_requested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (client_order_id) DO UPDATE SET symbol=excluded.symbol, "
    "position_id=excluded.position_id, purpose=excluded.purpose, side=excluded.side, "
    "amount=excluded.amount, stop_price=excluded.stop_price, "
    "reduce_only=excluded.reduce_only, status=excluded.status, "
    "exchange_id=excluded.exchange_id, filled=excluded.filled, average=excluded.average, "
    "fee=excluded.fee, replaces=excluded.replaces, last_error=excluded.last_error, "
    "created_at=excluded.created_at, updated_at=excluded.updated_at, "
    "cancel_requested_at=excluded.cancel_requested_at"
)
INSERT_FILL = (
    "INSERT INTO fills (symbol, client_order_id, position_id, side, amount, price, fee, "
    "realized_pnl, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
)
INSERT_EVENT = (
    "INSERT INTO events (symbol, type, data, correlation_id, created_at, recorded_at) "
    "VALUES (?,?,?,?,?,?)"
)
INSERT_ESCALATION = (
    "INSERT INTO escalations (symbol, reason, attempts, last_error, created_at, resolved_at) "
    "VALUES (?,?,?,?,?,?)"
)
"""An alert-only escalation (close=False: a contradiction that persists, the position still
tracked and protected) is recorded resolved at once: it counts toward the kill switch (its
window reads every row) but is not an open escalation that waits for a person's resume (it
stayed 'open' in the status, the dashboard and bot_open_escalations for ever; found by
review)."""


UPSERT_META = ("INSERT INTO meta (key, value) VALUES (?,?) "
               "ON CONFLICT (key) DO UPDATE SET value=excluded.value")
EMERGENCY_OWED = "emergency_close_owed:"
"""Meta key prefix: an emergency close asked for and not yet run to its end (runtime/
emergency.py clears it when its run ends; a restarted account runs every one still owed).
An escalation that closes writes it in its own commit (found by review: it reached the closer
through the supervisor's in-memory inbox, and the closer wrote it only when it started, so a
kill -9 in between lost the emergency close and its alert)."""


class FencedOff(Exception):
    """The UPDATE matched no row: this incarnation has been replaced."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def owed_text(owed: tuple[FeeOwed, ...]) -> str | None:
    """`actor_state.fees_owed`: NULL when no fee is owed (nearly always), else the JSON list.
    Written with every commit, so it is what the decision left: an order ending owed, a fee
    booked late or given up all come with a ledger entry, a journal record or a finished
    order, which the loop commits; a look that found nothing is written with the next one."""
    return json.dumps(owed_data(owed), separators=(",", ":")) if owed else None


class OneWayStore:
    """How a one-way symbol's state is stored: scalar columns in actor_state (the fence), its
    position, trailing stop and order rows. The repository writes the records around it."""

    name = "one_way"

    def load(self, conn: SqlConn, symbol: str) -> SymbolState:
        """Runs inside `Repository.reading()` (the peewee models are routed to this file)."""
        from storage.restore import load_state

        return load_state(symbol)

    def write(
        self,
        conn: SqlConn,
        symbol: str,
        incarnation: int,
        before: SymbolState,
        decision: Decision,
        now: float,
    ) -> None:
        write_state(conn, symbol, incarnation, before, decision, now)


ONE_WAY = OneWayStore()


def write_state(
    conn: SqlConn,
    symbol: str,
    incarnation: int,
    before: SymbolState,
    decision: Decision,
    now: float,
) -> None:
    s = decision.state
    cur = conn.execute(
        UPDATE_ACTOR,
        (
            s.phase.value,
            s.order_seq,
            s.cooldown_until,
            s.close_attempts,
            s.next_close_at,
            s.close_reason,
            s.last_close_error,
            bool(s.needs_stop),  # a boolean column on PostgreSQL, 0/1 on SQLite
            _s(s.stop_price),
            _s(s.take_profit_price),
            bool(s.quarantined),
            s.quarantine_reason,
            owed_text(s.fees_owed),
            now,
            symbol,
            incarnation,
        ),
    )
    if cur.rowcount != 1:
        raise FencedOff(symbol)
    _position(conn, symbol, before, s, now, decision)
    if s.trailing != before.trailing or s.position != before.position:
        _trailing(conn, symbol, s)
    for order in s.orders:
        if before.order(order.client_order_id) != order:
            _order(conn, symbol, order, now)
    for order in s.finished_orders:
        _order(conn, symbol, order, now)


def write_records(
    conn: SqlConn,
    symbol: str,
    decision: Decision,
    correlation_id: str,
    created_at: float,
    now: float,
) -> None:
    """What every decision writes besides its state: ledger fills, journal, escalation rows."""
    if decision.ledger:
        conn.executemany(
            INSERT_FILL,
            [
                (
                    symbol,
                    f.client_order_id,
                    f.position_id,
                    f.side,
                    str(f.amount),
                    str(f.price),
                    str(f.fee),
                    str(f.realized_pnl),
                    created_at if f.at is None else f.at,  # the venue's fill time if told
                )
                for f in decision.ledger
            ],
        )
    journal(conn, symbol, decision.journal, correlation_id, created_at, now)
    for cmd in decision.commands:
        if isinstance(cmd, Escalate):
            resolved = None if cmd.close else created_at
            conn.execute(INSERT_ESCALATION,
                         (symbol, cmd.reason, cmd.attempts, cmd.last_error, created_at, resolved))
            if cmd.close:  # owed with the escalation itself: see EMERGENCY_OWED
                conn.execute(UPSERT_META, (EMERGENCY_OWED + symbol, cmd.reason))


CLOSED_TOTALS = ("SELECT realized_pnl, fees FROM positions WHERE position_id=? "
                 "AND status='closed'")
SET_CLOSED_TOTALS = ("UPDATE positions SET realized_pnl=?, fees=? WHERE position_id=? "
                     "AND status='closed'")


def charge_closed_rows(conn: SqlConn, decision: Decision) -> None:
    """Ledger entries for positions whose row was closed before this commit: a fee told after
    the close (a fee-only entry: quantity 0, no P&L; trading/late_fees.py), or a reducing fill
    that came after it (its stop whose cancel had not landed: `FillWithoutPosition`, the grid's
    `FillWithoutLeg`, booked with its fee and the exchange's P&L). The closed row's totals
    follow the ledger (found by review: the trades list, the dashboard and the status read the
    row, which stayed short of the fee, and of such a fill's P&L). Runs before the state is
    written: a row this very commit closes is still open then, and its totals count the
    decision's fills (`closed_totals`). It used to run after, leaving out rows whose
    `closed_at` was this commit's time: two commits with one clock reading (a coarse or a test
    clock) dropped the later fee from the row while the ledger had it (found by review)."""
    for f in decision.ledger:
        if not (f.fee or f.realized_pnl):
            continue
        row = conn.execute(CLOSED_TOTALS, (f.position_id,)).fetchone()
        if row is not None:
            pnl, fees = Decimal(row[0] or 0) + f.realized_pnl, Decimal(row[1] or 0) + f.fee
            conn.execute(SET_CLOSED_TOTALS, (str(pnl), str(fees), f.position_id))


def journal(
    conn: SqlConn,
    symbol: str,
    entries: Sequence[JournalItem],
    correlation_id: str,
    created_at: float,
    now: float,
) -> None:
    if entries:
        conn.executemany(
            INSERT_EVENT,
            [
                (symbol, e.type, json.dumps(e.data, default=str), correlation_id, created_at, now)
                for e in entries
            ],
        )


def _position(
    conn: SqlConn,
    symbol: str,
    before: SymbolState,
    s: SymbolState,
    now: float,
    decision: Decision,
) -> None:
    old, pos = before.position, s.position
    if old is not None and (pos is None or pos.position_id != old.position_id):
        reason = next(
            (str(j.data.get("reason")) for j in decision.journal if j.type == "PositionClosed"),
            "closed",
        )
        pnl, fees = closed_totals(old.position_id, old.realized_pnl, old.fees, decision)
        conn.execute(CLOSE_POSITION, (closed_time(old.position_id, decision, now), str(pnl),
                                      str(fees), reason, old.position_id))
    if pos is not None and pos != old:
        conn.execute(
            UPSERT_POSITION,
            (
                pos.position_id,
                symbol,
                pos.side.value,
                str(pos.contracts),
                str(pos.entry_price),
                pos.opened_at,
                str(pos.realized_pnl),
                str(pos.fees),
            ),
        )


def closed_time(position_id: str, decision: Decision, now: float) -> float:
    """When a position this decision closes closed: its last trade's time as the venue told it
    (`LedgerEntry.at`: a stop that filled while the bot was down), else the commit's."""
    told = [f.at for f in decision.ledger
            if f.position_id == position_id and f.amount and f.at is not None]
    return min(max(told), now) if told else now


def closed_totals(
    position_id: str, realized_pnl: Decimal, fees: Decimal, decision: Decision
) -> tuple[Decimal, Decimal]:
    """A closing position's totals: what it had booked before this decision plus this decision's
    ledger fills for it (the closing fill itself), so the row agrees with the ledger (issue 16
    item 6: the row used to be written from the state before the closing fill)."""
    mine = [f for f in decision.ledger if f.position_id == position_id]
    return (
        realized_pnl + sum((f.realized_pnl for f in mine), Decimal(0)),
        fees + sum((f.fee for f in mine), Decimal(0)),
    )


def _trailing(conn: SqlConn, symbol: str, s: SymbolState) -> None:
    t = s.trailing
    if t is None or s.position is None:
        conn.execute(DELETE_TRAILING, (symbol,))
        return
    conn.execute(
        UPSERT_TRAILING,
        (
            symbol,
            s.position.position_id,
            t.state.value,
            str(t.activation_price),
            str(t.callback_pct),
            _s(t.best_price),
            _s(t.trigger_price),
        ),
    )


def _order(conn: SqlConn, symbol: str, o: OrderRecord, now: float) -> None:
    conn.execute(
        UPSERT_ORDER,
        (
            o.client_order_id,
            symbol,
            o.position_id,
            o.purpose.value,
            o.side,
            str(o.amount),
            _s(o.stop_price),
            bool(o.reduce_only),
            o.status.value,
            o.exchange_id,
            str(o.filled),
            _s(o.average),
            str(o.fee),
            o.replaces,
            o.last_error,
            o.created_at,
            now,
            o.cancel_requested_at,
        ),
    )
