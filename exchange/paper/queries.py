"""Read-side methods of the paper exchange (tickers, orders, positions, balance, trades).

Mixed into `PaperExchange`; every read first brings the symbols it reports on up to now.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchange import errors
from exchange.paper import ledger
from exchange.paper.markets import venue_market
from exchange.paper.models import SETTLE, ZERO, order_view, position_view, trade_view
from exchange.records import (
    Funds,
    VenueBalance,
    VenueFill,
    VenueFunding,
    VenueMarket,
    VenueOrder,
    VenuePosition,
    VenueTicker,
)


def _limited(items: list[Any], since: int | None, limit: int | None) -> list[Any]:
    if since is not None:
        items = [i for i in items if i.timestamp >= since]
    if limit is not None:
        items = items[:limit] if since is not None else items[-limit:] if limit > 0 else []
    return items


class QueryMixin:
    """The paper exchange's read side (mixed into PaperExchange, which provides these)."""

    if TYPE_CHECKING:
        _call: Any
        _now_ms: Any
        _catch_up: Any
        _book: Any
        _store: Any
        _active_books: Any
        _account: Any
        markets: Any
        _source: Any
        _matcher: Any
        _books: Any

    def load_markets(self, reload: bool = False) -> dict[str, VenueMarket]:
        return self._call("load_markets", {"reload": reload},
                          lambda: {s: venue_market(m) for s, m in self.markets.items()})

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        wanted = list(symbols) if symbols is not None else list(self._books)
        return self._call("fetch_tickers", {"symbols": wanted}, lambda: self._tickers(wanted))

    def _tickers(self, symbols: list[str]) -> dict[str, VenueTicker]:
        result = {}
        stale = getattr(self._source, "stale", None)  # a dry run's live source
        for symbol in symbols:
            book = self._book(symbol)
            if stale is not None and stale(symbol):
                continue  # no venue price for long: none, as a venue outage gives none live
            with book.lock:
                now = self._now_ms()
                self._catch_up(book, now)
                last = book.mark
            slip = self._matcher.fees.slippage_bps
            base_volume, quote_volume = self._volumes(symbol, now)
            result[symbol] = VenueTicker(
                symbol=symbol, timestamp=now, last=last,
                bid=ledger.slipped(last, "sell", slip, book.tick),
                ask=ledger.slipped(last, "buy", slip, book.tick),
                base_volume=base_volume, quote_volume=quote_volume,
            )
        return result

    def _volumes(self, symbol: str, now_ms: int) -> tuple[Decimal | None, Decimal | None]:
        """24 h base and quote volume where the price source has volumes (recorded candles);
        (None, None) for generated prices, which have none: the volume filter then passes."""
        volume_24h = getattr(self._source, "volume_24h", None)
        volumes = volume_24h(symbol, now_ms) if volume_24h is not None else None
        return volumes if volumes is not None else (None, None)

    def fetch_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None
    ) -> VenueOrder:
        params = dict(params or {})
        call = {"id": id, "symbol": symbol, "params": params}
        return self._call("fetch_order", call, lambda: self._fetch_order(id, symbol, params))

    def _fetch_order(self, order_id: str | None, symbol: str,
                     params: dict[str, Any]) -> VenueOrder:
        client_id = params.get("clientOrderId")
        if order_id is None and client_id is None:
            raise errors.BadRequest("paper: fetch_order needs an id or params['clientOrderId']")
        book = self._book(symbol)
        with book.lock:
            self._catch_up(book, self._now_ms())
            order = book.find_open(order_id, client_id)
            if order is None:
                order = self._store.find_order(order_id=order_id, client_id=client_id)
        if order is None or order.symbol != symbol:
            raise errors.OrderNotFound(f"paper: {symbol} order {order_id or client_id} not found")
        return order_view(order)

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[VenueOrder]:
        call = {"symbol": symbol, "since": since, "limit": limit, "params": dict(params or {})}
        return self._call("fetch_open_orders", call,
                          lambda: self._open_orders(symbol, since, limit))

    def _open_orders(self, symbol: str | None, since: int | None,
                     limit: int | None) -> list[VenueOrder]:
        books = [self._book(symbol)] if symbol is not None else self._active_books(positions=False)
        orders = []
        for book in books:
            with book.lock:
                self._catch_up(book, self._now_ms())
                orders.extend(book.open_orders.values())
        orders.sort(key=lambda o: o.seq)
        return _limited([order_view(o) for o in orders], since, limit)

    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[VenuePosition]:
        call = {"symbols": symbols, "params": dict(params or {})}
        return self._call("fetch_positions", call, lambda: self._positions(symbols))

    def _positions(self, symbols: list[str] | None) -> list[VenuePosition]:
        books = [self._book(s) for s in symbols] if symbols is not None else self._active_books()
        result = []
        for book in books:
            with book.lock:
                now = self._now_ms()
                self._catch_up(book, now)
                for position in book.positions.values():  # hedge mode: long, then short
                    if position.qty != 0:
                        result.append(position_view(position, book.mark, now))
        return result

    def fetch_balance(self, params: dict[str, Any] | None = None) -> VenueBalance:
        return self._call("fetch_balance", {"params": dict(params or {})}, self._balance)

    def _balance(self) -> VenueBalance:
        for book in self._active_books():
            with book.lock:
                self._catch_up(book, self._now_ms())
        wallet, used, unrealized = self._account.totals()
        total = wallet + unrealized
        free = total - used
        return VenueBalance(currencies={SETTLE: Funds(free=free, used=used, total=total)})

    def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[VenueFill]:
        call = {"symbol": symbol, "since": since, "limit": limit, "params": dict(params or {})}
        return self._call("fetch_my_trades", call, lambda: self._my_trades(symbol, since, limit))

    def fetch_funding_history(self, symbol: str | None = None, since: int | None = None,
                              limit: int | None = None) -> list[VenueFunding]:
        """The paper exchange charges no funding: nothing to list (README: Funding)."""
        return []

    def _my_trades(self, symbol: str | None, since: int | None,
                   limit: int | None) -> list[VenueFill]:
        books = [self._book(symbol)] if symbol is not None else self._active_books(positions=False)
        for book in books:
            with book.lock:
                self._catch_up(book, self._now_ms())
        trades = [trade_view(t) for t in self._store.trades(symbol, since)]
        return _limited(trades, None, limit) if since is None else trades[:limit]

    # ---- exchange-side inspection (not part of the port) ---------------------------------

    def submissions(self, client_order_id: str | None = None) -> list[dict[str, Any]]:
        """Every create_order attempt ever received (persisted), oldest first."""
        return self._store.submissions(client_order_id)

    def realized_pnl_total(self, symbol: str | None = None,
                           position_side: str | None = None) -> Decimal:
        """Sum of realized P&L minus fees over all persisted fills (the exchange's view);
        `position_side` 'long' / 'short' (hedge mode) or 'net' (one-way) keeps one side's."""
        return sum(
            (t.realized_pnl - t.fee for t in self._store.trades(symbol)
             if position_side is None or t.position_side == position_side),
            ZERO,
        )

    def wallet_balance(self) -> Decimal:
        """Wallet balance (starting balance + realized P&L - fees), without unrealized P&L."""
        return self._account.totals()[0]
