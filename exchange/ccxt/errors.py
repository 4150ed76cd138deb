"""ccxt's exceptions, classified for the gateway's retry policy and translated into the
port's own errors (`exchange/errors.py`) once, where they leave the gateway (`translated`).

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

`OrderOutcomeUnknown` is the port's own (`exchange.errors`): the gateway raises it itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, ParamSpec, TypeVar

import ccxt

from exchange import errors
from exchange.errors import OrderOutcomeUnknown

P = ParamSpec("P")
R = TypeVar("R")

Kind = Literal["retryable", "ambiguous", "permanent"]

# Errors that prove the exchange rejected the request before acting on it, so an order-creating
# call may be resent with the same clientOrderId without looking it up first.
REJECTED_BEFORE_PROCESSING: tuple[type[BaseException], ...] = (
    ccxt.RateLimitExceeded,
    ccxt.DDoSProtection,
    ccxt.InvalidNonce,
)


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
    except Exception:  # noqa: BLE001 - an exotic constructor: fall back to the base class
        return ccxt.ExchangeError(cleaned)


# Most specific first: ccxt's classes form a tree (OrderNotFound is an InvalidOrder, BadSymbol a
# BadRequest, RequestTimeout a NetworkError, BadResponse an ExchangeError).
_TRANSLATION: tuple[tuple[type[ccxt.BaseError], type[errors.ExchangeError]], ...] = (
    (ccxt.RequestTimeout, errors.RequestTimeout),
    (ccxt.RateLimitExceeded, errors.RateLimited),
    (ccxt.DDoSProtection, errors.RateLimited),
    (ccxt.ExchangeNotAvailable, errors.ExchangeUnavailable),
    (ccxt.NetworkError, errors.NetworkError),
    (ccxt.BadResponse, errors.NetworkError),
    (ccxt.OrderNotFound, errors.OrderNotFound),
    (ccxt.InsufficientFunds, errors.InsufficientFunds),
    (ccxt.InvalidOrder, errors.InvalidOrder),
    (ccxt.BadSymbol, errors.BadSymbol),
    (ccxt.AuthenticationError, errors.AuthenticationError),
    (ccxt.AccountSuspended, errors.AuthenticationError),
    (ccxt.NotSupported, errors.NotSupported),
    (ccxt.BadRequest, errors.BadRequest),
    (ccxt.ArgumentsRequired, errors.BadRequest),
)


def translate(exc: ccxt.BaseError) -> errors.ExchangeError:
    """The port's error for a ccxt exception (same message; secrets already redacted by the
    gateway's retry layer). Anything unlisted is permanent, as `classify` treats it."""
    for ccxt_class, ours in _TRANSLATION:
        if isinstance(exc, ccxt_class):
            return ours(str(exc))
    return errors.PermanentError(f"{type(exc).__name__}: {exc}")


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """A gateway method that raises the port's errors instead of ccxt's."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise translate(exc) from None

    return wrapper
