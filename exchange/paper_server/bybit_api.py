"""Bybit v5 endpoints (the ones ccxt's `bybit` class calls for USDT linear perpetuals) answered
by an exchange behind the port, normally the shared PaperExchange.

Requests are translated to port calls; the port's records (`exchange/records.py`) to Bybit's
JSON (`bybit_views`); the port's errors (`exchange/errors.py`) to the retCodes that ccxt's
bybit class maps to the matching ccxt classes, which the bot's ccxt gateway translates back
to the same port errors. Unsupported requests are refused with retCode 10001 and a message
naming what is unsupported, never half-done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from loguru import logger

from exchange import errors
from exchange.paper.markets import split_symbol
from exchange.paper_server import bybit_views as views
from exchange.port import ExchangePort
from exchange.records import VenueFill, VenueOrder

Json = dict[str, Any]
Reply = tuple[int, Json | str]
"""HTTP status and body: Bybit's JSON, or plain text where Bybit answers with no JSON."""
PUBLIC_PATHS = frozenset({"/v5/market/time", "/v5/market/instruments-info",
                          "/v5/market/tickers"})
POST_PATHS = frozenset({"/v5/order/create", "/v5/order/cancel", "/v5/order/amend",
                        "/v5/position/set-leverage"})
"""The endpoints Bybit serves on POST; every other one only on GET."""
# port error class -> (Bybit retCode, retMsg prefix) that ccxt 4.5's bybit maps to the ccxt
# class the gateway translates back to it (first match wins; see `exceptions` in ccxt's bybit)
ERROR_CODES: tuple[tuple[type[Exception], int, str], ...] = (
    (errors.OrderNotFound, 110001, ""),  # OrderNotFound
    (errors.InsufficientFunds, 110007, ""),  # InsufficientFunds
    (errors.BadSymbol, 10001, "Not supported symbols: "),  # broad match -> BadSymbol
    (errors.InvalidOrder, 110032, ""),  # InvalidOrder ("Illegal order")
    (errors.AuthenticationError, 10003, ""),  # AuthenticationError
    (errors.BadRequest, 10001, ""),  # BadRequest
    (errors.NotSupported, 10001, ""),  # BadRequest: ccxt's bybit has no trading NotSupported
    (errors.RateLimited, 10006, ""),  # RateLimitExceeded
    (errors.RequestTimeout, 170007, ""),  # RequestTimeout
)
# Errors with no Bybit retCode: an HTTP status and a non-JSON body, which ccxt's bybit leaves
# to the HTTP status mapping (503 -> ExchangeNotAvailable), as for Bybit's maintenance page.
UNAVAILABLE = (errors.ExchangeUnavailable, errors.NetworkError)


class RequestError(Exception):
    """A request this server refuses (bad or unsupported parameter): retCode 10001, unless
    it names Bybit's own code for it (`code`)."""

    def __init__(self, message: str, code: int = 10001) -> None:
        super().__init__(message)
        self.code = code


