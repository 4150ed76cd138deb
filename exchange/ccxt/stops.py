"""Exchange-side stops for CcxtGateway (a mixin, split out to keep modules small): place a
reduce-only stop-market, and move one (amend in place where the venue can, else place the new
stop first and then cancel the old one)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt
from loguru import logger

from exchange import errors
from exchange.ccxt import order_params as op
from exchange.ccxt.errors import translated
from exchange.ccxt.recovery import sparse
from exchange.decimals import to_decimal
from exchange.records import VenueOrder, VenueOrderStatus


class StopsMixin:
    """Needs from the host: id, venue, hedge_mode, _has, _stop_reason, _ensure_markets, _run,
    _submit, _order, _refetch, cancel_order, price_to_precision."""

    id: str
    venue: Any
    hedge_mode: bool
    _has: dict[str, Any]
    _stop_reason: str | None

    if TYPE_CHECKING:  # provided by CcxtGateway
        def _ensure_markets(self) -> dict[str, Any]: ...
        def _run(self, fn: Callable[[ccxt.Exchange], Any], what: str) -> Any: ...
        def _submit(self, symbol: str, type_: str, side: str, amount: Decimal,
                    price: Decimal | None, params: dict[str, Any], is_stop: bool,
                    reducing: bool | None = None) -> dict[str, Any]: ...
        def _order(self, raw: dict[str, Any], *, sent: bool = False) -> VenueOrder: ...
        def _refetch(self, symbol: str, order: dict[str, Any], cid: str | None,
                     is_stop: bool | None, defaults: dict[str, Any]) -> dict[str, Any]: ...
        def cancel_order(self, id: str | None, symbol: str,
                         params: dict[str, Any] | None = None) -> VenueOrder: ...
        def price_to_precision(self, symbol: str, price: Decimal) -> Decimal: ...

    @translated
    def place_stop(self, symbol: str, side: str, amount: Decimal, stop_price: Decimal,
                   client_order_id: str) -> VenueOrder:
        """Reduce-only stop-market; `side` closes the position (sell for a long)."""
        if self._stop_reason:
            raise ccxt.NotSupported(f"{self.id}: no exchange stops ({self._stop_reason})")
        self._ensure_markets()
        params = op.stop_params(self.venue, side=side, stop_price=op.num(to_decimal(stop_price)),
                                client_order_id=client_order_id, hedge_mode=self.hedge_mode)
        return self._order(self._submit(symbol, "market", side, amount, None, params, True),
                           sent=True)

    @translated
    def move_stop(self, symbol: str, old: VenueOrder, new_stop_price: Decimal,
                  new_client_order_id: str) -> VenueOrder:
        """Move a stop: amend in place where the exchange can (the result keeps the OLD
        clientOrderId), else place the new stop FIRST and then cancel the old one. If that
        cancel fails the error is raised; the new stop stands (known by its clientOrderId)."""
        self._ensure_markets()
        if self.venue.amend_trigger and self._has.get("editOrder"):
            return self._amend_stop(symbol, old, new_stop_price)
        if old.amount is None:
            raise ccxt.ArgumentsRequired(f"{self.id} move_stop: the old stop has no amount")
        new = self.place_stop(symbol, old.side, old.amount, new_stop_price, new_client_order_id)
        try:
            self.cancel_order(old.id, symbol,
                              {"clientOrderId": old.client_order_id, "trigger": True})
        except errors.OrderNotFound:
            logger.warning("{} old stop {} already gone (triggered or cancelled)", self.id,
                           old.client_order_id or old.id)
        return new

    @property
    def can_amend_stops(self) -> bool:
        """The venue moves a resting stop's trigger in place (Bybit `/v5/order/amend`)."""
        return bool(self.venue.amend_trigger and self._has.get("editOrder"))

    @translated
    def amend_stop(self, symbol: str, id: str | None, client_order_id: str, side: str,
                   stop_price: Decimal) -> VenueOrder:
        """Move our resting stop (by exchange id) to `stop_price` in place; it keeps its
        client order id. NotSupported where the venue cannot amend (Binance's algo stops)."""
        self._ensure_markets()
        if not self.can_amend_stops or id is None:
            raise ccxt.NotSupported(f"{self.id}: stops are not amended in place here")
        old = VenueOrder(id=id, client_order_id=client_order_id, symbol=symbol, side=side,
                         type="market", status=VenueOrderStatus.OPEN, amount=None,
                         reduce_only=True)
        return self._amend_stop(symbol, old, stop_price)

    def _amend_stop(self, symbol: str, old: VenueOrder, new_stop_price: Decimal) -> VenueOrder:
        px = op.num(self.price_to_precision(symbol, to_decimal(new_stop_price)))
        order = self._run(lambda ex: ex.edit_order(old.id, symbol, "market", old.side, None, None,
                                                   {"triggerPrice": px}), f"amend stop {old.id}")
        if sparse(order):
            order = self._refetch(symbol, order, old.client_order_id, True, defaults={
                "id": old.id, "clientOrderId": old.client_order_id, "symbol": symbol,
                "type": old.type, "side": old.side, "amount": old.amount, "status": "open",
                "reduceOnly": old.reduce_only, "triggerPrice": px})
        return self._order(order, sent=True)

