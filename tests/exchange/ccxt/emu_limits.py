"""The venues' rate limits for the emulators, as documented (not taken from ccxt's tables, so a
wrong cost table in the bot shows up as refusals here).

Binance USDⓈ-M: request weight per IP per fixed minute (2,400), weights per endpoint from the
API docs; every answer carries `X-MBX-USED-WEIGHT-1M`; over the limit: HTTP 429, code -1003,
`Retry-After` (seconds to the next minute). New orders per account: 300 per 10 s and 1,200 per
minute (fixed windows); an order's answer carries `X-MBX-ORDER-COUNT-10S` and
`X-MBX-ORDER-COUNT-1M`; over either: HTTP 429, code -1015, no `Retry-After`.
Bybit v5: 600 requests per 5 s per IP (over: HTTP 403 "access too frequent", and the IP is
banned: every request answers 403 for 10 minutes); per UID and private endpoint a per-second
limit (over: HTTP 200, retCode 10006 "Too many visits!"); every private answer carries
`X-Bapi-Limit-Status`, `X-Bapi-Limit`, `X-Bapi-Limit-Reset-Timestamp`.
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
BINANCE_ORDER_LIMITS = {10: 300, 60: 1200}
"""New orders per account: window (s) -> limit."""
BINANCE_NO_SYMBOL = {"/fapi/v1/ticker/24hr": 40, "/fapi/v1/openOrders": 40,
                     "/fapi/v1/openAlgoOrders": 40, "/fapi/v1/ticker/price": 2,
                     "/fapi/v2/ticker/price": 2, "/fapi/v1/premiumIndex": 10}
BINANCE_WRONG_WEIGHT_HEADER = frozenset({"/fapi/v2/ticker/price"})
"""Symbol Price Ticker V2's docs: "The field X-MBX-USED-WEIGHT-1M in response header is not
accurate from this endpoint, please ignore." Its answers here carry one that says the minute
is spent (`BinanceWeightLimiter.wrong_used`), while the limiter counts its true weight."""


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
        self.orders = {window: 0 for window in BINANCE_ORDER_LIMITS}
        """The account's new orders in each current window."""
        self._order_windows = {window: -1 for window in BINANCE_ORDER_LIMITS}
        self.orders_admitted = 0
        self.wrong_used: int = limit
        """What the inaccurate header of `BINANCE_WRONG_WEIGHT_HEADER` says this IP used."""

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
            headers = {"X-MBX-USED-WEIGHT-1M": str(self.wrong_used if path in
                                                    BINANCE_WRONG_WEIGHT_HEADER else self.used)}
            if self.used > self.limit:
                self.refused += 1
                retry = str(int(60 - now % 60) + 1)
                body = {"code": -1003, "msg": f"Too many requests; current limit of IP is "
                                              f"{self.limit} requests per minute."}
                return (429, body, {**headers, "Retry-After": retry}), headers
            if (method, path) == ("POST", "/fapi/v1/order"):
                return self._new_order(now, headers)
            return None, headers

    def placed_elsewhere(self, count: int, windows: tuple[int, ...] = (10, 60)) -> None:
        """Another program on the same account placed `count` new orders in the current
        `windows` (seconds)."""
        with self._lock:
            self._roll(self._clock())
            for window in windows:
                self.orders[window] += count

    def _roll(self, now: float) -> None:
        for window in self.orders:
            if int(now // window) != self._order_windows[window]:
                self._order_windows[window], self.orders[window] = int(now // window), 0

    def _new_order(self, now: float,
                   headers: dict[str, str]) -> tuple[Refusal | None, dict[str, str]]:
        self._roll(now)
        over = [w for w, limit in BINANCE_ORDER_LIMITS.items() if self.orders[w] >= limit]
        if not over:
            for window in self.orders:
                self.orders[window] += 1
            self.orders_admitted += 1
        headers = {**headers, "X-MBX-ORDER-COUNT-10S": str(self.orders[10]),
                   "X-MBX-ORDER-COUNT-1M": str(self.orders[60])}
        if not over:
            return None, headers
        self.refused += 1
        window = over[-1]
        interval = "MINUTE" if window == 60 else "10 SECOND"
        body = {"code": -1015, "msg": f"Too many new orders; current limit is "
                                      f"{BINANCE_ORDER_LIMITS[window]} orders per {interval}."}
        return (429, body, headers), headers


BYBIT_UID_LIMITS = {"/v5/order/create": 10, "/v5/order/amend": 10, "/v5/order/cancel": 10,
                    "/v5/position/list": 50, "/v5/order/realtime": 50, "/v5/order/history": 50,
                    "/v5/execution/list": 50, "/v5/account/wallet-balance": 50,
                    "/v5/position/set-leverage": 10, "/v5/account/info": 50}


BYBIT_BAN_S = 600.0
"""How long the IP stays banned after its first 403 (Bybit: at least 10 minutes)."""


class BybitLimiter:
    def __init__(self, ip_limit: int = 600, ip_window_s: float = 5.0,
                 uid_limits: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.time,
                 ban_body: Any = None) -> None:
        self.ip_limit, self.ip_window_s = ip_limit, ip_window_s
        self.uid_limits = dict(BYBIT_UID_LIMITS if uid_limits is None else uid_limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._ip: deque[float] = deque()
        self._uid: dict[str, deque[float]] = defaultdict(deque)
        self.refused = 0
        self.requests = 0
        self.ban_body = ({"retCode": 403, "retMsg": "access too frequent"}
                         if ban_body is None else ban_body)
        self.banned_until: float | None = None
        self.refused_at: list[tuple[float, str]] = []  # (venue clock, path) of each 403

    def crowd(self, count: int) -> None:
        """Another program on the same IP sent `count` requests just now."""
        with self._lock:
            self._ip.extend([self._clock()] * count)

    def admit(self, method: str, path: str,
              params: dict[str, Any]) -> tuple[Refusal | None, dict[str, str]]:
        with self._lock:
            now = self._clock()
            self.requests += 1
            _trim(self._ip, now - self.ip_window_s)
            self._ip.append(now)
            if self.banned_until is not None and now >= self.banned_until:
                self.banned_until = None
            if self.banned_until is None and len(self._ip) > self.ip_limit:
                self.banned_until = now + BYBIT_BAN_S
            if self.banned_until is not None:
                self.refused += 1
                self.refused_at.append((now, path))
                return (403, self.ban_body, {}), {}
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
