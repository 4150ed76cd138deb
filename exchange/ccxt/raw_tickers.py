"""Prices straight from the venue's raw ticker messages, before ccxt would parse them.

ccxt.pro turns each ticker message into a unified ticker (`parse_ticker`, `safe_ticker`: string
math on a dozen fields), about 0.2-0.5 ms of interpreter time a message. The socket's messages
are handled one after another, so at 500 symbols a price that crosses a stop waited behind the
parsing of a whole background push of every symbol (measured by bench/bench_stream_close.py:
p99 167 ms, nearly all of it that queue), and the parsing took the interpreter lock from the
actors and the database writer meanwhile. The bot needs two fields of a ticker: the last price
and the 24 h quote volume. This reads them from the venue's documented message and hands them
on at once; ccxt's ticker handler is not run for these messages (nothing else reads ccxt's
ticker cache: the streams' exchange instance is theirs alone). Every other message (orders,
fills, positions, subscription answers, pongs) goes to ccxt as before.

Formats (the venues' v5 / USDⓈ-M docs, as quoted in ccxt/pro/bybit.py and binance.py):
- Bybit `tickers.<ID>`: {"topic", "type": "snapshot"|"delta", "data": {"symbol", "lastPrice",
  "turnover24h", ...}}; a delta carries only the fields that changed, so a missing lastPrice
  means "unchanged" (nothing to deliver) and a missing turnover keeps the last one seen.
- Binance: `!miniTicker@arr` (a list of {"e": "24hrMiniTicker", "s", "c", "q"}), a single
  symbol's `<sym>@miniTicker` / `@ticker` (one such object), or either wrapped by a combined
  stream as {"stream", "data"}.

A row whose price or volume cannot be read (missing digits, NaN, infinite, a price not above 0,
a negative volume) is skipped whole with one line naming the symbol and the field (once until
that symbol's next good price, and at most once a minute); the other rows of the message are
delivered, and the symbol's later good rows too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from exchange.ccxt.convert import tradeable
from exchange.records import VenueTicker
from observability.error_text import describe

WARN_EVERY_S = 60.0
"""A symbol's bad tickers are said at most this often."""
_BINANCE_EVENTS = frozenset({"24hrMiniTicker", "24hrTicker"})


def handles(venue_id: str) -> bool:
    """Whether this module reads the venue's ticker messages (others keep ccxt's parser)."""
    return venue_id == "bybit" or venue_id.startswith("binance")


class RawTickers:
    """Installed on one ccxt.pro exchange instance, in front of its message handler."""

    def __init__(self, ex: Any, wanted: Iterable[str], deliver: Callable[[list[VenueTicker]],
                 None], seen: Callable[[], None], logger: Any,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ex = ex
        self._wanted = set(wanted)
        self._deliver = deliver
        self._seen = seen
        self.log = logger
        self._by_id: dict[str, str] = {}
        self._volume: dict[str, Decimal | None] = {}
        """The last 24 h quote volume per symbol (a Bybit delta may leave it out)."""
        self._bad: set[str] = set()
        """Symbols whose last streamed ticker was bad: warned once until a good price comes (a
        venue pushing a bad price 10 times a second filled the log)..."""
        self._warned: dict[str, float] = {}
        """...and at most once a `WARN_EVERY_S` per symbol (a venue alternating good prices
        with bad volumes did so again)."""
        self._now = monotonic
        self._rows = self._bybit_rows if ex.id == "bybit" else self._binance_rows
        self.taken = 0
        """Ticker messages handled here (for tests)."""

    def install(self) -> RawTickers:
        """Put `take` in front of ccxt's handler. Must run before the first socket opens:
        ccxt's client keeps the handler it was created with."""
        inner = self._ex.handle_message

        def handle_message(client: Any, message: Any) -> Any:
            if self.take(message):
                return None
            return inner(client, message)

        self._ex.handle_message = handle_message
        return self

    def take(self, message: Any) -> bool:
        """Deliver the prices of a ticker message; False for any other message (ccxt's)."""
        rows = self._rows(message)
        if rows is None:
            return False
        self.taken += 1
        self._seen()
        tickers = [t for t in (self._ticker(*row) for row in rows) if t is not None]
        if tickers:
            try:
                self._deliver(tickers)
            except Exception as exc:  # noqa: BLE001 - never into ccxt's receive loop
                self.log.warning("stream: delivering {} prices failed: {}", len(tickers),
                                 describe(exc))
        return True

    # -- the venues' formats -----------------------------------------------------------------
    @staticmethod
    def _bybit_rows(message: Any) -> list[tuple[Any, Any, Any]] | None:
        if not isinstance(message, dict):
            return None
        topic = message.get("topic")
        data = message.get("data")
        if not (isinstance(topic, str) and topic.startswith("tickers.") and isinstance(data, dict)):
            return None
        return [(data.get("symbol") or topic[8:], data.get("lastPrice"), data.get("turnover24h"))]

    @staticmethod
    def _binance_rows(message: Any) -> list[tuple[Any, Any, Any]] | None:
        if isinstance(message, dict) and "stream" in message and "data" in message:
            message = message["data"]
        items = message if isinstance(message, list) else [message]
        if not items or not all(isinstance(i, dict) and i.get("e") in _BINANCE_EVENTS
                                for i in items):
            return None
        return [(i.get("s"), i.get("c"), i.get("q")) for i in items]

    # -- one row -----------------------------------------------------------------------------
    def _ticker(self, venue_id: Any, last: Any, volume: Any) -> VenueTicker | None:
        symbol = self._symbol(venue_id)
        if symbol is None:
            return None  # a market the bot does not trade
        quote_volume = _decimal(volume)
        price = _decimal(last)
        if volume is not None and not _amount(quote_volume):
            self._refused(symbol, "24 h quote volume", volume)
            return None
        if last is not None and not tradeable(price):
            self._refused(symbol, "last price", last)
            return None
        if volume is not None:  # a Bybit delta without it: unchanged
            self._volume[symbol] = quote_volume
        if price is None:
            return None  # a delta without a new price
        self._bad.discard(symbol)
        return VenueTicker(symbol=symbol, last=price, quote_volume=self._volume.get(symbol))

    def _refused(self, symbol: str, field: str, value: Any) -> None:
        """A message with a field that is no number (NaN, infinite, empty, garbled) or out of
        range is dropped whole: nothing of it is kept (a NaN volume stored passed the
        strategy's min_volume filter, as every comparison with NaN is False; an unreadable
        one stored as None turned the filter off for the symbol). The symbol's next good
        message is taken as usual."""
        if symbol in self._bad:
            return
        self._bad.add(symbol)
        now, last = self._now(), self._warned.get(symbol)
        if last is not None and now - last < WARN_EVERY_S:
            return
        self._warned[symbol] = now
        self.log.warning("stream: skipped a bad ticker for {}: {} {!r} (said once until a good "
                         "price comes, at most once a minute)", symbol, field, value)

    def _symbol(self, venue_id: Any) -> str | None:
        if not self._by_id:
            self._by_id = self._ids()
        return self._by_id.get(venue_id) if isinstance(venue_id, str) else None

    def _ids(self) -> dict[str, str]:
        """Venue market id -> unified symbol, for the wanted symbols (markets are loaded before
        the first subscription, so before the first ticker message)."""
        markets = self._ex.markets or {}
        return {str(markets[s]["id"]): s for s in self._wanted if s in markets}


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _amount(value: Decimal | None) -> bool:
    """A volume the venue can mean: finite and not below 0 (0: nothing traded in 24 h)."""
    return value is not None and value.is_finite() and value >= 0