class BybitApi:
    def __init__(self, port: ExchangePort, *, clock: Callable[[], float] = time.time) -> None:
        self._port = port
        self._clock = clock
        self._markets = port.load_markets()
        self._ids = {symbol: market_id(symbol) for symbol in self._markets}
        self._symbols = {mid: symbol for symbol, mid in self._ids.items()}
        self._created_ms = int(getattr(port, "created_ms", 0))
        self._leverage = Decimal(getattr(port, "leverage", 1))

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def route(self, method: str, path: str, params: Json) -> Reply:
        handler = getattr(self, "h_" + path.strip("/").replace("/", "_").replace("-", "_"), None)
        if method not in ("GET", "POST"):  # Bybit: 400, "send the request with GET / POST"
            return 400, {"retCode": 10001, "retMsg": f"paper server: method {method} not "
                         "allowed; send the request with GET / POST"}
        wrong_method = method != ("POST" if path in POST_PATHS else "GET")
        if handler is None or not path.startswith("/v5/") or wrong_method:
            # Bybit routes by method and path: a GET endpoint asked by POST (or the reverse)
            # is a path it cannot find (404), never the handler run with the wrong parameters
            return 404, {"retCode": 10001, "retMsg": f"paper server: no route {method} {path}"}
        try:
            return self._ok(handler(params))
        except RequestError as exc:
            return self._error(exc.code, str(exc))
        except errors.ExchangeError as exc:
            return self._refusal(exc)
        except (KeyError, ValueError, TypeError) as exc:  # a malformed field in the request
            return self._error(10001, f"paper server: bad parameter in {path}: "
                               f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one request's bug never stops the server
            logger.exception("paper server: {} {} failed", method, path)
            return self._error(10016, f"paper server: internal error: {type(exc).__name__}")

    def _refusal(self, exc: errors.ExchangeError) -> Reply:
        for cls, code, prefix in ERROR_CODES:
            if isinstance(exc, cls):
                return self._error(code, prefix + str(exc))
        if isinstance(exc, UNAVAILABLE):
            return 503, f"paper server: service unavailable: {exc}"
        return self._error(10016, str(exc))  # ExchangeError

    def _ok(self, result: Json) -> Reply:
        return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {},
                     "time": self.now_ms()}

    def _error(self, code: int, message: str) -> Reply:
        return 200, {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {},
                     "time": self.now_ms()}

    def _symbol(self, market_id: Any) -> str:
        symbol = self._symbols.get(str(market_id or ""))
        if symbol is None:
            raise errors.BadSymbol(f"paper server: unknown symbol {market_id!r}")
        return symbol

    def _wanted(self, params: Json) -> list[str] | None:
        return [self._symbol(params["symbol"])] if params.get("symbol") else None

    def _settles_in(self, symbol: str, params: Json) -> bool:
        """A listing without a symbol covers the `settleCoin` asked for, as Bybit's: the
        gateway reads once per settle coin, and every symbol each time was listed twice."""
        coin = params.get("settleCoin")
        if params.get("symbol") or not coin:
            return True
        market = self._markets.get(symbol)
        return str(coin) == ((market.settle if market else None) or split_symbol(symbol)[2])

    # ---- public ------------------------------------------------------------------------------

    def h_v5_market_time(self, p: Json) -> Json:
        now = self.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def h_v5_market_instruments_info(self, p: Json) -> Json:
        listed = p.get("category") == "linear" and p.get("status") in (None, "", "Trading")
        wanted = self._wanted(p) if listed else []
        symbols = list(self._markets) if wanted is None else wanted
        rows = [views.instrument(self._ids[s], self._markets[s], self._created_ms)
                for s in symbols]
        return {"category": p.get("category"), "list": rows, "nextPageCursor": ""}

    def h_v5_market_tickers(self, p: Json) -> Json:
        tickers = self._port.fetch_tickers(self._wanted(p))
        rows = [views.ticker(self._ids[s], t) for s, t in tickers.items()]
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
        funds = self._port.fetch_balance().funds(views.SETTLE)
        wallet_balance = getattr(self._port, "wallet_balance", None)  # the paper exchange's
        wallet = wallet_balance() if wallet_balance is not None else funds.total
        return {"list": [views.wallet(funds, wallet)]}

    def h_v5_position_list(self, p: Json) -> Json:
        wanted = self._wanted(p)
        positions = [x for x in self._port.fetch_positions(wanted)
                     if x.contracts and self._settles_in(x.symbol, p)]
        now = self.now_ms()
        rows = [views.position(self._ids[x.symbol], x, self._leverage, now) for x in positions]
        legs = (1, 2) if getattr(self._port, "hedge_mode", False) else (0,)
        for symbol in wanted or []:  # Bybit lists a symbol asked (each hedge leg) when flat
            held = {x.position_side.idx for x in positions if x.symbol == symbol}
            rows += [views.flat_position(self._ids[symbol], now, idx)
                     for idx in legs if idx not in held]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def h_v5_position_set_leverage(self, p: Json) -> Json:
        """As Bybit: buy and sell alike from 1 to the listing's maxLeverage (else 10001
        "leverage invalid"), the value the symbol has already: 110043 "leverage not modified"
        (the bot's gateway takes that as success). The port records it (the bot sets it before a
        symbol's first entry); the paper margin stays the server's `risk.leverage`."""
        symbol = self._symbol(p.get("symbol"))
        buy, sell = _decimal(p, "buyLeverage"), _decimal(p, "sellLeverage")
        top = Decimal(views.MAX_LEVERAGE)
        if buy != sell or buy != buy.to_integral_value() or not 1 <= buy <= top:
            raise RequestError(f"leverage invalid: {buy}/{sell} (1 to {top}, whole, both "
                               "sides alike)")
        held = getattr(self._port, "leverages", {}).get(symbol, self._leverage)
        if held == buy:
            raise RequestError("leverage not modified", code=110043)
        self._port.set_leverage(int(buy), symbol)
        return {}

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
        tif = p.get("timeInForce") or "GTC"
        if tif != "GTC" and not (order_type == "market" and tif in ("IOC", "FOK")):
            # the paper exchange rests a limit order until it fills (GTC): a PostOnly one
            # would fill as a taker and an IOC / FOK one rest, where Bybit cancels them
            raise RequestError(f"paper server: timeInForce {tif!r} not supported for a "
                               f"{order_type} order (GTC only; a market order also IOC / FOK)")
        price = _decimal(p, "price") if order_type == "limit" else None
        created = self._port.create_order(symbol, order_type, str(p.get("side", "")).lower(),
                                          _decimal(p, "qty"), price, _order_params(p))
        return {"orderId": str(created.id), "orderLinkId": created.client_order_id or ""}

    def h_v5_order_cancel(self, p: Json) -> Json:
        symbol = self._symbol(p.get("symbol"))
        link = p.get("orderLinkId") or None
        canceled = self._port.cancel_order(p.get("orderId") or None, symbol,
                                           {"clientOrderId": link} if link else {})
        return {"orderId": str(canceled.id), "orderLinkId": canceled.client_order_id or ""}

    def h_v5_order_amend(self, p: Json) -> Json:
        raise RequestError("paper server: order amend is not supported (the paper exchange has "
                           "no amend); move a stop by placing the new one, then cancelling")

    def h_v5_order_realtime(self, p: Json) -> Json:
        orders = [o for o in self._port.fetch_open_orders(*self._one_symbol(p))
                  if _wanted(o, p) and self._settles_in(o.symbol, p)]
        orders.sort(key=lambda o: -(o.timestamp or 0))
        rows = [views.order(self._ids[o.symbol], o) for o in orders]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def h_v5_order_history(self, p: Json) -> Json:
        """Finished orders: by orderId / orderLinkId any finished order; without one, the
        orders that traded (the paper exchange keeps no list of cancelled orders to page);
        within startTime..endTime (created, inclusive) and of `orderStatus` when asked."""
        symbols = self._wanted(p) or list(self._markets)
        found: dict[str, VenueOrder] = {}
        for symbol in symbols:
            for order in self._finished(symbol, p):
                if (not order.status.is_open and _wanted(order, p)
                        and _in_window(order.timestamp, p)
                        and p.get("orderStatus") in (None, "", views.order_status(order))):
                    found[str(order.id)] = order
        rows = [views.order(self._ids[o.symbol], o) for o in found.values()]
        page, cursor = _page(rows, p, ("createdTime", "orderId"), default_limit=50)
        return {"category": "linear", "list": page, "nextPageCursor": cursor}

    def _finished(self, symbol: str, p: Json) -> list[VenueOrder]:
        if p.get("orderId") or p.get("orderLinkId"):
            link = p.get("orderLinkId") or None
            try:
                return [self._port.fetch_order(p.get("orderId") or None, symbol,
                                               {"clientOrderId": link} if link else {})]
            except errors.OrderNotFound:
                return []
        trades = self._port.fetch_my_trades(symbol)
        ids = list(dict.fromkeys(str(t.order_id) for t in trades if t.order_id))
        return [self._port.fetch_order(i, symbol) for i in ids]

    def _one_symbol(self, p: Json) -> tuple[str | None]:
        return (self._symbol(p["symbol"]) if p.get("symbol") else None,)

    def h_v5_execution_list(self, p: Json) -> Json:
        """Executions, as Bybit lists them by `execType`: every paper execution is a Trade
        (no funding, liquidation or ADL), so a read of another type lists none (the funding
        feed reads `execType=Funding`: trades listed there were each warned about). One
        order's executions by `orderId` / `orderLinkId`."""
        since = int(p["startTime"]) if p.get("startTime") else None
        symbols = self._wanted(p) or list(self._markets)
        rows: list[Json] = []
        if p.get("execType") not in (None, "", "Trade"):
            symbols = []
        listed: dict[str, tuple[str, VenueFill]] = {}
        for symbol in symbols:
            market = self._markets[symbol]
            rates = {"maker": market.maker_fee, "taker": market.taker_fee}
            for t in self._port.fetch_my_trades(symbol, since):
                if _in_window(t.timestamp, p) and _of_order(t, p):
                    rows.append(views.execution(self._ids[symbol], t,
                                                rates.get(t.taker_or_maker or "")))
                    listed[str(t.id)] = (symbol, t)
        page, cursor = _page(rows, p, ("execTime", "execId"), default_limit=50)
        orders: dict[str, VenueOrder | None] = {}
        for row in page:  # the order's type, price and size: one lookup per order on the page
            symbol, fill = listed[row["execId"]]
            key = str(fill.order_id or "")
            if key not in orders:
                orders[key] = self._order_of(fill.order_id, symbol)
            views.execution_order(row, orders[key])
        return {"category": "linear", "list": page, "nextPageCursor": cursor}

    def _order_of(self, order_id: str | None, symbol: str) -> VenueOrder | None:
        if not order_id:
            return None
        try:
            return self._port.fetch_order(order_id, symbol)
        except errors.OrderNotFound:
            return None


