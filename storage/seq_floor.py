"""The highest order sequence number a symbol's stored rows have already used.

A symbol's client order ids end ``-<symbol code>-<seq><letter>`` (trading/client_ids.py) and
its next id takes `order_seq + 1`. `order_seq` lives in `actor_state` (and, for the hedge grid,
in its `grid_state` document too). When that row is gone (deleted by hand, lost, or a symbol
traded by an earlier run under the same data dir that comes back with no row), the restore used
to start the sequence at 0 and mint ids already used: the venue refuses a duplicate, and the
bot's own "did my order land?" lookup by client id could find the OLD order and conclude
wrongly; a position keyed by a reused entry id overwrote the closed row of the old one (its
P&L), and the ledger counted the old fills as this position's.

`Repository.load` (the one restore path: cold start, restart, reconcile-only) therefore never
hands a state back whose `order_seq` is below a sequence number already used by a stored row of
the symbol: its orders (every one-way order is kept with its final status) and positions (keyed
by their entry's id: ``<id>``, ``adopted-<id>``, ``<id>-rest``), read whole along the symbol's
index, ids only (about 0.2 s per 100,000 order rows of one symbol, once per actor start; a
symbol trading ten round trips a day stores ~11,000 a year), and the newest `WINDOW` ledger
fills and journal records (which name the grid's orders that ended without a fill: the grid
keeps only its live orders in its document), and `actor_state.order_seq` (the grid's fence
writes it too).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from typing import Any

import peewee as pw
from loguru import logger

from storage.models import ActorStateRow, EventRow, FillRow, OrderRow, PositionRow
from storage.restore import utf8_rows, whole_count
from trading.client_ids import symbol_code
from trading.orders import OrderPurpose

WINDOW = 1000
"""Newest journal records and ledger fills of a symbol looked at for ids (a grid keeps no row
of an order that ended unfilled; the sequence only grows, so the newest rows hold the highest;
both tables are read newest first along their symbol index, without reading the rest)."""

_LETTER_SET = "".join(sorted({purpose.letter for purpose in OrderPurpose}))

_SOURCES = (
    (OrderRow, "SELECT 'orders', client_order_id FROM orders WHERE symbol=?"),
    (PositionRow, "SELECT 'positions', position_id FROM positions WHERE symbol=?"),
    (FillRow, "SELECT * FROM (SELECT 'fills', client_order_id FROM fills WHERE symbol=? "
              f"ORDER BY id DESC LIMIT {WINDOW}) AS f"),
    (EventRow, "SELECT * FROM (SELECT 'events row ' || CAST(id AS TEXT), data FROM events "
               f"WHERE symbol=? ORDER BY id DESC LIMIT {WINDOW}) AS e"),
    (ActorStateRow, "SELECT 'actor_state', CAST(order_seq AS TEXT) FROM actor_state "
                    "WHERE symbol=?"),
)
_ALL = " UNION ALL ".join(sql for _, sql in _SOURCES)
"""Every source in one statement: one round trip a restore (on PostgreSQL each statement is
one), ~0.2 ms of a symbol's start with a short history."""


def _seq(key: object, tail_of: str) -> int:
    """The sequence number of one of the symbol's ids in a column (``<id>``, ``adopted-<id>``,
    ``<id>-rest``); -1 for any other text (``trade-<id>``, the emergency path's, a hand-made
    one). String operations, not a regular expression: this runs once per stored order."""
    if not isinstance(key, str):
        return -1
    if key.endswith("-rest"):
        key = key[:-5]
    head, _, tail = key.rpartition("-")
    digits = tail[:-1]
    if (not head.endswith(tail_of) or not digits.isascii() or not digits.isdigit()
            or tail[-1:] not in _LETTER_SET or len(digits) > 18):
        return -1
    return int(digits)


def _rows(conn: Any, symbol: str) -> list[tuple[str, Any]]:
    """(source, text) of every source. Text that is not UTF-8 fails the whole statement on
    SQLite; the sources are then read one by one, so the row is named (storage/restore.py
    `utf8_rows`: CorruptRow, the symbol quarantined as unreadable)."""
    try:
        return list(conn.execute(_ALL, (symbol,) * len(_SOURCES)).fetchall())
    except (sqlite3.OperationalError, pw.OperationalError) as exc:
        if "decode" not in str(exc):
            raise
    rows: list[tuple[str, Any]] = []
    for model, sql in _SOURCES:
        with utf8_rows(model, model.symbol == symbol, symbol):
            rows += conn.execute(sql, (symbol,)).fetchall()
    return rows


def highest_used(conn: Any, symbol: str) -> tuple[int, str | None]:
    """The highest sequence number among the symbol's stored ids (and `actor_state.order_seq`,
    which the grid's fence writes too), and where it was found (``orders row '<id>'``);
    (0, None) when there is none."""
    code = symbol_code(symbol)
    tail_of = f"-{code}"
    journal = re.compile(rf'-{re.escape(code)}-([0-9]{{1,18}})[{_LETTER_SET}](?=-rest"|")')
    best, where = 0, None
    for source, text in _rows(conn, symbol):
        if not isinstance(text, str):
            continue  # a BLOB: no id of ours (peewee's readers name one that is not UTF-8)
        if source == "actor_state":
            try:
                seq = whole_count(text)
            except (ValueError, TypeError, OverflowError):
                continue  # the one-way restore names such a value; the grid's document rules
            if seq > best:
                best, where = seq, "actor_state row's order_seq"
        elif source.startswith("events"):
            for match in journal.finditer(text):
                if int(match.group(1)) > best:
                    best, where = int(match.group(1)), source
        elif (seq := _seq(text, tail_of)) > best:
            best, where = seq, f"{source} row {text!r}"
    return best, where


def at_least_used(conn: Any, symbol: str, state: Any) -> Any:
    """`state` (either style's) with `order_seq` raised to the highest sequence already used by
    a stored row of the symbol, with one warning line naming where; `state` unchanged when it
    is already there (nearly always)."""
    used, where = highest_used(conn, symbol)
    if used <= state.order_seq:
        return state
    logger.warning("{}: restored order sequence {} is below {} already used ({}); the next "
                   "client order id continues after it", symbol, state.order_seq, used, where)
    return replace(state, order_seq=used)
