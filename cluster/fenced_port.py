"""FencedExchange: the exchange port as seen by a node that may lose its account lease.

Every call that changes exchange state (create, cancel, place or move a stop, set a leverage)
first asks the account's LeaseKeeper whether the node may act, and raises `LeaseLost` without
sending when it may not. Reads pass through: looking at the account never harms its new owner.

This fences each send, not the retries a gateway makes inside one call; those end within the
exchange request timeout, which the takeover grace (`LeaseSettings.request_timeout_s`) waits
out before another node takes the account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cluster.keeper import LeaseHolder
from cluster.lease import LeaseLost
from exchange.port import ExchangePort
from exchange.records import (
    VenueBalance,
    VenueFill,
    VenueFunding,
    VenueMarket,
    VenueOrder,
    VenuePosition,
    VenueTicker,
)


def lease_guard(keeper: LeaseHolder) -> None:
    """Raise `LeaseLost` when the node may no longer act on the keeper's account. Run before
    each port call that sends (below) and, through the account's exchange fence
    (exchange/fence.py `FenceBoard.account_check`), before each request and retry inside the
    gateway too."""
    if keeper.acting_lease() is None:
        lease = keeper.last_lease()
        raise LeaseLost(keeper.account, lease.epoch if lease is not None else 0, keeper.node_id)


class FencedExchange:
    """Implements `exchange.port.ExchangePort` (plus place_stop / move_stop when the wrapped
    exchange has them) for one account under one LeaseKeeper."""

    def __init__(self, port: ExchangePort, keeper: LeaseHolder) -> None:
        self._port = port
        self._extras: Any = port  # place_stop / move_stop: the ccxt gateway's, not the port's
        self._keeper = keeper
        self.id = port.id
        self.send_grace_s = port.send_grace_s  # a fact of the venue, not an action: unfenced
        # reads the account's feed and streams take from the gateway when it has them (the
        # REST fills poll, runtime/exchanges.fills_poller; the budget and markets the streams
        # share, runtime/stream_wiring.py): hidden, a node's feed fell back to
        # fetch_my_trades(None, since), which Binance refuses without a symbol, so no fill came
        # from REST and no gap fill ever succeeded
        for name in ("poll_updates", "markets", "meter"):
            found = getattr(port, name, None)
            if found is not None:
                setattr(self, name, found)

    def _guard(self) -> None:
        lease_guard(self._keeper)

    # ---- state-changing calls: fenced ----------------------------------------------------

    def create_order(self, symbol: str, type: str, side: str,
                     amount: Decimal, price: Decimal | None = None,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        self._guard()
        return self._port.create_order(symbol, type, side, amount, price, params)

    def cancel_order(self, id: str | None, symbol: str,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        self._guard()
        return self._port.cancel_order(id, symbol, params)

    def place_stop(self, symbol: str, side: str, amount: Decimal, stop_price: Decimal,
                   client_order_id: str) -> dict[str, Any]:
        self._guard()
        result: dict[str, Any] = self._extras.place_stop(symbol, side, amount, stop_price,
                                                          client_order_id)
        return result

    def move_stop(self, symbol: str, old: dict[str, Any], new_stop_price: Decimal,
                  new_client_order_id: str) -> dict[str, Any]:
        self._guard()
        result: dict[str, Any] = self._extras.move_stop(symbol, old, new_stop_price,
                                                         new_client_order_id)
        return result

    def amend_stop(self, symbol: str, id: str | None, client_order_id: str, side: str,
                   stop_price: Decimal) -> VenueOrder:
        self._guard()
        result: VenueOrder = self._extras.amend_stop(symbol, id, client_order_id, side,
                                                     stop_price)
        return result

    def set_leverage(self, leverage: int, symbol: str) -> None:
        self._guard()
        self._port.set_leverage(leverage, symbol)

    @property
    def can_amend_stops(self) -> bool:
        """The wrapped gateway's answer (Bybit amends a stop in place), so a node's stop moves
        amend as a single node's do; each amend is fenced above."""
        return bool(getattr(self._extras, "can_amend_stops", False))

    # ---- reads: pass through ---------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, VenueMarket]:
        return self._port.load_markets(reload)

    def market(self, symbol: str) -> VenueMarket:
        return self._port.market(symbol)

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        return self._port.amount_to_precision(symbol, amount)

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        return self._port.price_to_precision(symbol, price)

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        return self._port.fetch_tickers(symbols)

    def fetch_order(self, id: str | None, symbol: str,
                    params: dict[str, Any] | None = None) -> VenueOrder:
        return self._port.fetch_order(id, symbol, params)

    def fetch_open_orders(self, symbol: str | None = None, since: int | None = None,
                          limit: int | None = None,
                          params: dict[str, Any] | None = None) -> list[VenueOrder]:
        return self._port.fetch_open_orders(symbol, since, limit, params)

    def fetch_positions(self, symbols: list[str] | None = None,
                        params: dict[str, Any] | None = None) -> list[VenuePosition]:
        return self._port.fetch_positions(symbols, params)

    def fetch_balance(self, params: dict[str, Any] | None = None) -> VenueBalance:
        return self._port.fetch_balance(params)

    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None,
                        limit: int | None = None,
                        params: dict[str, Any] | None = None) -> list[VenueFill]:
        return self._port.fetch_my_trades(symbol, since, limit, params)

    def fetch_funding_history(self, symbol: str | None = None, since: int | None = None,
                              limit: int | None = None) -> list[VenueFunding]:
        return self._port.fetch_funding_history(symbol, since, limit)

    def close(self) -> None:
        self._port.close()