def market_id(symbol: str) -> str:
    """Bybit's id of a market: 'BTC/USDT:USDT' -> 'BTCUSDT' (base and quote, no separator)."""
    base, quote, _ = split_symbol(symbol)
    return f"{base}{quote}"


def _page(rows: list[Json], p: Json, fields: tuple[str, str], *,
          default_limit: int) -> tuple[list[Json], str]:
    """One page of `rows`, newest first by (time, id) `fields`: the rows after `cursor` (if
    given), at most `limit` of them, and the next page's cursor ("" on the last page). The
    cursor is the last row's key, so rows added since the first page never shift the rest."""
    def key(row: Json) -> tuple[int, tuple[int, str]]:
        return _row_key(row[fields[0]], row[fields[1]])

    rows = sorted(rows, key=key, reverse=True)
    if p.get("cursor"):
        after = _cursor_key(str(p["cursor"]))
        rows = [r for r in rows if key(r) < after]
    limit = int(p.get("limit") or default_limit)
    if limit <= 0:
        raise RequestError(f"paper server: limit must be positive, got {p.get('limit')!r}")
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = f"{rows[-1][fields[0]]}:{rows[-1][fields[1]]}" if more else ""
    return rows, cursor


def _row_key(time_ms: Any, row_id: Any) -> tuple[int, tuple[int, str]]:
    """Sort key of a row: its time, then its id (numeric ids in numeric order)."""
    text = str(row_id)
    return int(time_ms), ((len(text), text) if text.isdigit() else (-1, text))


