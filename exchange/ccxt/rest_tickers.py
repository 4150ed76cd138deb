"""The all-symbol REST ticker read, row by row when ccxt cannot parse its answer whole.

Binance's ticker/24hr without a symbol lists every market of the venue, Bybit's tickers every
market of the category, and ccxt 4.5.90 parses every row before it picks the symbols asked
for: one row whose price is no number (a "NaN") raises out of its parser (Precise: ValueError)
and the whole read failed on every attempt, so no symbol had a REST price (the feed while the
streams are down, the symbols the stream leaves silent) for as long as the venue listed that
one row so, most often of a market the bot does not even trade. Then the answer ccxt kept
(`last_json_response`) is parsed one row at a time, as ccxt's own `parse_tickers` would
(answer_rows.py): an unreadable row is skipped, said once per market, whatever its symbol (one
the bot trades goes unpriced, the others are priced), and the others are returned (an answer
none of whose rows can be read stays an unreadable answer).
"""

from __future__ import annotations

from typing import Any

from exchange.ccxt.answer_rows import Keep, parsed, rows_of
from exchange.ccxt.errors import UNREADABLE


def read(ex: Any, symbols: list[str] | None, said: set[str]) -> dict[str, Any]:
    """ccxt's `fetch_tickers(symbols)` on `ex` (the calling thread's own instance); when its
    parser fails on the answer, the rows it can read (`said`: markets already warned of)."""
    ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
    ex.last_json_response = None  # to an earlier request taken for this one's
    try:
        return dict(ex.fetch_tickers(symbols))
    except UNREADABLE as whole:
        rows, _ = rows_of(ex.last_json_response)
        if rows is None:  # raised before an answer came, or an answer of another shape
            raise
        failed = whole
    keep = Keep(None, said, strict=False)  # a ticker row: skipped whatever its symbol
    read_rows = parsed(ex, rows, lambda row: [ex.parse_tickers([row], symbols)], keep, failed,
                       "ticker")
    if not keep.read:  # not one row readable: an unreadable answer, never "no prices"
        raise failed
    return {symbol: ticker for one in read_rows for symbol, ticker in one.items()}
