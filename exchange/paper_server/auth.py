"""Bybit v5 request signing, checked the way Bybit checks it.

A private request carries X-BAPI-API-KEY, X-BAPI-TIMESTAMP (ms), X-BAPI-RECV-WINDOW (ms) and
X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp + api_key + recv_window + payload), where the
payload is the raw query string of a GET and the raw JSON body of a POST. The request is
refused when the key is unknown (10003), the signature differs (10004) or the timestamp lies
outside [server time - recv_window, server time + 1 s] (10002), as on Bybit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_RECV_WINDOW_MS = 5000
FUTURE_TOLERANCE_MS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthFailure:
    """Why a signed request was refused, as Bybit's retCode and retMsg."""

    code: int
    """Bybit retCode (10002 timestamp, 10003 key, 10004 signature)."""
    message: str
    """Bybit-style retMsg; never contains the secret."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeys:
    """The keys the server accepts: api key -> secret. repr() never shows a secret."""

    secrets: Mapping[str, str] = field(repr=False)
    """api key -> secret."""

    def __repr__(self) -> str:
        return f"ApiKeys({len(self.secrets)} key(s))"

    def verify(self, headers: Mapping[str, str], payload: str, now_ms: int) -> AuthFailure | None:
        """None when the request is correctly signed, else the reason it is refused."""
        key = headers.get("X-BAPI-API-KEY", "")
        secret = self.secrets.get(key)
        if not key or secret is None:
            return AuthFailure(code=10003, message="API key is invalid.")
        timestamp = headers.get("X-BAPI-TIMESTAMP", "")
        window = headers.get("X-BAPI-RECV-WINDOW", "") or str(DEFAULT_RECV_WINDOW_MS)
        if not _digits(timestamp) or not _digits(window):
            return AuthFailure(code=10002, message="invalid request, please check your "
                               "timestamp and recv_window param")
        if not now_ms - int(window) <= int(timestamp) <= now_ms + FUTURE_TOLERANCE_MS:
            return AuthFailure(code=10002, message=(
                f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{now_ms}],recv_window[{window}]"))
        expected = sign(secret, timestamp + key + window + payload)
        given = headers.get("X-BAPI-SIGN", "")
        # compare_digest raises TypeError on non-ASCII text (a 500 page and a traceback)
        if not given.isascii() or not hmac.compare_digest(expected, given.lower()):
            return AuthFailure(code=10004, message="error sign! please check your signature")
        return None


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _digits(text: str) -> bool:
    """ASCII digits only: '²'.isdigit() is True and int('²') a ValueError."""
    return text.isascii() and text.isdigit()
