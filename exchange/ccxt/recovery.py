"""Order-creation recovery for CcxtGateway (a mixin, split out to keep modules small).

See `gateway.py`'s docstring for the policy: permanent -> raise; rejected-before-processing
(rate limit / DDoS / nonce) -> backoff + resend with the same clientOrderId; anything else
(the outcome is unknown) -> look the order up by clientOrderId, never resend: found -> return
it, else OrderOutcomeUnknown. After a send nothing raises a "nothing was sent" error (the rate
budget's BudgetRefused, the actor's Fenced): the lookup, the re-fetch of a sparse answer and
a cancel's fee read run at reconcile priority at least, and their failures become
OrderOutcomeUnknown (lookup) or the order as far as known (re-fetch, fee). A create's answer
never waits for a fee read (`_with_fees`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt
from loguru import logger

from exchange.budget import Priority, at_least
from exchange.ccxt import lookup
from exchange.ccxt.convert import to_float
from exchange.ccxt.errors import UNREADABLE, classify, unreadable
from exchange.decimals import to_decimal
from exchange.errors import OrderOutcomeUnknown

if TYPE_CHECKING:
    from exchange.ccxt.instances import InstancePool
    from exchange.ccxt.order_params import Venue
    from exchange.ccxt.retry import Retrier
    from exchange.ccxt.venue_clock import VenueClock

class OrderRecoveryMixin:
    """Needs from the host: id, retry, venue, _pool, clock_sync, _run, _find(symbol, order_id,
    cid, trigger_hint)."""

    id: str
    send_grace_s: float = 60.0
    """The venue's send grace (exchange/port.py `send_grace_s`; trading/order_evidence.py
    `SEND_GRACE_S`): a create whose outcome is unknown may have landed while the venue's lookup
    by client order id lags. Live venues and the shared paper server alike."""
    retry: Retrier
    venue: Venue
    _pool: InstancePool
    clock_sync: VenueClock

    if TYPE_CHECKING:  # provided by CcxtGateway
        def _find(self, symbol: str, order_id: str | None, cid: str | None,
                  trigger_hint: bool | None) -> dict[str, Any] | None: ...

        def _run(self, fn: Callable[[ccxt.Exchange], Any], what: str) -> Any: ...

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
        """Send the create; resend (same clientOrderId) only after a refusal that proves the
        venue did not act on it; after any other unclear failure look the order up instead."""
        what = f"create_order {symbol} {side} {amt} cid={cid}"
        attempt = 0
        while True:
            ex = self._pool.get()
            signed = self.clock_sync.apply(ex)
            try:
                order = ex.create_order(symbol, type_, side, to_float(amt), to_float(px),
                                        dict(params))
                self._pool.remember_learned(ex)
                return order
            except UNREADABLE as exc:  # the answer, not the send, failed: it may have landed
                return self._recover(symbol, cid, is_stop, unreadable(exc, f"{self.id} {what}"))
            except ccxt.BaseError as exc:
                # a timestamp refused: resent with the venue's time
                self.clock_sync.refused(ex, exc, signed)
                kind = classify(exc, order_call=True)
                if kind == "permanent":
                    self.retry.reraise(exc)
                if kind == "ambiguous":
                    return self._recover(symbol, cid, is_stop, exc)
                attempt += 1  # refused before processing: nothing was done, resend
                if attempt >= self.retry.max_attempts:
                    self.retry.reraise(exc)
                # nothing was sent that landed: an entry may be set aside meanwhile (a stop,
                # protective, never is)
                self.retry.backoff(attempt, exc, what, may_set_aside=True)

    def _recover(self, symbol, cid, is_stop, exc) -> dict[str, Any]:
        """After a create that may have landed: the order if the lookup by clientOrderId finds
        it (twice, one backoff apart, for the venue's read lag), else OrderOutcomeUnknown.
        Never None, never a resend. Whatever fails meanwhile (a ccxt error, the budget's
        refusal, the actor's fence or lease) also ends in OrderOutcomeUnknown: the order was
        sent, so no error may say that nothing was."""
        why = f"{type(exc).__name__}: {self.retry.clean(exc)}"
        if cid is None:
            raise OrderOutcomeUnknown(f"{self.id} create on {symbol} failed ({why}) and has "
                                      "no clientOrderId to look it up") from None
        try:
            for look in range(2):
                # protective: its answer decides one (an entry that landed needs its stop). At
                # reconcile priority a soak saw an entry's lookup wait 16.7 s for budget while
                # the position it had opened sat without a stop
                with at_least(Priority.PROTECTIVE):
                    found = self._find(symbol, None, cid, is_stop)
                if found is not None:
                    logger.warning("{} create {} failed ({}) but the order exists: {}", self.id,
                                   cid, why, found.get("id"))
                    return found
                if look == 0:  # the lookup answered; the venue's read side may lag the order
                    self.retry.backoff(1, exc, f"lookup of {cid}", said=(
                        f"{self.id} create {cid} failed ({why}) and its lookup by client order "
                        "id found nothing yet"))
        except Exception as lookup_exc:  # noqa: BLE001 - after the send: the outcome is unknown
            raise OrderOutcomeUnknown(
                f"{self.id} create {cid} failed ({why}); lookup failed too "
                f"({type(lookup_exc).__name__}: {self._clean(lookup_exc)})", cid) from None
        raise OrderOutcomeUnknown(f"{self.id} create {cid} on {symbol} failed ({why}) and the "
                                  "order was not found; reconcile by clientOrderId", cid)

    def _clean(self, exc: BaseException) -> str:
        return str(self.retry.clean(exc))

    def _refetch(self, symbol, order, cid, is_stop, defaults) -> dict[str, Any]:
        """Full order for a sparse exchange answer (after a create, cancel or amend was sent);
        falls back to what we sent/know. Read at protective priority (an entry's 2 s bound
        must not fail what was already sent, and the answer settles what protects a position:
        a fill, a stop), and no error of the read escapes: the call it follows went through."""
        oid = order.get("id")
        cid = cid or order.get("clientOrderId")
        try:
            with at_least(Priority.PROTECTIVE):
                found = self._find(symbol, None if cid else oid, cid, is_stop)
        except Exception as exc:  # noqa: BLE001 - the order was sent: return what we know
            logger.warning("{} re-fetch of order {} failed ({}: {}); returning what was sent",
                           self.id, oid or cid, type(exc).__name__, self._clean(exc))
            found = None
        if found is not None:
            return found
        merged = {k: v for k, v in order.items() if v is not None}
        return {**defaults, **merged}

    def _with_fees(self, raw: dict[str, Any], sent: bool) -> dict[str, Any]:
        """`raw` with its trades' fee where the venue's order has none (Binance), read at
        reconcile priority at least. An order this gateway just `sent` (created, a stop
        placed, amended) is returned as the venue answered, its fee unknown where the answer
        has none: its trades (userTrades, weight 5) are never read before the answer returns,
        so an entry's stop never waits for its entry's fee read to pass the rate budget (nor
        a close, nor a create found by the recovery lookup). The core books such a fill at
        once and looks the order up again for its fee (trading/late_fees.py): that lookup
        (`fetch_order`, not sent) reads the trades, once per filled order, by then listed."""
        if sent:
            return raw
        with at_least(Priority.RECONCILE):  # a lookup's fee read: never refused as entry
            return lookup.with_trade_fees(self._run, self.venue, raw)

    def _cancel_fees(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A cancel's answer with its trades' fee (Binance), read only for an order that
        filled something (a cancelled stop or an unfilled order costs nothing): the actor
        books a fill a cancel reports only with its fee, else it looks the order up (one
        more read, actors/order_results.py `tells_fills`). The cancel went through: a failed
        read returns the order without its fee instead of raising."""
        try:
            with at_least(Priority.RECONCILE):  # the fee of what was sent: never refused
                return lookup.with_trade_fees(self._run, self.venue, raw)
        except Exception as exc:  # noqa: BLE001 - the order was sent: return it, fee unread
            logger.warning("{} fee read of order {} failed ({}: {}); returned without its "
                           "fee", self.id, raw.get("id"), type(exc).__name__,
                           self._clean(exc))
            return raw


def sparse(order: dict[str, Any] | None) -> bool:
    """True for an order that carries little more than ids (e.g. Bybit create/amend/cancel)."""
    return not order or order.get("status") is None or order.get("amount") is None
