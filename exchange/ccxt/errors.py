"""ccxt's exceptions, classified for the gateway's retry policy and translated into the
port's own errors (`exchange/errors.py`) once, where they leave the gateway (`translated`).

`classify(exc, order_call=...)` sorts a ccxt exception into:

  retryable  the request was not (or need not be) acted on: retry with backoff.
             Order calls: only REJECTED_BEFORE_PROCESSING (rate limit, DDoS protection,
             invalid nonce: the venue refused before acting). Other calls (reads, cancels):
             the whole NetworkError family, BadResponse / NullResponse and the venue codes of
             UNKNOWN_OUTCOME_CODES and TRY_AGAIN_CODES (Binance -1001, -1008; Bybit 429)
             too. A cancel whose outcome is unknown is settled by asking again: a cancel that
             did happen is answered "not found" the second time, and the caller looks the
             order up (actors/command_executor.py); one still unsettled after the last attempt
             leaves the gateway as RequestTimeout (temporary), not permanent.
  ambiguous  an order-creating call whose outcome is unknown: every OperationFailed (the
             NetworkError family - timeouts, 5xx answers (ExchangeNotAvailable), a connection
             dropped after the request was written - BadResponse, and ccxt's plain
             OperationFailed, e.g. Binance -1000 / -1006 "execution status unknown") and the
             venue codes of UNKNOWN_OUTCOME_CODES (Bybit 10000 / 5004 "Server Timeout", 10016
             "System error", which ccxt raises as plain ExchangeError) and TRY_AGAIN_CODES
             (Bybit 429 "high server load"). The order may exist: look it up
             by clientOrderId; never resend (Binance accepts a client id again once its first
             order is no longer open, so a resent market order fills twice).
  permanent  everything else: InsufficientFunds, InvalidOrder (incl. OrderNotFound), BadSymbol,
             AuthenticationError (incl. PermissionDenied), BadRequest, other ExchangeError, and
             anything that is not a ccxt error. Raise at once. (A read's OperationFailed that
             is no NetworkError stays permanent, unless its code is in TRY_AGAIN_CODES.)

`scrub` / `redact` mask the API key and secret and every request signature (ccxt puts the
signed URL, `...&signature=<hex>`, into timeout and network error messages).

`OrderOutcomeUnknown` is the port's own (`exchange.errors`): the gateway raises it itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Literal, ParamSpec, TypeVar

import ccxt
from loguru import logger

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

UNKNOWN_OUTCOME_CODES = frozenset({
    "-1000", "-1006", "-1007",  # Binance: unknown error; execution status unknown; timeout
    "10000", "10016",  # Bybit: server timeout; system error (ccxt: plain ExchangeError)
    "5004",  # Bybit: "Server Timeout" too (ccxt: plain ExchangeError)
})
"""Venue error codes that leave an order's outcome unknown, whatever class ccxt gives them."""

TRY_AGAIN_CODES = frozenset({
    "-1001",  # Binance DISCONNECTED: "Internal error; unable to process your request. Please
    "-1008",  # try again."; SERVER_BUSY / "Request throttled by system-level protection"
    "429",  # Bybit (unified account): "The trading service is experiencing a high server
})  # load. Please retry if you encounter this issue." (HTTP 200; ccxt: plain ExchangeError)
"""Venue error codes that say "try again later" and that ccxt raises as no NetworkError
(OperationFailed, plain ExchangeError): a read or a cancel retries them and, still refused
after its last attempt, is a temporary error (ExchangeUnavailable). An order call answered
so is looked up by client id (ambiguous)."""

_CODE = re.compile(r'"(?:code|retCode|ret_code)"\s*:\s*"?(-?\d+)')
_SIGNATURE = re.compile(
    r"(?i)(\b(?:signature|sign|x-bapi-sign|x-mbx-signature)[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',}]+")


UNREADABLE: tuple[type[Exception], ...] = (TypeError, AttributeError, KeyError, IndexError,
                                           ValueError, ArithmeticError)
"""What ccxt's parsers raise on a JSON answer of a shape the venue never gives (a row that is
`null`, an object where a list belongs, a number that is not one: ccxt's Precise raises
ValueError), and so does our reading of what they made of it (`lookup.py`)."""


def unreadable(exc: BaseException, what: str) -> ccxt.BadResponse:
    """`exc`, raised while `what` read the venue's answer, as the unreadable answer it is."""
    return ccxt.BadResponse(f"{what}: unreadable answer ({type(exc).__name__}: {exc})")


def venue_code(exc: BaseException) -> str | None:
    """The venue's error code in a ccxt message (ccxt puts the answer's body in it)."""
    found = _CODE.search(str(exc))
    return found.group(1) if found else None


def classify(exc: BaseException, *, order_call: bool) -> Kind:
    """Sort `exc` into retryable / ambiguous / permanent (see module docstring)."""
    if isinstance(exc, OrderOutcomeUnknown):
        return "ambiguous"
    if isinstance(exc, REJECTED_BEFORE_PROCESSING):
        return "retryable"
    if not order_call:
        return "retryable" if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse) or (
            _unknown_outcome(exc) or _try_again(exc)) else "permanent"
    if isinstance(exc, ccxt.OperationFailed):
        return "ambiguous"
    if _unknown_outcome(exc) or _try_again(exc):
        return "ambiguous"
    return "permanent"


def _unknown_outcome(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.BaseError) and venue_code(exc) in UNKNOWN_OUTCOME_CODES


def _try_again(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.BaseError) and venue_code(exc) in TRY_AGAIN_CODES


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with every secret string and every request signature masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", text)


def redact(exc: BaseException, secrets: tuple[str, ...]) -> BaseException:
    """Return `exc`, or a copy of the same class with every secret string and signature masked
    out of its message (ccxt messages can carry request/response text)."""
    message = str(exc)
    cleaned = scrub(message, secrets)
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
    """The port's error for a ccxt exception (same message, signatures masked; secrets already
    redacted by the gateway's retry layer). Anything unlisted is permanent."""
    message = scrub(str(exc))
    for ccxt_class, ours in _TRANSLATION:
        if isinstance(exc, ccxt_class):
            return ours(message)
    if _unknown_outcome(exc):  # e.g. Bybit 10000 "Server Timeout": it may have been done
        return errors.RequestTimeout(f"{type(exc).__name__}: {message}")
    if _try_again(exc):  # e.g. Binance -1008 "Server is currently overloaded"
        return errors.ExchangeUnavailable(f"{type(exc).__name__}: {message}")
    return errors.PermanentError(f"{type(exc).__name__}: {message}")


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """A gateway method that raises the port's errors instead of ccxt's. With several accounts
    in one process, every line logged during the call (the gateway's, its retries', lookups',
    fee and markets reads') carries the gateway's `account` (loguru's `extra`, the account's
    log files), as the account's own lines do."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        account = getattr(args[0], "account", None) if args else None
        try:
            if account is None:
                return method(*args, **kwargs)
            with logger.contextualize(account=account):
                return method(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise translate(exc) from None

    return wrapper
