"""Reading a symbol's persisted rows back into a SymbolState, tolerantly.

Enums are read in any casing; a value that still cannot be read raises CorruptRow naming the
table, the row and the field, so the supervisor can quarantine that one symbol and start the
others (incident 7).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

import peewee as pw
from loguru import logger

from storage.models import ActorStateRow
from storage.prepared import Prepared
from storage.restore_selects import (
    ACTOR_ROW,
    LIVE_ORDERS,
    OPEN_POSITIONS,
    TRAILING_ROW,
    UNKNOWN_ORDER_STATUS,
    UNKNOWN_POSITION_STATUS,
)
from trading.client_ids import placement_key
from trading.late_fees import FeeOwed
from trading.model import (
    Order,
    OrderStatus,
    Phase,
    Position,
    Side,
    SymbolState,
    TrailingState,
    TrailingStop,
    parse_enum,
    parse_purpose,
)

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

UNREADABLE = "unreadable state"
"""How the quarantine of a symbol whose stored state raised CorruptRow is worded (the
supervisor's `unreadable state: <error>`): such a symbol holds every slot of its style at the
account's entry gate until a person resumes it (storage/queries.py, actors/entry_gate.py)."""

STYLE_SLOTS = {"one_way": 1, "hedge_grid": 2}
"""The most positions one symbol of a style can hold (the grid: a long and a short leg): what
a symbol quarantined as unreadable holds at the account's entry gate."""


def quarantined_unreadable(state: Any) -> bool:
    """Quarantined because its stored state could not be read (the supervisor's wording)."""
    return bool(state.quarantined) and str(state.quarantine_reason or "").startswith(UNREADABLE)


class CorruptRow(Exception):
    def __init__(self, table: str, key: str, field: str, value: Any, error: str,
                 symbol: str | None = None) -> None:
        self.table, self.key, self.field = table, key, field
        of = f" of {symbol}" if symbol is not None and symbol != key else ""
        super().__init__(f"{table} row {key!r}{of}: field {field!r} = {value!r}: {error}")


SAFE_DEFAULTS: dict[tuple[str, str], Any] = {
    ("actor_state", "cooldown_until"): 0.0,  # no loss cooldown: only an entry may come sooner
    ("actor_state", "close_attempts"): 0,  # counted again from 0: still bounded, with backoff
    ("actor_state", "needs_stop"): False,  # the start's reconciliation asks for a missing stop
}
"""NULL columns whose default is a safe reading: restored as the default with a warning (the
next commit writes it). Any other NULL (phase, order_seq, quarantined, amounts, an order's
reduce_only or filled...) raises CorruptRow naming the column: the symbol is quarantined."""


class _Reader:
    def __init__(self, table: str, row: pw.Model, key: str, symbol: str | None = None) -> None:
        self.table, self.row, self.key, self.symbol = table, row, key, symbol

    def get(self, field: str, parse: Callable[[Any], T]) -> T:
        value = getattr(self.row, field)
        if value is None and (self.table, field) in SAFE_DEFAULTS:
            default: T = SAFE_DEFAULTS[self.table, field]
            logger.warning("{}: {} row {!r}: {} is NULL; read as its default {!r}",
                           self.symbol or self.key, self.table, self.key, field, default)
            return default
        try:
            return parse(value)
        except (ValueError, TypeError, KeyError, InvalidOperation, ArithmeticError) as exc:
            detail = "not a decimal number" if isinstance(exc, InvalidOperation) else str(exc)
            if value is None:
                default = getattr(type(self.row), field).default
                detail = "NULL" if default is None else (
                    f"NULL, and its default {default!r} is not a safe reading")
            raise CorruptRow(
                self.table, self.key, field, value, detail or type(exc).__name__, self.symbol
            ) from exc

    def dec(self, field: str) -> Decimal:
        return self.get(field, finite_decimal)

    def opt_dec(self, field: str) -> Decimal | None:
        return self.get(field, lambda v: None if v in (None, "") else finite_decimal(v))

    def enum(self, field: str, cls: type[E]) -> E:
        return self.get(field, lambda v: parse_enum(cls, v))

    def flag(self, field: str) -> bool:
        return self.get(field, _flag)


def _flag(value: Any) -> bool:
    if value is None:
        raise ValueError("NULL")
    return bool(value)


def journal_data(row_id: int, text: Any) -> dict[str, Any]:
    """The ``data`` of one journal (``events``) row as an object; garbage raises CorruptRow
    naming the table and the row, so the supervisor quarantines that one symbol with a clear
    error instead of restarting it into the same JSONDecodeError (issue 16 item 15)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:  # nested too deep: unreadable too
        shown = text[:80] if isinstance(text, str) else text
        raise CorruptRow("events", str(row_id), "data", shown, f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptRow("events", str(row_id), "data", data, "not a JSON object")
    return data


def finite_decimal(value: Any) -> Decimal:
    """A stored amount or price: finite (both styles' readers, storage/grid_codec.py too)."""
    d = Decimal(str(value))
    if not d.is_finite():
        raise ValueError("not a finite number")
    return d


def whole_count(value: Any) -> int:
    """A stored count or sequence number (order_seq, close attempts, a grid's levels): whole and
    not negative. int() truncated 3.5 to 3 and read true as 1 (found by review: an order_seq
    read short gives the next orders the client ids of orders already placed)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("not a whole number")
    count = int(value)
    if count < 0:
        raise ValueError("negative")
    return count


def order_side(value: Any) -> str:
    """A stored order's side, `buy` or `sell`, in any casing or padding (as the enums are read);
    anything else says what is allowed (a bare KeyError read "field 'side' = 'long': 'long'" in
    the quarantine reason)."""
    text = str(value).strip().lower()
    if text not in ("buy", "sell"):
        raise ValueError(f"{value!r} is not an order side (allowed: buy, sell)")
    return text


def finite_time(value: Any) -> float:
    """Epoch seconds, finite: float('NaN') reads the text 'NaN', and SQLite stores a NaN back
    as NULL, so every later commit of the symbol failed (NOT NULL) and it crash-looped with its
    position open (found by review)."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError("not a finite time")
    return seconds


_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '(.*?)' with text '(.*)'", re.DOTALL)


@contextmanager
def utf8_rows(model: Any, where: Any, symbol: str) -> Iterator[None]:
    """SQLite hands a TEXT value that is not UTF-8 (a hand edit in another encoding, a damaged
    page) back as OperationalError while the row is fetched, not as a value a reader could
    name: found by review, one such byte in a symbol's row failed the account's start (its
    entry gate is seeded from every symbol's rows) and crash-looped the symbol's actor. A BLOB
    that is not UTF-8 in a text column (`X'FF41'` written by hand) comes back as bytes, and
    peewee's decoding of it raised a bare UnicodeDecodeError the same way (found by review).
    Both are raised as CorruptRow naming the table, the row (among the rows `where` selects)
    and the column, so only that symbol is quarantined. Other database errors pass."""
    table = model._meta.table_name
    try:
        yield
    except (sqlite3.OperationalError, pw.OperationalError) as exc:
        match = _NOT_UTF8.search(str(exc))
        if match is None:
            raise
        column, text = match.groups()
        found = _undecodable(model, where, column)
        raise CorruptRow(table, found[0] if found else "?", column, text[:80],
                         "not UTF-8 text", symbol) from None
    except UnicodeDecodeError:
        for column in model._meta.columns:
            if (found := _undecodable(model, where, column)) is not None:
                raise CorruptRow(table, found[0], column, found[1].decode("utf-8", "replace")[:80],
                                 "not UTF-8 text", symbol) from None
        raise


def _undecodable(model: Any, where: Any, column: str) -> tuple[str, bytes] | None:
    """The key and the bytes of the first row `where` selects whose `column` is not UTF-8."""
    field = model._meta.columns.get(column)
    if field is None:
        return None
    key = model._meta.primary_key
    rows = model.select(key.cast("BLOB"), field.cast("BLOB")).where(where).tuples()
    for raw_key, raw in rows:
        if isinstance(raw, bytes) and not _utf8(raw):
            return (raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes)
                    else str(raw_key)), raw
    return None


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def selected_rows(select: Prepared, symbol: str, *values: Any) -> list[Any]:
    """`select(symbol, *values)`: a row that is not UTF-8 is raised as CorruptRow naming it
    among the rows the select's own where picks (`utf8_rows`)."""
    with utf8_rows(select.model, select.where(symbol, *values), symbol):
        return select(symbol, *values)


def _actor_row(symbol: str) -> ActorStateRow | None:
    """The symbol's actor_state row. SQLite keeps a non-finite number written to an INTEGER
    column as REAL, and peewee's int() of it raises while building the row, before any field
    reader: named here as a CorruptRow (found by review: it crash-looped the symbol)."""
    try:
        rows = selected_rows(ACTOR_ROW, symbol)
        return rows[0] if rows else None
    except ArithmeticError as exc:
        for field in (ActorStateRow.order_seq, ActorStateRow.close_attempts,
                      ActorStateRow.incarnation, ActorStateRow.restarts):
            try:
                ActorStateRow.select(field).where(ACTOR_ROW.where(symbol)).tuples().get()
            except ArithmeticError:
                raise CorruptRow("actor_state", symbol, field.name, "inf",
                                 "not a finite number") from exc
        raise CorruptRow("actor_state", symbol, "?", None, str(exc)) from exc


def load_state(symbol: str) -> SymbolState:
    row = _actor_row(symbol)
    if row is None:
        return SymbolState(symbol=symbol)
    # the counts as stored: peewee's int() would truncate a REAL 3.5 that SQLite kept there
    db = ActorStateRow._meta.database
    row.order_seq, row.close_attempts = db.execute_sql(
        f"SELECT order_seq, close_attempts FROM actor_state WHERE symbol = {db.param}",
        (symbol,)).fetchone()
    r = _Reader("actor_state", row, symbol)
    state = SymbolState(
        symbol=symbol,
        phase=r.enum("phase", Phase),
        order_seq=r.get("order_seq", whole_count),
        cooldown_until=r.get("cooldown_until", finite_time),
        close_attempts=r.get("close_attempts", whole_count),
        next_close_at=r.get("next_close_at", lambda v: None if v is None else finite_time(v)),
        close_reason=row.close_reason,
        last_close_error=row.last_close_error,
        needs_stop=r.flag("needs_stop"),
        stop_price=r.opt_dec("stop_price"),
        take_profit_price=r.opt_dec("take_profit_price"),
        quarantined=r.flag("quarantined"),
        quarantine_reason=row.quarantine_reason,
        position=(position := _position(symbol)),
        trailing=_trailing(symbol, position),
        orders=_orders(symbol),
        fees_owed=_fees_owed(symbol, row.fees_owed),
    )
    return _phase_of_open_position(state)


def _phase_of_open_position(state: SymbolState) -> SymbolState:
    """FLAT means no contracts, and no committed state has a position in it (every move to FLAT
    drops the position). A FLAT row beside an open position row is an actor_state row that was
    lost (the start's claim writes a fresh one, phase `flat`) or edited: found by review, the
    entry guard, which asks the phase, then sent a new entry on top of the open position. It is
    restored OPEN (the position is held; its stop and exits act, reconciliation checks it)."""
    if state.phase is not Phase.FLAT or state.position is None:
        return state
    logger.warning("{}: actor_state row says flat but positions row {!r} is open; restored as "
                   "open", state.symbol, state.position.position_id)
    return replace(state, phase=Phase.OPEN)


def _fees_owed(symbol: str, text: Any) -> tuple[FeeOwed, ...]:
    """`actor_state.fees_owed` (NULL: none, as in rows written before schema 4)."""
    from storage.grid_codec import load_owed  # which imports this module (CorruptRow)

    if text is None:
        return ()
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CorruptRow("actor_state", symbol, "fees_owed", text[:80] if isinstance(text, str)
                         else text, f"not JSON: {exc}") from exc
    return load_owed(data, "actor_state", symbol, "fees_owed", legs=False)


def _position(symbol: str) -> Position | None:
    _no_unknown_status(UNKNOWN_POSITION_STATUS, symbol, _position_status)
    rows = selected_rows(OPEN_POSITIONS, symbol)
    if not rows:
        return None
    if len(rows) > 1:
        raise CorruptRow("positions", symbol, "status", "open", "more than one open position")
    row = rows[0]
    r = _Reader("positions", row, row.position_id)
    return Position(
        position_id=row.position_id,
        side=r.enum("side", Side),
        contracts=r.dec("contracts"),
        entry_price=r.dec("entry_price"),
        opened_at=r.get("opened_at", finite_time),
        fees=r.dec("fees"),
        realized_pnl=r.dec("realized_pnl"),
    )


def _trailing(symbol: str, position: Position | None) -> TrailingStop | None:
    """The open position's trailing stop. A row of another position is never applied to this
    one (its activation and trigger come from that position's entry): with no position open it
    is left out with a warning (the next entry arms its own; it was armed from a stale row
    before), beside an open position of another id it raises CorruptRow naming both ids."""
    rows = selected_rows(TRAILING_ROW, symbol)
    if not rows:
        return None
    row = rows[0]
    r = _Reader("trailing_stops", row, symbol)
    if position is None:
        logger.warning("{}: trailing_stops row of position {!r} ignored: no position is open",
                       symbol, row.position_id)
        return None
    if row.position_id != position.position_id:
        raise CorruptRow("trailing_stops", symbol, "position_id", row.position_id,
                         f"not the open position {position.position_id!r}")
    return TrailingStop(
        state=r.enum("state", TrailingState),
        activation_price=r.dec("activation_price"),
        callback_pct=r.dec("callback_pct"),
        best_price=r.opt_dec("best_price"),
        trigger_price=r.opt_dec("trigger_price"),
    )


def _orders(symbol: str) -> tuple[Order, ...]:
    _no_unknown_status(UNKNOWN_ORDER_STATUS, symbol, lambda v: parse_enum(OrderStatus, v))
    rows = selected_rows(LIVE_ORDERS, symbol)
    out = []
    for row in rows:
        r = _Reader("orders", row, row.client_order_id, symbol)
        out.append(
            Order(
                client_order_id=row.client_order_id,
                purpose=r.get("purpose", parse_purpose),  # legacy names too (trading/orders.py)
                side=r.get("side", order_side),
                amount=r.dec("amount"),
                price=r.opt_dec("stop_price"),  # the one-way table stores a stop's trigger only
                reduce_only=r.flag("reduce_only"),
                status=r.enum("status", OrderStatus),
                exchange_id=row.exchange_id,
                filled=r.dec("filled"),
                average=r.opt_dec("average"),
                fee=r.dec("fee"),
                position_id=row.position_id,
                created_at=r.get("created_at", finite_time),
                last_error=row.last_error,
                replaces=row.replaces,
                # NULL: not being cancelled (rows written before schema 7 too)
                cancel_requested_at=r.get("cancel_requested_at",
                                          lambda v: None if v is None else finite_time(v)),
            )
        )
    # placed order, as the state held them (the last stop is the newest: `active_stop`): the
    # ids' sequence number (-10s after -9s), not created_at, which a wall clock stepped back
    # (NTP, a VM restore) put out of order; an id of another form sorts first by created_at
    out.sort(key=lambda o: (placement_key(o.client_order_id)[0], o.created_at,
                            o.client_order_id))
    return tuple(out)


def _no_unknown_status(unknown: Prepared, symbol: str, parse: Callable[[Any], Any]) -> None:
    """A position or order row of the symbol whose status is NULL or none we know raises
    CorruptRow (the symbol is quarantined, naming the row). Left out of the restore, such an
    order, perhaps the position's resting stop, read as nobody's on the exchange and was
    cancelled as an orphan by the restart's reconciliation; such a position was adopted again
    under a new id (P&L and fees reset). An index-only scan of the symbol's (symbol, status)
    entries: about 17 ms per 100,000 order rows of one symbol, once per actor start."""
    model = unknown.model
    key = model._meta.primary_key
    rows = selected_rows(unknown, symbol)
    if rows:
        row = rows[0]
        table, row_key = model._meta.table_name, getattr(row, key.name)
        _Reader(table, row, row_key, symbol).get("status", parse)
        raise CorruptRow(table, row_key, "status", row.status,
                         "spelled unusually (the bot lower-cases statuses when it opens the "
                         "database)", symbol)


def _position_status(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("open", "closed"):
        raise ValueError(f"{value!r} is not a position status (allowed: open, closed)")
    return text
