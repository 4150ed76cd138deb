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

Binance USDⓈ-M (`RestTickers`): the prices come from the price ticker, `GET /fapi/v2/ticker/
price` without a symbol (ccxt's `fetch_last_prices`), weight 2, not from ticker/24hr, weight
40: at the default share the REST feed could poll only every 4.5 s. The 24 h quote volume
(what `strategy.min_volume` is compared with; nothing else reads it) still comes from
ticker/24hr, only when it is used (`volume_every_s`; None: never) and then once in that long
(exchange/budget_venues.py VOLUME_EVERY_S), each price carrying the last volume read. ccxt
passes a "NaN" price of that answer on as a float NaN: such a row (or one that is no object,
or names no market) is skipped here with one line per market, the others priced, and an
answer without one readable row is an unreadable answer, never "no prices".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt
from loguru import logger

from exchange.budget import BudgetRefused
from exchange.budget_venues import VOLUME_EVERY_S
from exchange.ccxt import convert
from exchange.ccxt.answer_rows import Keep, parsed, rows_of, skip
from exchange.ccxt.errors import UNREADABLE
from exchange.records import VenueTicker

__all__ = ["VOLUME_EVERY_S", "RestTickers", "last_prices", "read"]
PRICE_TICKER_VENUES = frozenset({"binanceusdm"})
"""Venues whose all-symbol prices come from their price ticker (`last_prices`)."""
Run = Callable[[Callable[[Any], Any], str], Any]


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


def last_prices(ex: Any, symbols: list[str] | None, said: set[str]) -> dict[str, VenueTicker]:
    """Binance's price ticker for every market (ccxt's `fetch_last_prices`: no symbol is sent,
    weight 2), the prices of `symbols` (None: all) as tickers without a volume. The price is
    read from the answer's own digits (ccxt makes a float of it)."""
    ex.enableLastJsonResponse = True
    ex.last_json_response = None
    try:
        got: dict[str, Any] | None = dict(ex.fetch_last_prices(symbols))
    except UNREADABLE:
        got = None  # each readable row is parsed on its own below
    rows, _ = rows_of(ex.last_json_response)
    if rows is None:
        raise ccxt.BadResponse(f"{ex.id} ticker/price: an answer that lists no prices")
    keep, bad = Keep(None, said, strict=False), set()  # bad: the markets of unreadable rows
    for index, row in enumerate(rows):
        why = _unreadable(row)
        if why is None:
            keep.read += 1
            continue
        skip(ex, row, f"row {index + 1} of {len(rows)}", why, keep, "ticker")
        if isinstance(row, dict) and isinstance(row.get("symbol"), str):
            bad.add(row["symbol"])
    if not keep.read:  # not one row readable: an unreadable answer, never "no prices"
        raise ccxt.BadResponse(f"{ex.id} ticker/price: unreadable answer: "
                               f"{keep.failed or 'no row'}")
    if got is None:
        got = {}
        for row in rows:
            if _unreadable(row) is None:
                got.update(ex.parse_last_prices([row], symbols))
    return {symbol: VenueTicker(symbol=symbol, last=_price(p["info"]),
                                timestamp=p.get("timestamp"))
            for symbol, p in got.items() if p["info"].get("symbol") not in bad}


def _unreadable(row: Any) -> Exception | None:
    """Why a price ticker row cannot be read (None: it can): no object, no market named, or a
    price that is no number. No price, or one no market trades at (0, negative), is readable:
    that symbol has no price (the feed says so)."""
    if not isinstance(row, dict):
        return TypeError(f"a row that is {type(row).__name__}, not an object")
    if not isinstance(row.get("symbol"), str) or not row["symbol"]:
        return ValueError("a row naming no market")
    price = row.get("price")
    if price in (None, ""):
        return None
    try:
        number = Decimal(str(price))
    except InvalidOperation:
        number = Decimal("NaN")
    return None if number.is_finite() else ValueError(f"price {str(price)[:40]!r} is no number")


def _price(row: Any) -> Decimal | None:
    try:
        number = Decimal(str(row.get("price")))
    except (InvalidOperation, AttributeError):
        return None
    return number if convert.tradeable(number) else None


class RestTickers:
    """A gateway's ticker reads (`read`), and on a PRICE_TICKER_VENUES venue
    the 24 h volumes kept between their reads. Thread-safe: the feed, the silent symbols'
    poll and the first reconciliations read at once."""

    def __init__(self, venue_id: str, run: Run, said: set[str], traded: list[str] | None, *,
                 volume_every_s: float | None, now: Callable[[], float]) -> None:
        self._venue_id, self._run, self._said = venue_id, run, said
        self._traded = list(traded or [])
        self.volume_every_s = volume_every_s
        """How often the 24 h volumes are read (None: never; prices carry none)."""
        self._now = now  # monotonic
        self._lock = threading.Lock()
        self._volumes: dict[str, Decimal | None] = {}
        self._asked_at: float | None = None
        """When the last volume read went out (None: none answered yet)."""
        self._failing = False

    def read(self, symbols: list[str] | None) -> dict[str, VenueTicker]:
        """The tickers of `symbols` (None: every market): one symbol's own ticker (a
        reconciliation's price; Binance: its 24 h ticker, weight 1), else the all-symbol read."""
        if symbols is not None and len(symbols) == 1:
            symbol = symbols[0]
            return {symbol: convert.ticker(self._run(lambda ex: ex.fetch_ticker(symbol),
                                                     "fetch_ticker"))}
        if self._venue_id not in PRICE_TICKER_VENUES:
            raw = self._run(lambda ex: read(ex, symbols, self._said), "fetch_tickers")
            return {symbol: convert.ticker(t) for symbol, t in raw.items()}
        prices = self._run(lambda ex: last_prices(ex, symbols, self._said), "fetch_last_prices")
        volumes = self._volumes_of(symbols)
        if self.volume_every_s is None:
            return prices  # no volume asked: none carried (the filter is off)
        # a symbol the volume read told none of (its row without one, or unreadable) carries
        # NaN: no volume passed strategy.min_volume, NaN is "not enough" (found by review)
        return {s: replace(t, quote_volume=_or_unknown(volumes.get(s)))
                for s, t in prices.items()}

    def _volumes_of(self, symbols: list[str] | None) -> dict[str, Decimal | None]:
        """The last 24 h volumes, read again when due. A failed read keeps the last volumes
        (said once), tried again after `volume_every_s`; when none was read yet every symbol's
        is unknown (NaN: no entry passes min_volume) and its prices still go out. The first
        read's failure used to fail the call: no REST price at all, for trailing stops and
        exits too, for as long as the 24 h ticker failed (a price without its volume would
        have passed the filter; an unknown one does not)."""
        if self.volume_every_s is None:
            return {}
        with self._lock:
            now = self._now()
            first = self._asked_at is None
            due = first or now - self._asked_at >= self.volume_every_s  # type: ignore[operator]
            if due and not first:
                self._asked_at = now  # one read a period, whoever asks: the others keep these
            if not due:
                return dict(self._volumes)
        wanted = None if symbols is None else sorted({*symbols, *self._traded})
        try:
            raw = self._run(lambda ex: read(ex, wanted, self._said), "fetch_tickers")
        except (ccxt.BaseError, BudgetRefused) as exc:
            self._said_failing(exc)
            with self._lock:
                if first:
                    self._asked_at = now  # again a period later, not at every poll
                return dict(self._volumes)
        with self._lock:
            self._volumes.update({s: convert.ticker(t).quote_volume for s, t in raw.items()})
            self._asked_at = now if first else self._asked_at
            said, self._failing = self._failing, False
            volumes = dict(self._volumes)
        if said:
            logger.info("{}: the 24 h volumes are read again", self._venue_id)
        return volumes

    def _said_failing(self, exc: BaseException) -> None:
        with self._lock:
            said, self._failing = self._failing, True
        if not said:
            logger.warning("{}: the 24 h volumes (strategy.min_volume) could not be read: {}; "
                           "the last ones read are kept (a symbol with none: no entry until "
                           "one is read), tried again in {:g} s", self._venue_id, exc,
                           self.volume_every_s)


UNKNOWN_VOLUME = Decimal("NaN")
"""The volume of a symbol the 24 h read told none of, while volumes are read."""


def _or_unknown(volume: Decimal | None) -> Decimal:
    return UNKNOWN_VOLUME if volume is None else volume
