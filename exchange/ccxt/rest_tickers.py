"""The all-symbol REST ticker read, row by row when ccxt cannot parse its answer whole.

Binance's ticker/24hr without a symbol lists every market of the venue, Bybit's tickers every
market of the category, and ccxt 4.5.90 parses every row before it picks the symbols asked
for: one row whose price is no number (a "NaN") raises out of its parser (Precise: ValueError)
and the whole read failed on every attempt, so no symbol had a REST price (the feed while the
streams are down, the symbols the stream leaves silent) for as long as the venue listed that
one row so, most often of a market the bot does not even trade. Then the answer ccxt kept
(`last_json_response`) is parsed one row at a time, as ccxt's own `parse_tickers` would: an
unreadable row is skipped, said once per market, and the others are returned (an answer
none of whose rows can be read stays an unreadable answer).
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from exchange.ccxt.errors import UNREADABLE


def read(ex: Any, symbols: list[str] | None, said: set[str]) -> dict[str, Any]:
    """ccxt's `fetch_tickers(symbols)` on `ex` (the calling thread's own instance); when its
    parser fails on the answer, the rows it can read (`said`: markets already warned of)."""
    ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
    ex.last_json_response = None  # to an earlier request taken for this one's
    try:
        return dict(ex.fetch_tickers(symbols))
    except UNREADABLE as whole:
        rows = _rows(ex.last_json_response)
        if rows is None:  # raised before an answer came, or an answer of another shape
            raise
        failed = whole
    tickers: dict[str, Any] = {}
    read_rows = 0
    for row in rows:
        try:
            tickers.update(ex.parse_tickers([row], symbols))
            read_rows += 1
        except UNREADABLE as exc:
            name = str(row.get("symbol") if isinstance(row, dict) else row)[:40]
            if f"ticker {name}" not in said:
                said.add(f"ticker {name}")
                logger.warning("{}: skipped an unreadable ticker row of {} in the all-symbol "
                               "ticker read ({}: {}); the other symbols' prices are read",
                               ex.id, name, type(exc).__name__, exc)
    if not read_rows:  # not one row readable: an unreadable answer, never "no prices"
        raise failed
    return tickers


def _rows(answer: Any) -> list[Any] | None:
    """The ticker rows of a raw answer: Binance's array, Bybit's `result.list`."""
    if isinstance(answer, list):
        return answer
    result = answer.get("result") if isinstance(answer, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    return rows if isinstance(rows, list) else None
