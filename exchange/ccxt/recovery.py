"""Order-creation recovery for CcxtGateway (a mixin, split out to keep modules small).

See `gateway.py`'s docstring for the policy: permanent -> raise; rejected-before-processing
(rate limit / DDoS / nonce) -> backoff + resend with the same clientOrderId; anything else ->
look the order up by clientOrderId before any resend; ambiguous and not found ->
OrderOutcomeUnknown.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt
from loguru import logger

from exchange.budget import Priority, at_least
from exchange.ccxt.convert import to_float
from exchange.ccxt.errors import REJECTED_BEFORE_PROCESSING, classify
from exchange.decimals import to_decimal
from exchange.errors import OrderOutcomeUnknown

if TYPE_CHECKING:
    from exchange.ccxt.instances import InstancePool
    from exchange.ccxt.retry import Retrier


class OrderRecoveryMixin:
    """Needs from the host: id, retry, _pool, _find(symbol, order_id, cid, trigger_hint)."""

    id: str
    retry: Retrier
    _pool: InstancePool

    if TYPE_CHECKING:  # provided by CcxtGateway
        def _find(self, symbol: str, order_id: str | None, cid: str | None,
                  trigger_hint: bool | None) -> dict[str, Any] | None: ...

    def _check_minimums(self, symbol, amount: Decimal, price: Decimal | None,
                        reduce_only: bool) -> None:
        limits = self._pool.get().market(symbol).get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if amount <= 0 or (min_amount is not None and amount < to_decimal(min_amount)):
            raise ccxt.InvalidOrder(f"{self.id} {symbol}: amount {amount} is below the minimum "
                                    f"{min_amount} (after rounding to the amount step)")
        min_cost = (limits.get("cost") or {}).get("min")
        if reduce_only or price is None or min_cost is None:
            return  # reduce-only orders are exempt from min notional; no price: can't check
        if amount * price < to_decimal(min_cost):
            raise ccxt.InvalidOrder(f"{self.id} {symbol}: notional {amount * price} is below the "
                                    f"minimum cost {min_cost}")

    def _create_with_recovery(self, symbol, type_, side, amt, px, params, cid, is_stop):
        what = f"create_order {symbol} {side} {amt} cid={cid}"
        attempt = 0
        while True:
            ex = self._pool.get()
            try:
                order = ex.create_order(symbol, type_, side, to_float(amt), to_float(px),
                                        dict(params))
                self._pool.remember_learned(ex)
                return order
            except ccxt.BaseError as exc:
                kind = classify(exc, order_call=True)
                if kind == "permanent":
                    self.retry.reraise(exc)
                if not isinstance(exc, REJECTED_BEFORE_PROCESSING):
                    found = self._recover(symbol, cid, is_stop, exc, kind)
                    if found is not None:
                        return found
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    self.retry.reraise(exc)
                self.retry.backoff(attempt, exc, what)

    def _recover(self, symbol, cid, is_stop, exc, kind) -> dict[str, Any] | None:
        """After an unclear create failure: the order if it landed; None if it surely did not
        and a resend is safe; else raise OrderOutcomeUnknown."""
        why = f"{type(exc).__name__}: {self.retry.clean(exc)}"
        if cid is None:
            if kind == "ambiguous":
                raise OrderOutcomeUnknown(f"{self.id} create on {symbol} failed ({why}) and has "
                                          "no clientOrderId to look it up") from None
            self.retry.reraise(exc)
        for look in range(2):
            try:
                with at_least(Priority.RECONCILE):  # settles what was sent: never refused
                    found = self._find(symbol, None, cid, is_stop)
            except ccxt.BaseError as lookup_exc:
                raise OrderOutcomeUnknown(
                    f"{self.id} create {cid} failed ({why}); lookup failed too "
                    f"({type(lookup_exc).__name__})", cid) from None
            if found is not None:
                logger.warning("{} create {} failed ({}) but the order exists: {}", self.id, cid,
                               why, found.get("id"))
                return found
            if look == 0:
                self.retry.backoff(1, exc, f"lookup of {cid}")
        if kind == "ambiguous":
            raise OrderOutcomeUnknown(f"{self.id} create {cid} on {symbol} failed ({why}) and "
                                      "the order was not found; reconcile by clientOrderId", cid)
        return None

    def _refetch(self, symbol, order, cid, is_stop, defaults) -> dict[str, Any]:
        """Full order for a sparse exchange answer; falls back to what we sent/know."""
        oid = order.get("id")
        cid = cid or order.get("clientOrderId")
        try:
            found = self._find(symbol, None if cid else oid, cid, is_stop)
        except ccxt.BaseError as exc:
            logger.warning("{} re-fetch of order {} failed: {}", self.id, oid,
                           self.retry.clean(exc))
            found = None
        if found is not None:
            return found
        merged = {k: v for k, v in order.items() if v is not None}
        return {**defaults, **merged}


def sparse(order: dict[str, Any] | None) -> bool:
    """True for an order that carries little more than ids (e.g. Bybit create/amend/cancel)."""
    return not order or order.get("status") is None or order.get("amount") is None
