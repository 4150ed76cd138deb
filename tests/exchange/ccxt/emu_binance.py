"""Binance USDⓈ-M futures (/fapi) answered from an in-memory Book, incl. the algo (conditional)
order endpoints ccxt 4.5.90 uses for stop orders. Shapes follow ccxt's binance.py comments."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any

from tests.exchange.ccxt.emu_auth import API_KEY, API_SECRET, binance_refusal
from tests.exchange.ccxt.emu_book import WEEK_MS, Book, EmuOrder, Rejected, trade_window

ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET"]


def _symbol(sym: str, base: str, tick: str, step: str, min_qty: str, price_prec: int,
            qty_prec: int) -> dict[str, Any]:
    return {
        "symbol": sym, "pair": sym, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": "USDT",
        "marginAsset": "USDT", "pricePrecision": price_prec, "quantityPrecision": qty_prec,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764",
             "tickSize": tick},
            {"filterType": "LOT_SIZE", "stepSize": step, "maxQty": "1000", "minQty": min_qty},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "maxQty": "120",
             "minQty": min_qty},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": ORDER_TYPES, "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


EXCHANGE_INFO = {
    "timezone": "UTC", "serverTime": 1_700_000_000_000, "futuresType": "U_MARGINED",
    "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                    "limit": 2400}],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [_symbol("BTCUSDT", "BTC", "0.10", "0.001", "0.001", 2, 3),
                _symbol("ETHUSDT", "ETH", "0.01", "0.001", "0.001", 2, 3),
                _symbol("BNBUSDT", "BNB", "0.010", "0.01", "0.01", 3, 2)],
}

DEFAULT_LEVERAGE = 20
"""A symbol's leverage on the venue until the account sets it (Binance's default is 20)."""

STATUS = {"open": "NEW", "untriggered": "NEW", "filled": "FILLED", "canceled": "CANCELED",
          "expired": "EXPIRED"}
"""An order's status; EXPIRED: ended by the system, e.g. a triggered stop's reduce-only order
with nothing left to reduce (Binance's futures FAQ "Futures LIMIT order got expired")."""
ALGO_STATUS = {"untriggered": "NEW", "canceled": "CANCELED", "triggered": "TRIGGERED",
               "filled": "FINISHED", "finished": "FINISHED", "expired": "EXPIRED"}
"""A stop's algoStatus (Binance "Event: Algo Order Update"): FINISHED once the order its
trigger placed filled ('filled') or ended unfilled ('finished') in the matching engine;
EXPIRED "canceled by the system" before its trigger (`Book.expire`)."""


def s(value: Decimal | None) -> str:
    return "0" if value is None else format(value, "f")


def error(code: int, msg: str, status: int = 400) -> tuple[int, Any]:
    return status, {"code": code, "msg": msg}


def order_json(o: EmuOrder) -> dict[str, Any]:
    return {
        "orderId": int(o.oid), "symbol": o.symbol, "status": STATUS[o.status],
        "clientOrderId": o.cid, "price": s(o.price), "avgPrice": s(o.avg),
        "origQty": s(o.qty), "executedQty": s(o.filled), "cumQty": s(o.filled),
        "cumQuote": s(o.filled * (o.avg or 0)), "timeInForce": "GTC",
        "type": o.type.upper(), "reduceOnly": o.reduce_only, "closePosition": False,
        "side": o.side.upper(), "positionSide": o.extra.get("positionSide", "BOTH"),
        "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
        "origType": o.type.upper(), "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
        "goodTillDate": 0, "time": o.created_ms, "updateTime": o.updated_ms,
    }


def algo_json(o: EmuOrder) -> dict[str, Any]:
    status = ALGO_STATUS[o.status]
    actual = o.extra.get("actualOrderId")
    return {
        "algoId": int(o.oid), "clientAlgoId": o.cid, "algoType": "CONDITIONAL",
        "orderType": o.extra["type"], "symbol": o.symbol, "side": o.side.upper(),
        "positionSide": o.extra.get("positionSide", "BOTH"), "timeInForce": "GTC",
        "quantity": s(o.qty), "algoStatus": status, "triggerPrice": s(o.trigger),
        "price": "0", "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
        "closePosition": bool(o.extra.get("closePosition")),  # a "close all" stop (by hand)
        "priceProtect": False, "reduceOnly": o.reduce_only, "createTime": o.created_ms,
        "updateTime": o.updated_ms, "goodTillDate": 0,
        "triggerTime": o.updated_ms if actual else 0,
        "actualOrderId": actual or "", "actualPrice": "",
    }


def _reduce_only_in_hedge_mode(p: dict[str, Any]) -> tuple[int, Any] | None:
    """Binance refuses `reduceOnly` (true or false) beside positionSide LONG / SHORT: in hedge
    mode the side alone says an order closes (New Order: reduceOnly "cannot be sent in Hedge
    Mode"; the venue answers -1106 "Parameter 'reduceonly' sent when not required.")."""
    if "reduceOnly" in p and str(p.get("positionSide", "BOTH")).upper() in ("LONG", "SHORT"):
        return error(-1106, "Parameter 'reduceonly' sent when not required.")
    return None


class BinanceVenue:
    def __init__(self, book: Book, *, trades_lag_s: float = 0.0) -> None:
        self.book = book
        book.child_orders = True
        book.expire_closers = True
        book.count_closers = True
        self.listen_keys: set[str] = set()  # issued by POST /fapi/v1/listenKey
        self.leverage: dict[str, int] = {}  # POST /fapi/v1/leverage's (DEFAULT_LEVERAGE until)
        self.max_leverage: dict[str, int] = {}  # a symbol's top bracket (125 unless given)
        self.trades_lag_s = trades_lag_s
        """How long after it happened a trade shows in userTrades (the venue's trade list lags
        its order state and user-data stream: the order reads filled, its trades not yet)."""
        self._traded_at: dict[str, float] = {}
        book.listeners.append(self._note_trade)
        self.filled_left_out: set[str] = set()
        """Client ids whose order lookups (GET /fapi/v1/order) come without `executedQty` and
        `cumQty` (a damaged answer; ccxt 4.5.90 then reads executedQty as 0)."""
        self.fee_asset_left_out: set[str] = set()
        """Client ids whose trades (userTrades) come with `commissionAsset` null (a damaged
        answer; ccxt 4.5.90 then names no fee currency)."""
        self.position_side_left_out: set[str] = set()
        """Symbols whose position rows come without `positionSide` (a damaged answer; ccxt
        4.5.90 reads `hedged` as positionSide != 'BOTH': True)."""
        self.size_left_out: set[str] = set()
        """Symbols whose position rows come without `positionAmt` (a damaged answer; ccxt
        4.5.90 estimates the size as notional / markPrice)."""
        self.trades_refused: dict[str, tuple[int, str]] = {}
        """Symbols whose userTrades the venue answers with an error (code, msg), e.g. -1121
        "Invalid symbol." for a contract it delisted."""
        self.raw_trades: list[dict[str, Any]] = []
        """Raw userTrades rows listed beside the book's trades for their symbol (a damaged
        answer: a row without `time` is listed in every window, as Bybit's `forced` rows)."""

    def _note_trade(self, kind: str, obj: Any) -> None:
        if kind == "trade":
            self._traded_at.setdefault(obj.tid, time.monotonic())

    def _listed(self, trade: Any) -> bool:
        """Whether userTrades lists the trade yet (`trades_lag_s`)."""
        at = self._traded_at.get(trade.tid)
        return at is None or time.monotonic() - at >= self.trades_lag_s

    keys: dict[str, str] = {API_KEY: API_SECRET}
    """The API keys this venue accepts (key -> secret)."""

    def authenticate(self, method: str, path: str, query: str, body: str,
                     headers: Any) -> tuple[int, Any] | None:
        """The venue's answer to a request it refuses for its signing, else None."""
        return binance_refusal(path, query, body, headers, self.keys)

    def route(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, Any]:
        name = f"{method.lower()}_" + path.strip("/").replace("/", "_")
        handler = getattr(self, name, None)
        if handler is None:
            return 404, {"code": -1, "msg": f"emulator: no route {method} {path}"}
        with self.book.lock:
            return handler(p)

    def post_fapi_v1_listenKey(self, p):  # noqa: N802 - the user data stream's key (WS emu)
        # "If the account has an active listenKey, that listenKey will be returned"
        key = next(iter(self.listen_keys), None) or f"lk{self.book.next_id()}"
        self.listen_keys.add(key)
        return 200, {"listenKey": key}

    def put_fapi_v1_listenKey(self, p):  # noqa: N802 - keepalive of the account's active key
        if not self.listen_keys:
            return 400, {"code": -1125, "msg": "This listenKey does not exist."}
        return 200, {}

    def get_fapi_v1_exchangeInfo(self, p):  # noqa: N802
        return 200, EXCHANGE_INFO

    def get_sapi_v1_capital_config_getall(self, p):
        return 200, []  # coin config (ccxt's fetchCurrencies); not needed by the futures tests

    def get_sapi_v1_margin_allPairs(self, p):  # noqa: N802
        return 200, []  # ccxt's margin pairs (options.fetchMargins); spot-only, not needed here

    def get_sapi_v1_margin_isolated_allPairs(self, p):  # noqa: N802
        return 200, []

    def get_fapi_v1_time(self, p):
        return 200, {"serverTime": self.book.now_ms}

    def get_fapi_v1_ticker_24hr(self, p):
        if p.get("symbol") and p["symbol"] not in self.book.prices:
            return error(-1121, "Invalid symbol.")
        rows = [{"symbol": sym, "priceChange": "0", "priceChangePercent": "0",
                 "weightedAvgPrice": s(px), "lastPrice": s(px), "lastQty": "0.01",
                 "openPrice": s(px), "highPrice": s(px), "lowPrice": s(px), "volume": "100",
                 "quoteVolume": s(px * 100), "openTime": self.book.now_ms - 86_400_000,
                 "closeTime": self.book.now_ms, "firstId": 1, "lastId": 2, "count": 2}
                for sym, px in self.book.prices.items()
                if not p.get("symbol") or p["symbol"] == sym]
        return 200, rows

    def get_fapi_v2_ticker_price(self, p):
        """Symbol Price Ticker V2 (weight 1 with a symbol, 2 without): an object for one
        symbol, an array of every symbol's otherwise (ccxt's parse_last_price reads symbol,
        price and time)."""
        if p.get("symbol") and p["symbol"] not in self.book.prices:
            return error(-1121, "Invalid symbol.")
        rows = [{"symbol": sym, "price": s(px), "time": self.book.now_ms}
                for sym, px in self.book.prices.items()
                if not p.get("symbol") or p["symbol"] == sym]
        return 200, rows[0] if p.get("symbol") else rows

    def post_fapi_v1_order(self, p):
        if p.get("type") != "MARKET" and p.get("type") != "LIMIT":
            return error(-4120, "Order type not supported for this endpoint. Please use the "
                                "Algo Order API endpoints instead.")
        if refused := _reduce_only_in_hedge_mode(p):
            return refused
        cid = p.get("newClientOrderId")
        if cid and self.book.find(cid=cid, stops=False) and self._live(cid, stops=False):
            return error(-4116, "ClientOrderId is duplicated.")
        try:
            order = self.book.place(
                cid=cid, symbol=p["symbol"], side=p["side"].lower(), type=p["type"].lower(),
                qty=Decimal(p["quantity"]), price=Decimal(p["price"]) if p.get("price") else None,
                trigger=None, trigger_direction=None, reduce_only=p.get("reduceOnly") == "true",
                extra={"positionSide": p.get("positionSide", "BOTH")})
        except Rejected as exc:
            if exc.kind == "reduce_only":
                return error(-2022, "ReduceOnly Order is rejected.")
            if exc.kind == "reduce_only_open_orders":
                return error(-4118, "ReduceOnly Order Failed. Please check your existing "
                                    "position and open orders.")
            if exc.kind == "mode":
                return error(-4061, "Order's position side does not match user's setting.")
            return error(-2019, "Margin is insufficient.")
        return 200, order_json(order)

    def _live(self, cid: str, stops: bool) -> bool:
        order = self.book.find(cid=cid, stops=stops)
        return order is not None and order.status in ("open", "untriggered")

    def _order_of(self, p) -> Any:
        """The symbol's order by orderId or origClientOrderId: Binance numbers orders per
        symbol ("orderId is self-increasing for each specific symbol"), so an id names an order
        only with its symbol."""
        oid, cid = p.get("orderId"), p.get("origClientOrderId")
        with self.book.lock:
            return next((o for o in self.book.orders.values() if o.trigger is None
                         and ((oid and o.oid == str(oid)) or (cid and o.cid == cid))
                         and (not p.get("symbol") or o.symbol == p["symbol"])), None)

    def get_fapi_v1_order(self, p):
        order = self._order_of(p)
        if order is None:
            return error(-2013, "Order does not exist.")
        row = order_json(order)
        if order.cid in self.filled_left_out:
            row = {k: v for k, v in row.items() if k not in ("executedQty", "cumQty")}
        return 200, row

    def delete_fapi_v1_order(self, p):
        order = self._order_of(p)
        if order is None or not self.book.cancel(order):
            return error(-2011, "Unknown order sent.")
        return 200, order_json(order)

    def get_fapi_v1_openOrders(self, p):  # noqa: N802
        return 200, [order_json(o) for o in self.book.orders.values()
                     if o.trigger is None and o.status == "open"
                     and (not p.get("symbol") or o.symbol == p["symbol"])]

    def post_fapi_v1_algoOrder(self, p):  # noqa: N802
        if refused := _reduce_only_in_hedge_mode(p):
            return refused
        cid = p.get("clientAlgoId")
        if cid and self._live(cid, stops=True):
            return error(-4116, "ClientOrderId is duplicated.")
        last, trigger = self.book.prices.get(p["symbol"]), Decimal(p["triggerPrice"])
        falls = (p["side"] == "SELL") == (p["type"] in ("STOP", "STOP_MARKET"))
        if last is not None and (trigger >= last if falls else trigger <= last):
            return error(-2021, "Order would immediately trigger.")  # its price already fired
        order = self.book.place(
            cid=cid, symbol=p["symbol"], side=p["side"].lower(), type="market",
            qty=Decimal(p["quantity"]), price=None, trigger=Decimal(p["triggerPrice"]),
            trigger_direction=None, reduce_only=p.get("reduceOnly") == "true",
            extra={"positionSide": p.get("positionSide", "BOTH"), "type": p["type"]})
        return 200, algo_json(order)

    def get_fapi_v1_algoOrder(self, p):  # noqa: N802
        order = self.book.find(oid=p.get("algoId"), cid=p.get("clientAlgoId"), stops=True)
        if order is None:
            return error(-2013, "Order does not exist.")
        return 200, algo_json(order)

    def delete_fapi_v1_algoOrder(self, p):  # noqa: N802
        order = self.book.find(oid=p.get("algoId"), cid=p.get("clientAlgoId"), stops=True)
        if order is None or not self.book.cancel(order):
            return error(-2011, "Unknown order sent.")
        return 200, {"algoId": int(order.oid), "clientAlgoId": order.cid, "code": "200",
                     "msg": "success"}

    def get_fapi_v1_openAlgoOrders(self, p):  # noqa: N802
        return 200, [algo_json(o) for o in self.book.orders.values()
                     if o.status == "untriggered"
                     and (not p.get("symbol") or o.symbol == p["symbol"])]

    def get_fapi_v1_leverageBracket(self, p):  # noqa: N802
        return 200, [{"symbol": sym, "brackets": [
            {"bracket": 1, "initialLeverage": self.max_leverage.get(sym, 125),
             "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}]}
            for sym in self.book.prices]

    def post_fapi_v1_leverage(self, p):
        """Like the venue (Change Initial Leverage, weight 1): one value for both position
        sides; above the symbol's top bracket -4028."""
        sym = p.get("symbol")
        if sym not in self.book.prices:
            return error(-1121, "Invalid symbol.")
        leverage = int(p.get("leverage") or 0)
        if not 1 <= leverage <= self.max_leverage.get(sym, 125):
            return error(-4028, f"Leverage {leverage} is not valid")
        self.leverage[sym] = leverage
        return 200, {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": sym}

    def leverage_of(self, sym: str) -> int:
        return self.leverage.get(sym, DEFAULT_LEVERAGE)

    def get_fapi_v3_positionRisk(self, p):  # noqa: N802
        rows = []
        legs = (("LONG", "long"), ("SHORT", "short")) if self.book.hedge else (("BOTH", "net"),)
        for (sym, mark), (named, leg) in itertools.product(self.book.prices.items(), legs):
            size, entry = self.book.position(sym, leg)
            rows.append({
                "symbol": sym, "positionSide": named, "positionAmt": s(size),
                "entryPrice": s(entry), "breakEvenPrice": s(entry), "markPrice": s(mark),
                "unRealizedProfit": s((mark - entry) * size), "liquidationPrice": "0",
                "isolatedMargin": "0", "notional": s(size * mark), "marginAsset": "USDT",
                "isolatedWallet": "0", "initialMargin": s(abs(size * mark) / 10),
                "maintMargin": "0", "positionInitialMargin": s(abs(size * mark) / 10),
                "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                "askNotional": "0", "updateTime": self.book.now_ms})
            if sym in self.size_left_out:
                del rows[-1]["positionAmt"]
            if sym in self.position_side_left_out:
                del rows[-1]["positionSide"]
        return 200, rows

    def get_fapi_v2_balance(self, p):
        return 200, self._assets()

    def _assets(self) -> list[dict[str, Any]]:
        """USDT, and BNB while it pays the fees (`Book.bnb_fees`)."""
        bnb = [self._asset("BNB", self.book.bnb_balance)] if self.book.bnb_fees else []
        return [self._asset("USDT", self.book.balance), *bnb]

    def _asset(self, asset: str, balance: Decimal) -> dict[str, Any]:
        bal = s(balance)
        return {"accountAlias": "SgsR", "asset": asset, "balance": bal, "walletBalance": bal,
                "crossWalletBalance": bal, "crossUnPnl": "0", "availableBalance": bal,
                "maxWithdrawAmount": bal, "marginAvailable": True, "updateTime": self.book.now_ms}

    def get_fapi_v3_account(self, p):
        bal = s(self.book.balance)
        return 200, {"totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": bal,
                     "totalUnrealizedProfit": "0", "totalMarginBalance": bal,
                     "availableBalance": bal, "maxWithdrawAmount": bal,
                     "assets": self._assets(), "positions": []}

    get_fapi_v2_account = get_fapi_v3_account

    def get_fapi_v1_income(self, p):
        """Like the venue: oldest first, `limit` rows (1-1000, default 100), by incomeType and
        symbol when given, from startTime (the last 7 days without times). Funding only here
        (FUNDING_FEE, `income` negative when paid); other types list nothing."""
        limit = int(p.get("limit") or 100)
        if not 1 <= limit <= 1000:
            return error(-1130, "Data sent for paramter 'limit' is not valid.")
        since = int(p.get("startTime") or self.book.now_ms - WEEK_MS)
        until = int(p.get("endTime") or 2**62)
        if p.get("incomeType") not in (None, "", "FUNDING_FEE"):
            return 200, []
        return 200, [{"symbol": f.symbol, "incomeType": "FUNDING_FEE", "income": s(-f.paid),
                      "asset": "USDT", "info": "FUNDING_FEE", "time": f.ts,
                      "tranId": str(9_000_000 + int(f.fid)), "tradeId": ""}
                     for f in self.book.fundings
                     if since <= f.ts <= until and (not p.get("symbol")
                                                   or p["symbol"] == f.symbol)][:limit]

    def get_fapi_v1_userTrades(self, p):  # noqa: N802
        """Like the venue: oldest first from startTime, or from trade id `fromId` (never both),
        `limit` rows (up to 1,000, default 500)."""
        from_id = int(p.get("fromId") or 0)
        limit = int(p.get("limit") or 500)
        if from_id and (p.get("startTime") or p.get("endTime")):
            return error(-1128, "Combination of optional parameters invalid.")
        if not 1 <= limit <= 1000:
            return error(-1130, "Data sent for paramter 'limit' is not valid.")
        # at most 7 days a request, the last 7 without times; by fromId or orderId, any time
        window = (0, 2**63) if from_id or p.get("orderId") else trade_window(
            p.get("startTime"), p.get("endTime"), self.book.now_ms)
        if window is None:
            return error(-1127, "More than 168 hours between startTime and endTime.")
        since, until = window
        if p.get("symbol") in self.trades_refused:
            return error(*self.trades_refused[p["symbol"]])
        raw = [r for r in self.raw_trades if r["symbol"] == p.get("symbol")
               and since <= int(r.get("time") or since) <= until
               and int(r.get("id") or 0) >= from_id]
        rows = [{"symbol": t.order.symbol, "id": int(t.tid), "orderId": int(t.order.oid),
                      "side": t.order.side.upper(), "price": s(t.price), "qty": s(t.qty),
                      "realizedPnl": s(t.realized), "quoteQty": s(t.price * t.qty),
                      "commission": s(t.fee),
                      "commissionAsset": t.fee_asset, "time": t.ts, "buyer": t.order.side == "buy",
                      "maker": False, "positionSide": t.order.extra.get("positionSide", "BOTH")}
                     | ({"commissionAsset": None} if t.order.cid in self.fee_asset_left_out
                        else {})
                     for t in self.book.trades
                     if self._listed(t) and since <= t.ts <= until and int(t.tid) >= from_id
                     and t.order.symbol == p.get("symbol")
                     and (not p.get("orderId") or t.order.oid == str(p["orderId"]))]
        return 200, (raw + rows)[:limit]
