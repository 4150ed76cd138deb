"""Bybit v5 endpoints (the ones ccxt's `bybit` class calls for USDT linear perpetuals) answered
by an exchange behind the port, normally the shared PaperExchange.

Requests are translated to port calls; results to Bybit's JSON; ccxt errors raised by the port
to the retCodes ccxt's bybit class maps back to the same error classes. Unsupported requests
are refused with retCode 10001 and a message naming what is unsupported, never half-done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt  # type: ignore[import-untyped]
from loguru import logger

from exchange.paper_server import bybit_views as views
from exchange.port import ExchangePort

Json = dict[str, Any]
Reply = tuple[int, Json]
PUBLIC_PATHS = frozenset({"/v5/market/time", "/v5/market/instruments-info",
                          "/v5/market/tickers"})
# ccxt error class -> Bybit retCode that ccxt's bybit maps back to that class (first match wins)
ERROR_CODES: tuple[tuple[type[Exception], int], ...] = (
    (ccxt.OrderNotFound, 110001), (ccxt.InsufficientFunds, 110007),
    (ccxt.BadSymbol, 10001), (ccxt.InvalidOrder, 110032), (ccxt.BadRequest, 10001),
)


class RequestError(Exception):
    """A request this server refuses (bad or unsupported parameter): retCode 10001."""


class BybitApi:
    def __init__(self, port: ExchangePort, *, clock: Callable[[], float] = time.time) -> None:
        self._port = port
        self._clock = clock
        markets = port.load_markets()
        self._symbols = {m["id"]: symbol for symbol, m in markets.items()}
        self._markets = markets
        self._created_ms = int(getattr(port, "created_ms", 0))

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def route(self, method: str, path: str, params: Json) -> Reply:
        handler = getattr(self, "h_" + path.strip("/").replace("/", "_").replace("-", "_"), None)
        if handler is None or not path.startswith("/v5/"):
            return 404, {"retCode": 10001, "retMsg": f"paper server: no route {method} {path}"}
        try:
            return self._ok(handler(params))
        except RequestError as exc:
            return self._error(10001, str(exc))
        except ccxt.BaseError as exc:
            code = next((c for cls, c in ERROR_CODES if isinstance(exc, cls)), 10016)
            prefix = "Not supported symbols: " if isinstance(exc, ccxt.BadSymbol) else ""
            return self._error(code, prefix + str(exc))
        except (KeyError, ValueError, TypeError) as exc:  # a malformed field in the request
            return self._error(10001, f"paper server: bad parameter in {path}: "
                               f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one request's bug never stops the server
            logger.exception("paper server: {} {} failed", method, path)
            return self._error(10016, f"paper server: internal error: {type(exc).__name__}")

    def _ok(self, result: Json) -> Reply:
        return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                     "time": self.now_ms()}

    def _error(self, code: int, message: str) -> Reply:
        return 200, {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {},
                     "time": self.now_ms()}

    def _symbol(self, market_id: Any) -> str:
        symbol = self._symbols.get(str(market_id or ""))
        if symbol is None:
            raise ccxt.BadSymbol(f"paper server: unknown symbol {market_id!r}")
        return symbol

    def _wanted(self, params: Json) -> list[str] | None:
        return [self._symbol(params["symbol"])] if params.get("symbol") else None

    # ---- public ------------------------------------------------------------------------------

    def h_v5_market_time(self, p: Json) -> Json:
        now = self.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def h_v5_market_instruments_info(self, p: Json) -> Json:
        listed = p.get("category") == "linear" and p.get("status") in (None, "", "Trading")
        wanted = self._wanted(p) if listed else []
        symbols = list(self._markets) if wanted is None else wanted
        rows = [views.instrument(self._markets[s], self._created_ms) for s in symbols]
        return {"category": p.get("category"), "list": rows, "nextPageCursor": ""}

    def h_v5_market_tickers(self, p: Json) -> Json:
        tickers = self._port.fetch_tickers(self._wanted(p))
        rows = [views.ticker(self._markets[s]["id"], t) for s, t in tickers.items()]
        return {"category": "linear", "list": rows}

    # ---- account -----------------------------------------------------------------------------

    def h_v5_asset_coin_query_info(self, p: Json) -> Json:
        return {"rows": []}

    def h_v5_user_query_api(self, p: Json) -> Json:
        return {"id": "1", "readOnly": 0, "unified": 0, "uta": 1, "isMaster": True}

    def h_v5_account_info(self, p: Json) -> Json:
        return {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 5,
                "updatedTime": str(self._created_ms)}

    def h_v5_account_wallet_balance(self, p: Json) -> Json:
        return {"list": [views.wallet(self._port.fetch_balance())]}

    def h_v5_position_list(self, p: Json) -> Json:
        wanted = self._wanted(p)
        positions = self._port.fetch_positions(wanted)
        rows = [views.position(self._markets[x["symbol"]]["id"], x,
                               int((x.get("info") or {}).get("positionIdx") or 0), self.now_ms())
                for x in positions if x.get("contracts")]
        for symbol in wanted or []:
            if not any(x["symbol"] == symbol for x in positions if x.get("contracts")):
                rows.append(views.position(self._markets[symbol]["id"], None, 0, self.now_ms()))
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    # ---- orders ------------------------------------------------------------------------------

    def h_v5_order_create(self, p: Json) -> Json:
        if p.get("category") not in (None, "linear"):
            raise RequestError(f"paper server: category {p.get('category')!r} not supported "
                               "(linear USDT perpetuals only)")
        for key in ("takeProfit", "stopLoss", "tpslMode"):
            if p.get(key):
                raise RequestError(f"paper server: {key} (position TP/SL) not supported; "
                                   "place a reduce-only conditional order instead")
        symbol = self._symbol(p.get("symbol"))
        order_type = str(p.get("orderType", "")).lower()
        if order_type not in ("market", "limit"):
            raise RequestError(f"paper server: orderType {p.get('orderType')!r} not supported")
        price = _decimal(p, "price") if order_type == "limit" else None
        created = self._port.create_order(symbol, order_type, str(p.get("side", "")).lower(),
                                          _decimal(p, "qty"), price, _order_params(p))
        return {"orderId": str(created["id"]), "orderLinkId": created.get("clientOrderId") or ""}

    def h_v5_order_cancel(self, p: Json) -> Json:
        symbol = self._symbol(p.get("symbol"))
        link = p.get("orderLinkId") or None
        canceled = self._port.cancel_order(p.get("orderId") or None, symbol,
                                           {"clientOrderId": link} if link else {})
        return {"orderId": str(canceled["id"]), "orderLinkId": canceled.get("clientOrderId") or ""}

    def h_v5_order_amend(self, p: Json) -> Json:
        raise RequestError("paper server: order amend is not supported (the paper exchange has "
                           "no amend); move a stop by placing the new one, then cancelling")

    def h_v5_order_realtime(self, p: Json) -> Json:
        orders = [o for o in self._port.fetch_open_orders(*self._one_symbol(p)) if _wanted(o, p)]
        orders.sort(key=lambda o: -int(o["timestamp"]))
        rows = [views.order(self._markets[o["symbol"]]["id"], o) for o in orders]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def h_v5_order_history(self, p: Json) -> Json:
        """Finished orders: by orderId / orderLinkId any finished order; without one, the
        orders that traded (the paper exchange keeps no list of cancelled orders to page)."""
        symbols = self._wanted(p) or list(self._markets)
        found: dict[str, Json] = {}
        for symbol in symbols:
            for order in self._finished(symbol, p):
                if order["status"] != "open" and _wanted(order, p):
                    found[str(order["id"])] = order
        rows = [views.order(self._markets[o["symbol"]]["id"], o)
                for o in sorted(found.values(), key=lambda o: -int(o["timestamp"]))]
        limit = int(p.get("limit") or 50)
        return {"category": "linear", "list": rows[:limit], "nextPageCursor": ""}

    def _finished(self, symbol: str, p: Json) -> list[Json]:
        if p.get("orderId") or p.get("orderLinkId"):
            link = p.get("orderLinkId") or None
            try:
                return [self._port.fetch_order(p.get("orderId") or None, symbol,
                                               {"clientOrderId": link} if link else {})]
            except ccxt.OrderNotFound:
                return []
        trades = self._port.fetch_my_trades(symbol)
        ids = list(dict.fromkeys(str(t["order"]) for t in trades))
        return [self._port.fetch_order(i, symbol) for i in ids]

    def _one_symbol(self, p: Json) -> tuple[str | None]:
        return (self._symbol(p["symbol"]) if p.get("symbol") else None,)

    def h_v5_execution_list(self, p: Json) -> Json:
        since = int(p["startTime"]) if p.get("startTime") else None
        symbols = self._wanted(p) or list(self._markets)
        rows = []
        for symbol in symbols:
            for trade in self._port.fetch_my_trades(symbol, since):
                rows.append(views.execution(self._markets[symbol]["id"], trade, "Market"))
        rows.sort(key=lambda r: -int(r["execTime"]))
        limit = int(p.get("limit") or 50)
        return {"category": "linear", "list": rows[:limit], "nextPageCursor": ""}


def _wanted(order: Json, p: Json) -> bool:
    if p.get("orderId") and str(order["id"]) != str(p["orderId"]):
        return False
    if p.get("orderLinkId") and order.get("clientOrderId") != p["orderLinkId"]:
        return False
    is_stop = order.get("triggerPrice") is not None or order.get("stopLossPrice") is not None
    match p.get("orderFilter"):
        case "StopOrder" | "tpslOrder":
            return is_stop
        case "Order":
            return not is_stop
    return True


def _decimal(p: Json, key: str) -> Decimal:
    try:
        value = Decimal(str(p.get(key)))
    except InvalidOperation:
        raise RequestError(f"paper server: {key} must be a number, got {p.get(key)!r}") from None
    if not value.is_finite() or value <= 0:
        raise RequestError(f"paper server: {key} must be positive, got {p.get(key)!r}")
    return value


def _order_params(p: Json) -> Json:
    """Bybit order fields -> the port's unified params (see exchange/port.py)."""
    params: Json = {}
    if p.get("orderLinkId"):
        params["clientOrderId"] = str(p["orderLinkId"])
    if _true(p.get("reduceOnly")):
        params["reduceOnly"] = True
    if p.get("triggerPrice"):
        direction = str(p.get("triggerDirection") or "")
        if direction not in ("1", "2"):
            raise RequestError("paper server: triggerDirection must be 1 (rise) or 2 (fall) "
                               f"with triggerPrice, got {p.get('triggerDirection')!r}")
        params["triggerPrice"] = _decimal(p, "triggerPrice")
        params["triggerDirection"] = "above" if direction == "1" else "below"
    if p.get("positionIdx") not in (None, ""):
        params["positionIdx"] = int(p["positionIdx"])
    return params


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
