"""Request signing as the venues check it, for the HTTP emulators: a request the real venue
would refuse for its key, signature or timestamp is refused here too, with the venue's answer.

Bybit v5: private endpoints (everything but /v5/market/*) carry X-BAPI-API-KEY,
X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW and X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp +
key + recv_window + payload), the payload being the raw query string of a GET and the raw body
of a POST; checked by the paper server's own verifier (exchange/paper_server/auth.py: retCode
10003 key, 10004 signature, 10002 timestamp outside [now - recv_window, now + 1 s]).

Binance USDⓈ-M: SIGNED endpoints (TRADE, USER_DATA) carry `timestamp`, optional `recvWindow`
(default 5,000 ms) and `signature` = hex HMAC-SHA256(secret, totalParams), totalParams being
the query string followed by the body, without the signature itself, plus the X-MBX-APIKEY
header; USER_STREAM (listenKey) needs the key only, market data nothing. Refusals: HTTP 401
-2015 (key), 400 -1022 (signature), 400 -1021 (timestamp outside the window: timestamp >=
server time + 1 s or server time - timestamp > recvWindow), 400 -1102 (no signature).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from exchange.paper_server.auth import ApiKeys

API_KEY = "TESTKEY-abcdef0123456789"
API_SECRET = "TESTSECRET-zyxwvu9876543210"

BINANCE_PUBLIC = ("/fapi/v1/exchangeInfo", "/fapi/v1/time", "/fapi/v1/ping",
                  "/fapi/v1/ticker/", "/fapi/v2/ticker/", "/fapi/v1/premiumIndex",
                  "/fapi/v1/depth",
                  "/fapi/v1/klines", "/fapi/v1/fundingRate", "/fapi/v1/trades")
BINANCE_KEY_ONLY = ("/fapi/v1/listenKey",)
BINANCE_FUTURE_TOLERANCE_MS = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def bybit_refusal(path: str, method: str, query: str, body: str, headers: Mapping[str, str],
                  keys: Mapping[str, str], offset_ms: int = 0) -> tuple[int, Any] | None:
    """`offset_ms`: the venue's clock minus this machine's."""
    if path.startswith("/v5/market/"):
        return None
    failure = ApiKeys(secrets=keys).verify(headers, query if method == "GET" else body,
                                           now_ms() + offset_ms)
    if failure is None:
        return None
    return 200, {"retCode": failure.code, "retMsg": failure.message, "result": {},
                 "retExtInfo": {}, "time": now_ms() + offset_ms}


def binance_refusal(path: str, query: str, body: str, headers: Mapping[str, str],
                    keys: Mapping[str, str]) -> tuple[int, Any] | None:
    if path.startswith(BINANCE_PUBLIC):
        return None
    secret = keys.get(headers.get("X-MBX-APIKEY", ""))
    if secret is None:
        return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
    if path.startswith(BINANCE_KEY_ONLY):
        return None
    total = query + body
    params = dict(parse_qsl(total, keep_blank_values=True))
    signature = params.get("signature")
    if not signature:
        return 400, {"code": -1102, "msg": "Mandatory parameter 'signature' was not sent, "
                                           "was empty/null, or malformed."}
    signed = total.replace(f"&signature={signature}", "").replace(f"signature={signature}", "")
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
    stamp, window = params.get("timestamp", ""), params.get("recvWindow", "5000")
    server = now_ms()
    if (not stamp.isdigit() or not window.isdigit()
            or int(stamp) >= server + BINANCE_FUTURE_TOLERANCE_MS
            or server - int(stamp) > int(window)):
        return 400, {"code": -1021, "msg": "Timestamp for this request is outside of the "
                                           "recvWindow."}
    return None
