"""The errors the exchange port raises, whichever exchange is behind it.

Two families, split the way Freqtrade splits them, because callers act on the split:

  TemporaryError  the request may succeed if tried again later (network, timeout, rate limit,
                  exchange down). Reads may be retried; an order-creating call that failed this
                  way may still have landed and is resolved by looking its client order id up.
  PermanentError  trying again gives the same answer (insufficient funds, invalid order,
                  unknown order, unknown symbol, bad credentials, unsupported feature).

`OrderOutcomeUnknown` is neither: an order-creating call failed ambiguously and a lookup by
client order id did not settle it. The ccxt gateway translates ccxt's exceptions into these
once (`exchange/ccxt/errors.py`); the paper exchange raises them directly.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Anything the exchange port raises on purpose."""


class TemporaryError(ExchangeError):
    """May succeed later: retry (reads) or look the order up (creates)."""


class NetworkError(TemporaryError):
    """The connection failed or the answer could not be read."""


class RequestTimeout(NetworkError):
    """No answer in time: the request may or may not have been acted on."""


class RateLimited(TemporaryError):
    """The exchange refused the request before acting on it, because of its rate limit."""


class ExchangeUnavailable(TemporaryError):
    """The exchange is down, in maintenance, or this port is closed."""


class PermanentError(ExchangeError):
    """The same request gets the same refusal: do not retry it unchanged."""


class InsufficientFunds(PermanentError):
    """Not enough free balance (margin) for the order."""


class InvalidOrder(PermanentError):
    """The order breaks a rule: size, price, precision, reduce-only on a flat side, id format,
    position mode, trigger on the wrong side of the price."""


class OrderNotFound(PermanentError):
    """No order with that id / client order id (or, for a cancel, none still open)."""


class BadSymbol(PermanentError):
    """The exchange does not list this market."""


class AuthenticationError(PermanentError):
    """Credentials missing, wrong, or without the permission needed."""


class NotSupported(PermanentError):
    """The exchange cannot do what was asked (a feature or mode it lacks)."""


class BadRequest(PermanentError):
    """The call itself is malformed (a required argument is missing)."""


class OrderOutcomeUnknown(ExchangeError):
    """An order-creating call failed ambiguously and the order could not be found by its
    client order id afterwards. It may or may not exist: reconcile later by that id, never
    resend under a new one."""

    def __init__(self, message: str, client_order_id: str | None = None) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
