"""Error classification for ccxt calls, and the one error the gateway adds.

`classify(exc, order_call=...)` sorts a ccxt exception into:

  retryable  the request was not (or need not be) acted on: retry with backoff.
             NetworkError family (incl. RateLimitExceeded, DDoSProtection, ExchangeNotAvailable,
             InvalidNonce) - and RequestTimeout when the call does not create an order.
  ambiguous  an order-creating call whose outcome is unknown: RequestTimeout (a NetworkError,
             so it is checked FIRST), Binance -1007 (ccxt maps it to RequestTimeout), BadResponse
             / NullResponse (the exchange answered something we could not read). The order may
             exist: look it up by clientOrderId, never resend blindly.
  permanent  everything else: InsufficientFunds, InvalidOrder (incl. OrderNotFound), BadSymbol,
             AuthenticationError (incl. PermissionDenied), other ExchangeError, and anything that
             is not a ccxt error. Raise at once.

On a non-order call, BadResponse is retryable (reads are idempotent).
"""

from __future__ import annotations

from typing import Literal

import ccxt

Kind = Literal["retryable", "ambiguous", "permanent"]

# Errors that prove the exchange rejected the request before acting on it, so an order-creating
# call may be resent with the same clientOrderId without looking it up first.
REJECTED_BEFORE_PROCESSING: tuple[type[BaseException], ...] = (
    ccxt.RateLimitExceeded,
    ccxt.DDoSProtection,
    ccxt.InvalidNonce,
)


class OrderOutcomeUnknown(ccxt.ExchangeError):
    """An order-creating call failed ambiguously and the order could not be found by its
    clientOrderId afterwards. It may or may not exist; the caller must reconcile later
    (look it up again by clientOrderId), never resend it under a new id."""

    def __init__(self, message: str, client_order_id: str | None = None) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


def classify(exc: BaseException, *, order_call: bool) -> Kind:
    """Sort `exc` into retryable / ambiguous / permanent (see module docstring)."""
    if isinstance(exc, OrderOutcomeUnknown):
        return "ambiguous"
    if isinstance(exc, ccxt.RequestTimeout):  # before NetworkError: it is one
        return "ambiguous" if order_call else "retryable"
    if isinstance(exc, ccxt.BadResponse):  # incl. NullResponse
        return "ambiguous" if order_call else "retryable"
    if isinstance(exc, ccxt.NetworkError):
        return "retryable"
    return "permanent"


def redact(exc: BaseException, secrets: tuple[str, ...]) -> BaseException:
    """Return `exc`, or a copy of the same class with every secret string masked out of its
    message (ccxt messages can carry request/response text)."""
    message = str(exc)
    cleaned = message
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    if cleaned == message:
        return exc
    try:
        return type(exc)(cleaned)
    except Exception:  # pragma: no cover - exotic constructor
        return ccxt.ExchangeError(cleaned)
