"""The all-symbol open-order read, row by row when ccxt cannot parse its answer whole.

The sweep's open-order read lists every order of the account, orders placed by hand on
symbols the bot does not trade among them, and ccxt 4.5.90 parses every row before it hands
any back: one row whose price is no number (a "NaN": Precise raises ValueError) failed the
whole read on every attempt, so no sweep ran (no orphan cancelled, no missing stop seen) for
as long as that order rested. Then the answer ccxt kept (`last_json_response`) is parsed one
row at a time, as ccxt's own `parse_orders` would: such a row of a symbol the account does
not trade is skipped, said once per symbol. A row of a traded symbol, a row without its
symbol, a `null` row and a full Bybit page read short (it would end the paging there) still
fail the read; so does a whole read none of whose rows can be read (`Keep.failed`, checked
by `lookup.open_orders`): never "no open orders".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt.errors import UNREADABLE


@dataclass
class Keep:
    """What one all-symbol read may skip, and what it did skip."""

    traded: list[str] | None
    """The symbols the account trades (None: any, so nothing is skipped)."""
    said: set[str]
    """The gateway's record of what was already warned of (one warning per symbol)."""
    failed: BaseException | None = field(default=None)
    """The whole answer's failure a row was skipped for: raised when the read kept no row."""


def read(ex: ccxt.Exchange, since: Any, limit: Any, params: dict[str, Any],
         keep: Keep) -> list[dict[str, Any]]:
    """`ex.fetch_open_orders(None, since, limit, params)` on `ex` (the calling thread's own
    instance); when its parser fails on the answer, the rows it can read (see module)."""
    ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
    ex.last_json_response = None  # to an earlier request taken for this one's
    try:
        return list(ex.fetch_open_orders(None, since, limit, params))
    except UNREADABLE as whole:
        answer = ex.last_json_response
        if ex.id not in ("bybit", "binanceusdm") or answer is None:
            raise
        failed = whole
    rows, cursor = _rows(answer)
    if rows is None:
        raise failed
    parsed: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, dict):  # a `null` row: the answer is unreadable, as before
            raise failed
        try:
            parsed += ex.parse_orders([row])  # since and limit: after, as ccxt does
        except UNREADABLE as exc:
            _skip(ex, row, exc, keep, failed)
    if len(parsed) < len(rows) and ex.id == "bybit" and limit is not None and len(rows) >= limit:
        raise failed  # a full page read short would end the paging there (bybit_pages.py)
    kept = list(ex.filter_by_symbol_since_limit(ex.sort_by(parsed, "timestamp"), None, since,
                                                limit))
    if cursor and kept:  # where the paging looks for the next page (bybit_pages.py)
        kept[0]["info"] = {**kept[0]["info"], "nextPageCursor": cursor}
    return kept


def _rows(answer: Any) -> tuple[list[Any] | None, Any]:
    """The order rows of a raw answer (Binance's array, Bybit's `result.list`) and the next
    page's cursor Bybit names."""
    if isinstance(answer, list):
        return answer, None
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        return None, None
    return result["list"], result.get("nextPageCursor")


def _skip(ex: ccxt.Exchange, row: dict[str, Any], exc: BaseException, keep: Keep,
          failed: BaseException) -> None:
    """Skip an unreadable order row of a symbol the account does not trade (said once per
    symbol); raise `failed` for one it trades, or one that names no symbol (ours?)."""
    market_id = str(row.get("symbol") or "")[:40]
    symbol = ex.safe_symbol(market_id, None, None, "swap")
    if keep.traded is None or not market_id or symbol in keep.traded:
        raise failed
    keep.failed = keep.failed or failed
    if f"order {symbol}" not in keep.said:
        keep.said.add(f"order {symbol}")
        logger.warning("{}: skipped an unreadable open order of {}, a symbol this account does "
                       "not trade ({}: {})", ex.id, symbol, type(exc).__name__, exc)