def _cursor_key(cursor: str) -> tuple[int, tuple[int, str]]:
    time_ms, sep, row_id = cursor.partition(":")
    if not sep or not time_ms.isdigit():
        raise RequestError(f"paper server: malformed cursor {cursor!r}")
    return _row_key(time_ms, row_id)


def _in_window(time_ms: int | None, p: Json) -> bool:
    """`time_ms` within the request's startTime..endTime (both inclusive, as on Bybit)."""
    at = time_ms or 0
    return not ((p.get("startTime") and at < int(p["startTime"]))
                or (p.get("endTime") and at > int(p["endTime"])))


def _of_order(fill: VenueFill, p: Json) -> bool:
    if p.get("orderId") and str(fill.order_id) != str(p["orderId"]):
        return False
    return not (p.get("orderLinkId") and fill.client_order_id != p["orderLinkId"])


def _wanted(order: VenueOrder, p: Json) -> bool:
    if p.get("orderId") and str(order.id) != str(p["orderId"]):
        return False
    if p.get("orderLinkId") and order.client_order_id != p["orderLinkId"]:
        return False
    match p.get("orderFilter"):
        case "StopOrder" | "tpslOrder":
            return order.is_stop
        case "Order":
            return not order.is_stop
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
    if _flag(p, "reduceOnly"):
        params["reduceOnly"] = True
    if p.get("triggerPrice"):
        direction = str(p.get("triggerDirection") or "")
        if direction not in ("1", "2"):
            raise RequestError("paper server: triggerDirection must be 1 (rise) or 2 (fall) "
                               f"with triggerPrice, got {p.get('triggerDirection')!r}")
        params["triggerPrice"] = _decimal(p, "triggerPrice")
        params["triggerDirection"] = "above" if direction == "1" else "below"
    idx = p.get("positionIdx")
    if idx not in (None, ""):
        if isinstance(idx, bool) or str(idx) not in ("0", "1", "2"):  # int(1.7) was 1
            raise RequestError("paper server: bad parameter in /v5/order/create: positionIdx "
                               f"must be 0, 1 or 2, got {idx!r}")
        params["positionIdx"] = int(idx)
    return params


def _flag(p: Json, key: str) -> bool:
    """A boolean field: true / false (or absent); anything else is refused, never read as
    false (a garbled reduceOnly would open a position)."""
    value = p.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RequestError(f"paper server: bad parameter in /v5/order/create: {key} must be "
                       f"true or false, got {value!r}")
