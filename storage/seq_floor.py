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
from dataclasses import replace
from typing import Any

from loguru import logger

from storage.models import EventRow, FillRow, OrderRow, PositionRow
from storage.restore import utf8_rows, whole_count
from trading.client_ids import symbol_code
from trading.orders import OrderPurpose

WINDOW = 1000
"""Newest journal records and ledger fills of a symbol looked at for ids (a grid keeps no row
of an order that ended unfilled; the sequence only grows, so the newest rows hold the highest;
both tables are read newest first along their symbol index, without reading the rest)."""

_LETTER_SET = "".join(sorted({purpose.letter for purpose in OrderPurpose}))

_SOURCES = (
    (OrderRow, "SELECT client_order_id FROM orders WHERE symbol=?"),
    (PositionRow, "SELECT position_id FROM positions WHERE symbol=?"),
    (FillRow, "SELECT client_order_id FROM fills WHERE symbol=? ORDER BY id DESC "
              f"LIMIT {WINDOW}"),
)
_STORED = "SELECT order_seq FROM actor_state WHERE symbol=?"
_JOURNAL = f"SELECT id, data FROM events WHERE symbol=? ORDER BY id DESC LIMIT {WINDOW}"


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


def highest_used(conn: Any, symbol: str) -> tuple[int, str | None]:
    """The highest sequence number among the symbol's stored ids, and where it was found
    (``orders row '<id>'``); (0, None) when there is none."""
    code = symbol_code(symbol)
    tail_of = f"-{code}"
    best, where = 0, None
    for model, sql in _SOURCES:
        with utf8_rows(model, model.symbol == symbol, symbol):  # named: storage/restore.py
            keys = conn.execute(sql, (symbol,)).fetchall()
        for (key,) in keys:
            seq = _seq(key, tail_of)
            if seq > best:
                best, where = seq, f"{model._meta.table_name} row {key!r}"
    pattern = re.compile(rf'-{re.escape(code)}-([0-9]{{1,18}})[{_LETTER_SET}](?=-rest"|")')
    with utf8_rows(EventRow, EventRow.symbol == symbol, symbol):
        journal = conn.execute(_JOURNAL, (symbol,)).fetchall()
    for row_id, data in journal:
        if not isinstance(data, str):
            continue
        for match in pattern.finditer(data):
            if int(match.group(1)) > best:
                best, where = int(match.group(1)), f"events row {row_id}"
    return best, where


def at_least_used(conn: Any, symbol: str, state: Any) -> Any:
    """`state` (either style's) with `order_seq` raised to the highest sequence already used by
    a stored row of the symbol, or kept in `actor_state.order_seq` (the grid's fence writes it
    there too: its document lost, that row still knows), with one warning line naming where;
    `state` unchanged when it is already there (nearly always)."""
    used, where = highest_used(conn, symbol)
    row = conn.execute(_STORED, (symbol,)).fetchone()  # a number: no text to decode
    try:
        stored = 0 if row is None or row[0] is None else whole_count(row[0])
    except (ValueError, TypeError, OverflowError):
        stored = 0  # the one-way restore names such a value; the grid's document rules
    if stored > used:
        used, where = stored, "actor_state row's order_seq"
    if used <= state.order_seq:
        return state
    logger.warning("{}: restored order sequence {} is below {} already used ({}); the next "
                   "client order id continues after it", symbol, state.order_seq, used, where)
    return replace(state, order_seq=used)
