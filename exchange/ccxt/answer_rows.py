"""An all-symbol answer read row by row, once for every reader (open orders, positions,
tickers) when ccxt 4.5.90 cannot parse it whole.

ccxt parses every row of an answer before it hands any back, and one row it cannot read (a
price that is no number: Precise raises ValueError) failed the whole read: the sweep, the
shared position read, every symbol's REST price, for as long as the venue listed that row,
most often of a market traded by hand on the account. Then the answer ccxt kept
(`last_json_response`) is parsed one row at a time: such a row of a symbol the account does
not trade is skipped, said once per symbol. A row of a symbol it trades fails the read with
one line naming the symbol and the row; so does one that names no symbol (ours?), and a
`null` row (an answer of a shape the venue never gives). A listing that kept no row at all,
having skipped one (`Keep.failed`), stays an unreadable answer, judged over the whole listing
(every page, every settle coin) by the one who reads it all: never "no orders" or "no
positions". These rules were written three times and had drifted apart.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """The whole answer's failure a row was skipped for: raised when the listing read no row."""
    read: int = 0
    """Rows read over the whole listing, whole answers ccxt parsed among them (`count`), and
    a flat Binance row ccxt leaves out."""
    strict: bool = True
    """A row of a traded symbol, or one naming none, fails the read (False: skipped too, as a
    ticker row is: one symbol unpriced, the others priced)."""
    apart: dict[str, str] | None = None
    """A shared read's (Binance's one all-symbol position read, every actor's): the traded
    symbols whose row cannot be read, each with its one-line error, kept here instead of
    raised, so that it fails that symbol's read alone (lookup.of_symbols)."""

    def count(self, rows: list[Any]) -> list[Any]:
        """`rows`, an answer ccxt parsed whole, counted as read."""
        self.read += len(rows)
        return rows

    def check(self) -> None:
        """Raise the whole answer's failure when a listing that skipped a row read none."""
        if self.failed is not None and not self.read:
            raise self.failed


class Page(list[Any]):
    """The rows read from one page of an answer read row by row, with what the paging needs
    (bybit_pages.py): how many rows the venue `listed` on it, the skipped ones too (a full
    page read short is no last page), and the next page's `cursor` it named."""

    def __init__(self, rows: list[Any], listed: int, cursor: str | None) -> None:
        super().__init__(rows)
        self.listed = listed
        self.cursor = cursor


def rows_of(answer: Any) -> tuple[list[Any] | None, str | None]:
    """The rows of a raw answer (Binance's array, Bybit's `result.list`; None: neither) and
    the next page's cursor Bybit names."""
    if isinstance(answer, list):
        return answer, None
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        return None, None
    return result["list"], result.get("nextPageCursor") or None


def parsed(ex: ccxt.Exchange, rows: list[Any], parse: Callable[[dict[str, Any]], list[Any]],
           keep: Keep, failed: BaseException, kind: str) -> list[Any]:
    """`parse(row)` of every row of `rows` that can be read, the others skipped or raised as
    `keep` says (`failed`: the whole answer's failure; `kind`: the rows' kind, for the log).
    No row unreadable: ccxt failed on something else of the answer, raised as it is (an empty
    list read so was "no open orders")."""
    out: list[Any] = []
    before = keep.read
    for index, row in enumerate(rows):
        try:
            if not isinstance(row, dict):  # a `null` row: an answer of a shape never given
                raise TypeError(f"a row that is {type(row).__name__}, not an object")
            out += parse(row)
            keep.read += 1
        except UNREADABLE as exc:
            _skip(ex, row, f"row {index + 1} of {len(rows)}", exc, keep, failed, kind)
    if keep.read - before == len(rows):
        raise failed  # not a row's failure: none to skip it for
    return out


def skip(ex: ccxt.Exchange, row: Any, where: str, exc: BaseException, keep: Keep,
         kind: str) -> None:
    """Skip one row a reader found unreadable itself (no parser raised for it: Binance's price
    ticker, whose "NaN" ccxt passes on), as `keep` says; the row's own error is the one a
    listing that keeps no row raises."""
    _skip(ex, row, where, exc, keep, exc, kind)


def _skip(ex: ccxt.Exchange, row: Any, where: str, exc: BaseException, keep: Keep,
          failed: BaseException, kind: str) -> None:
    """Skip an unreadable row of a symbol the account does not trade (said once per symbol);
    raise for one it trades, or one naming no symbol (ours?), one line naming it and the row;
    a `null` row fails the read as ccxt failed it (an answer of a shape never given)."""
    if keep.strict and not isinstance(row, dict):
        raise failed
    market_id = str(row.get("symbol") or "")[:40] if isinstance(row, dict) else ""
    symbol = ex.safe_symbol(market_id, None, None, "swap") if market_id else None
    if keep.strict and (keep.traded is None or symbol is None or symbol in keep.traded):
        error = (f"{ex.id}: unreadable answer: the {kind} row "
                 f"{f'of {symbol}' if symbol else 'naming no symbol'} ({where}{_named(row)}): "
                 f"{type(exc).__name__}: {exc}")
        if keep.apart is None or symbol is None:
            raise ccxt.BadResponse(error)
        keep.apart.setdefault(symbol, error)  # (a shared read: that symbol's reads fail)
        return
    keep.failed = keep.failed or failed
    symbol = symbol or "no symbol"
    if f"{kind} {symbol}" not in keep.said:
        keep.said.add(f"{kind} {symbol}")
        logger.warning("{}: skipped an unreadable {} row of {}, {} ({}: {})", ex.id, kind, symbol,
                       "a symbol this account does not trade" if keep.strict else
                       "the other symbols are read", type(exc).__name__, exc)


def _named(row: Any) -> str:
    """The ids a row names that tell it apart from the other rows of its symbol."""
    if not isinstance(row, dict):
        return ""
    ids = [f"{key} {str(row[key])[:40]}" for key in ("orderLinkId", "clientOrderId", "orderId",
                                                      "positionIdx", "positionSide")
           if row.get(key) not in (None, "")]
    return f", {', '.join(ids[:2])}" if ids else ""


def parsed_trade(ex: ccxt.Exchange, row: Any, market: Any) -> dict[str, Any]:
    """ccxt's parse of one trade row (own_fills._apart); one it cannot parse (a "NaN" price:
    Precise's ValueError) as a trade marked `unreadable`, naming it: own_fills.timed refuses
    it (the fills poll skips it with one line, a lookup raises), and it keeps the page full, so
    its cursor is kept. Its whole page failed the poll on every attempt, for every symbol."""
    try:
        return dict(ex.parse_trade(row, market))
    except UNREADABLE as exc:
        if not isinstance(row, dict):  # a `null` row: an answer of a shape never given
            raise
        info = row
        market_id = str(info.get("symbol") or "")[:40]
        trade_id = str(info.get("execId") or info.get("id") or "")[:40]
        symbol = ex.safe_symbol(market_id, None, None, "swap") if market_id else None
        at = ex.safe_integer(info, "execTime", ex.safe_integer(info, "time"))
        return {"id": trade_id or None, "symbol": symbol, "info": info, "timestamp": at,
                "unreadable": f"trade {trade_id or '(no id)'} of {symbol} cannot be read "
                              f"({type(exc).__name__}: {exc})"}
