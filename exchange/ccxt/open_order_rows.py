"""The all-symbol open-order read, row by row when ccxt cannot parse its answer whole.

The sweep's open-order read lists every order of the account, orders placed by hand on
symbols the bot does not trade among them, and ccxt 4.5.90 parses every row before it hands
any back: one row whose price is no number (a "NaN": Precise raises ValueError) failed the
whole read on every attempt, so no sweep ran (no orphan cancelled, no missing stop seen) for
as long as that order rested. Then the answer ccxt kept (`last_json_response`) is parsed one
row at a time, as ccxt's own `parse_orders` would, by the rules of answer_rows.py; a Bybit
page so read names the rows the venue listed on it and the next page (answer_rows.Page): a
full page read short failed the read, lest the paging stop there. A whole read none of whose
rows can be read (`Keep.failed`, checked by `lookup.open_orders`) stays unreadable: never "no
open orders".
"""

from __future__ import annotations

from typing import Any

import ccxt

from exchange.ccxt.answer_rows import Keep, Page, parsed, rows_of
from exchange.ccxt.errors import UNREADABLE


def read(ex: ccxt.Exchange, since: Any, limit: Any, params: dict[str, Any],
         keep: Keep) -> list[dict[str, Any]]:
    """`ex.fetch_open_orders(None, since, limit, params)` on `ex` (the calling thread's own
    instance); when its parser fails on the answer, the rows it can read (see module)."""
    ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
    ex.last_json_response = None  # to an earlier request taken for this one's
    try:
        return keep.count(list(ex.fetch_open_orders(None, since, limit, params)))
    except UNREADABLE as whole:
        answer = ex.last_json_response
        if ex.id not in ("bybit", "binanceusdm") or answer is None:
            raise
        failed = whole
    rows, cursor = rows_of(answer)
    if rows is None:
        raise failed
    orders = parsed(ex, rows, lambda row: ex.parse_orders([row]), keep, failed, "order")
    return Page(ex.filter_by_symbol_since_limit(ex.sort_by(orders, "timestamp"), None, since,
                                                limit), len(rows), cursor)
