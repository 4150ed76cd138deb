"""The gateway's raw ccxt orders, trades and funding payments -> the port's records, fees in
the settle currency (a mixin of CcxtGateway, split out to keep modules small; fees.py says why;
funding: funding.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ccxt
from loguru import logger

from exchange.ccxt import convert, fees, lookup
from exchange.ccxt import funding as funding_rows
from exchange.ccxt.errors import translated
from exchange.ccxt.venue_clock import VenueClock
from exchange.records import VenueFill, VenueFunding, VenueOrder


class VenueRecords:
    """Needs from the host: _run, _clock, _markets, _settle(symbol), _client_id_of(trade),
    _with_fees(raw, sent)."""

    fee_prices: fees.FeePrices
    clock_sync: VenueClock
    _said: set[str]

    if TYPE_CHECKING:  # provided by CcxtGateway and its mixins
        _clock: Callable[[], float]
        _markets: dict[str, Any] | None
        _symbols: list[str] | None
        id: str
        venue: Any

        def _ensure_markets(self) -> dict[str, Any]: ...

        def _run(self, fn: Callable[[ccxt.Exchange], Any], what: str) -> Any: ...

        def _settle(self, symbol: str) -> str | None: ...

        def _client_id_of(self, trade: dict[str, Any]) -> str | None: ...

        def _with_fees(self, raw: dict[str, Any], sent: bool) -> dict[str, Any]: ...

    def _init_fee_prices(self) -> None:
        """Prices of fee assets other than the settle currency (BNB), from the venue."""
        self.fee_prices = fees.FeePrices(fees.last_price(self._run),
                                         lambda symbol: symbol in (self._markets or {}),
                                         self._clock)

    def _order(self, raw: dict[str, Any], *, sent: bool = False) -> VenueOrder:
        """The port's record of a raw ccxt order; `sent`: this gateway just sent it."""
        raw = self._with_fees(raw, sent)  # Binance (issue 12)
        return convert.order(raw, settle=self._settle(str(raw.get("symbol"))),
                             price=self.fee_prices.price, exchange_id=self.id)

    def _open_rows(self, symbol: str | None, since: int | None, limit: int | None,
                   params: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The raw open orders of `symbol` (None: of the account, the sweep's read, where an
        order row ccxt cannot parse of a symbol the account does not trade is skipped, said
        once: open_order_rows.py)."""
        return self._run(lambda ex: lookup.open_orders(ex, self.venue, symbol, since, limit,
                                                       params, self._symbols, self._said),
                         "fetch_open_orders")

    def _orders_of(self, rows: list[dict[str, Any]], traded: list[str] | None) -> list[VenueOrder]:
        """`rows` as orders; an unreadable one of a symbol not in `traded` (None: any), an
        order placed by hand on a symbol the account does not trade, is skipped, said once
        per symbol: it failed the sweep's all-symbol read for as long as it rested."""
        orders = []
        for row in rows:
            try:
                orders.append(self._order(row))
            except ccxt.BadResponse as exc:
                symbol = str(row.get("symbol"))
                if traded is None or symbol in traded:
                    raise
                if f"order {symbol}" not in self._said:
                    self._said.add(f"order {symbol}")
                    logger.warning("{}: skipped an unreadable open order of {}, a symbol this "
                                   "account does not trade: {}", self.id, symbol, exc)
        return orders

    def _fill(self, raw: dict[str, Any]) -> VenueFill:
        return convert.fill(raw, client_order_id=self._client_id_of(raw),
                            settle=self._settle(str(raw.get("symbol"))),
                            price=self.fee_prices.price, exchange_id=self.id)

    @translated
    def fetch_funding_history(self, symbol: str | None = None, since: int | None = None,
                              limit: int | None = None) -> list[VenueFunding]:
        """The account's funding payments since `since` (ms), every symbol in one read (pages
        followed), oldest first; `symbol`/`limit` narrow the answer afterwards. A venue other
        than Bybit and Binance: NotSupported (ccxt's own shapes differ per venue)."""
        self._ensure_markets()
        style = self.venue.lookup
        if style not in ("bybit", "binance"):
            raise ccxt.NotSupported(f"{self.id}: funding payments are read on Bybit and Binance")
        start = self.clock_sync.earlier(  # a time of this machine's clock (venue_clock.py)
            since if since is not None else int(self._clock() * 1000) - 86_400_000)
        found = funding_rows.read(self._run, style, start,
                                  lambda text: logger.warning("{}: {}", self.id, text),
                                  int(self._clock() * 1000))
        found = [f for f in found if symbol is None or f.symbol == symbol]
        return found[:limit] if limit is not None else found
