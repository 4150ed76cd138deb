"""The venues' rate limits for the emulators, as documented (not taken from ccxt's tables, so a
wrong cost table in the bot shows up as refusals here).

Binance USDⓈ-M: request weight per IP per fixed minute (2,400), weights per endpoint from the
API docs; every answer carries `X-MBX-USED-WEIGHT-1M`; over the limit: HTTP 429, code -1003,
`Retry-After` (seconds to the next minute).
Bybit v5: 600 requests per 5 s per IP (over: HTTP 403 "access too frequent"); per UID and
private endpoint a per-second limit (over: HTTP 200, retCode 10006 "Too many visits!"); every
private answer carries `X-Bapi-Limit-Status`, `X-Bapi-Limit`, `X-Bapi-Limit-Reset-Timestamp`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

Refusal = tuple[int, Any, dict[str, str]]

BINANCE_WEIGHTS = {
    "/fapi/v1/exchangeInfo": 1, "/fapi/v1/time": 1, "/fapi/v1/userTrades": 5,
    "/fapi/v2/positionRisk": 5, "/fapi/v3/positionRisk": 5, "/fapi/v2/balance": 5,
    "/fapi/v3/balance": 5, "/fapi/v2/account": 5, "/fapi/v3/account": 5, "/fapi/v1/income": 30,
    "/fapi/v1/leverageBracket": 1, "/fapi/v1/positionSide/dual": 30,
}
BINANCE_NO_SYMBOL = {"/fapi/v1/ticker/24hr": 40, "/fapi/v1/openOrders": 40,
                     "/fapi/v1/openAlgoOrders": 40, "/fapi/v1/ticker/price": 2,
                     "/fapi/v1/premiumIndex": 10}


def binance_weight(method: str, path: str, params: dict[str, Any]) -> int:
    if method == "POST" and path == "/fapi/v1/order":
        return 0  # a new order counts on the account's order limits, not the IP weight
    if path in BINANCE_NO_SYMBOL:
        return 1 if params.get("symbol") else BINANCE_NO_SYMBOL[path]
    return BINANCE_WEIGHTS.get(path, 1)


class BinanceWeightLimiter:
    def __init__(self, limit: int = 2400, clock: Callable[[], float] = time.time) -> None:
        self.limit, self._clock = limit, clock
        self._lock = threading.Lock()
        self._minute = -1
        self.used = 0
        self.refused = 0
        self.weight_total = 0
        self.admitted: list[tuple[float, str, str]] = []  # (venue clock, method, path)

    def admit(self, method: str, path: str,
              params: dict[str, Any]) -> tuple[Refusal | None, dict[str, str]]:
        weight = binance_weight(method, path, params)
        with self._lock:
            now = self._clock()
            minute = int(now // 60)
            if minute != self._minute:
                self._minute, self.used = minute, 0
            self.used += weight  # refused requests count too, as on Binance
            self.weight_total += weight
            self.admitted.append((now, method, path))
            headers = {"X-MBX-USED-WEIGHT-1M": str(self.used)}
            if self.used <= self.limit:
                return None, headers
            self.refused += 1
            retry = str(int(60 - now % 60) + 1)
        body = {"code": -1003, "msg": f"Too many requests; current limit of IP is "
                                      f"{self.limit} requests per minute."}
        return (429, body, {**headers, "Retry-After": retry}), headers


BYBIT_UID_LIMITS = {"/v5/order/create": 10, "/v5/order/amend": 10, "/v5/order/cancel": 10,
                    "/v5/position/list": 50, "/v5/order/realtime": 50, "/v5/order/history": 50,
                    "/v5/execution/list": 50, "/v5/account/wallet-balance": 50,
                    "/v5/position/set-leverage": 10, "/v5/account/info": 50}


class BybitLimiter:
    def __init__(self, ip_limit: int = 600, ip_window_s: float = 5.0,
                 uid_limits: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.ip_limit, self.ip_window_s = ip_limit, ip_window_s
        self.uid_limits = dict(BYBIT_UID_LIMITS if uid_limits is None else uid_limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._ip: deque[float] = deque()
        self._uid: dict[str, deque[float]] = defaultdict(deque)
        self.refused = 0
        self.requests = 0

    def admit(self, method: str, path: str,
              params: dict[str, Any]) -> tuple[Refusal | None, dict[str, str]]:
        with self._lock:
            now = self._clock()
            self.requests += 1
            _trim(self._ip, now - self.ip_window_s)
            self._ip.append(now)
            if len(self._ip) > self.ip_limit:
                self.refused += 1
                return (403, {"retCode": 403, "retMsg": "access too frequent"}, {}), {}
            limit = self.uid_limits.get(path)
            if limit is None:
                return None, {}
            window = self._uid[path]
            _trim(window, now - 1.0)
            window.append(now)
            left = limit - len(window)
            reset_ms = int((window[0] + 1.0) * 1000) if left < 0 else int(now * 1000)
            headers = {"X-Bapi-Limit-Status": str(max(left, 0)), "X-Bapi-Limit": str(limit),
                       "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
            if left >= 0:
                return None, headers
            window.pop()  # a refused request does not use the endpoint's quota
            self.refused += 1
        body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {},
                "time": int(now * 1000)}
        return (200, body, headers), headers


def _trim(window: deque[float], before: float) -> None:
    while window and window[0] <= before:
        window.popleft()
