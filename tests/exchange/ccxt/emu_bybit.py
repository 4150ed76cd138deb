"""Bybit v5 (unified account, linear USDT perps) answered from an in-memory Book.
Response shapes follow Bybit's v5 docs as quoted in ccxt's bybit.py comments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.exchange.ccxt.emu_auth import API_KEY, API_SECRET, bybit_refusal
from tests.exchange.ccxt.emu_book import Book, EmuOrder, Rejected, trade_window

INSTRUMENTS = [
    {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
     "baseCoin": "BTC", "quoteCoin": "USDT", "settleCoin": "USDT", "launchTime": "1585526400000",
     "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
     "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
     "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
     "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                       "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "119.000",
                       "minNotionalValue": "5"},
     "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
     "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False},
    {"symbol": "ETHUSDT", "contractType": "LinearPerpetual", "status": "Trading",
     "baseCoin": "ETH", "quoteCoin": "USDT", "settleCoin": "USDT", "launchTime": "1585526400000",
     "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
     "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
     "priceFilter": {"minPrice": "0.01", "maxPrice": "199999.98", "tickSize": "0.01"},
     "lotSizeFilter": {"maxOrderQty": "7240.00", "minOrderQty": "0.01", "qtyStep": "0.01",
                       "postOnlyMaxOrderQty": "7240.00", "maxMktOrderQty": "724.00",
                       "minNotionalValue": "5"},
     "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
     "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False},
]

USDC_PERP = {**INSTRUMENTS[0], "symbol": "BTCPERP", "quoteCoin": "USDC", "settleCoin": "USDC"}
"""A USDC-settled perpetual (ccxt: BTC/USDC:USDC), listed by a venue given it in `instruments`."""

# Scripted position-list faults (issue 12 item 3), for `EmulatorServer.fail_next(POSITIONS,
# n, body=...)`: a well-formed answer listing nothing (an account without positions; to a
# one-symbol read, malformed: Bybit lists the symbol asked even when flat), the venue's flat
# answer for BTCUSDT, and malformed bodies that ccxt 4.5.90's bybit.fetch_positions turns
# into [] without an error.
POSITIONS = "/v5/position/list"
EMPTY_POSITIONS = {"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": 0,
                   "result": {"category": "linear", "list": [], "nextPageCursor": ""}}
FLAT_BTC_POSITION = {**EMPTY_POSITIONS, "result": {"category": "linear", "nextPageCursor": "",
                                                   "list": [{
    "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": "BTCUSDT", "side": "",
    "size": "0", "avgPrice": "0", "positionValue": "0", "tradeMode": 0, "autoAddMargin": 0,
    "positionStatus": "Normal", "leverage": "10", "markPrice": "50000", "liqPrice": "",
    "bustPrice": "", "positionIM": "0", "positionMM": "0", "positionBalance": "0",
    "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": "0",
    "curRealisedPnl": "0", "cumRealisedPnl": "0", "adlRankIndicator": 0,
    "isReduceOnly": False, "createdTime": "1676538056258", "updatedTime": "1676538056258",
    "seq": 1}]}}
"""Bybit's answer for BTCUSDT with no position: its row, size "0"."""
GARBLED_POSITIONS = [
    {"retCode": 0, "retMsg": "OK", "result": {"category": "linear"}},  # no list at all
    {"retCode": 0, "retMsg": "OK", "result": None},
    {"retCode": 0, "retMsg": "OK", "result": {"list": [{"garbage": 1}]}},  # rows without fields
]

DEFAULT_LEVERAGE = Decimal("10")
"""A symbol's leverage on the venue until the account sets it (Bybit's default is often 10)."""

STATUS = {"open": "New", "untriggered": "Untriggered", "filled": "Filled", "canceled": "Cancelled",
          "expired": "Deactivated"}
"""Bybit v5 orderStatus (enum): "Deactivated" is a conditional order "cancelled before [it is]
triggered" (UTA), by the account or by the system (`Book.expire`); a triggered one cancelled
(nothing left to reduce) is "Cancelled". Why: `cancelType` (the book's `extra`)."""


def order_status(o: EmuOrder) -> str:
    return "Deactivated" if o.status == "canceled" and o.extra.get("untriggered") else STATUS[
        o.status]


def ok(result: Any, now_ms: int) -> tuple[int, Any]:
    return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def _crossed(trigger: str | None, direction: str | int | None,
             last: Decimal | None) -> tuple[int, Any] | None:
    """Bybit's refusal of a trigger order whose condition already holds at the last price:
    110092 (rising) / 110093 (falling); None when it may rest."""
    if not trigger or last is None or str(direction) not in ("1", "2"):
        return None
    price = Decimal(trigger)
    if str(direction) == "1" and price <= last:
        return err(110092, f"expect Rising, but trigger_price[{price}] <= current[{last}]")
    if str(direction) == "2" and price >= last:
        return err(110093, f"expect Falling, but trigger_price[{price}] >= current[{last}]")
    return None


def err(code: int, msg: str, now_ms: int = 0) -> tuple[int, Any]:
    return 200, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms}


def s(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def order_json(o: EmuOrder, fee: Decimal, fee_detail: bool = True) -> dict[str, Any]:
    """`fee_detail`: Bybit's unified account adds `cumFeeDetail` (fee per coin, what ccxt
    4.5.90 reads) next to `cumExecFee`; answers without it exist too (issue 12 item 6)."""
    detail = {"cumFeeDetail": {"USDT": s(fee)}} if fee_detail and o.filled else {}
    return detail | {
        "orderId": o.oid, "orderLinkId": o.cid, "blockTradeId": "", "symbol": o.symbol,
        "price": s(o.price) or "0", "qty": s(o.qty), "side": o.side.capitalize(),
        "isLeverage": "", "positionIdx": int(o.extra.get("positionIdx", 0)),
        "orderStatus": order_status(o),
        "cancelType": o.extra.get("cancelType", "UNKNOWN"), "rejectReason": "EC_NoError",
        "avgPrice": s(o.avg) or "0", "leavesQty": s(o.qty - o.filled),
        "leavesValue": "0", "cumExecQty": s(o.filled),
        "cumExecValue": s(o.filled * (o.avg or 0)), "cumExecFee": s(fee),
        "timeInForce": "IOC" if o.type == "market" else "GTC",
        "orderType": o.type.capitalize(), "stopOrderType": "Stop" if o.trigger else "",
        "orderIv": "", "triggerPrice": s(o.trigger) or "0", "takeProfit": "0", "stopLoss": "0",
        "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": o.trigger_direction or 0,
        "triggerBy": "LastPrice" if o.trigger else "", "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only, "smpType": "None", "smpGroup": 0, "smpOrderId": "",
        "closeOnTrigger": str(o.extra.get("closeOnTrigger")).lower() == "true", "tpslMode": "",
        "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


def funding_row(f: Any) -> dict[str, Any]:
    """A funding payment as /v5/execution/list lists it (ccxt 4.5.90's bybit parse_income
    comment): execType Funding, execFee the amount PAID (negative: received), feeRate the rate,
    execQty the position size, execValue its value; no order."""
    return {"symbol": f.symbol, "orderType": "UNKNOWN", "underlyingPrice": "", "orderLinkId": "",
            "orderId": f"funding-{f.fid}", "stopOrderType": "UNKNOWN", "execTime": str(f.ts),
            "feeCurrency": "", "createType": "", "feeRate": s(f.rate), "tradeIv": "",
            "blockTradeId": "", "markPrice": s(f.mark), "execPrice": s(f.mark), "markIv": "",
            "orderQty": "0", "orderPrice": "0", "execValue": s(abs(f.size) * f.mark),
            "closedSize": "0", "execType": "Funding", "seq": 1,
            "side": "Buy" if f.size > 0 else "Sell", "indexPrice": "", "leavesQty": "0",
            "isMaker": False, "execFee": s(f.paid), "execId": f"f{f.fid}-{f.symbol}",
            "marketUnit": "", "execQty": s(abs(f.size)), "execPnl": "0"}


class BybitVenue:
    def __init__(self, book: Book, instruments: list[dict[str, Any]] | None = None) -> None:
        self.book = book
        self.instruments = INSTRUMENTS if instruments is None else instruments
        """The linear markets listed; a listing without a symbol reads one settle coin (as
        the venue: `settleCoin` is required then; ccxt asks for USDT unless told)."""
        self.fee_detail = True  # False: order answers carry cumExecFee only
        self.leverage: dict[str, Decimal] = {}
        """Each symbol's leverage (buy and sell alike), `DEFAULT_LEVERAGE` until set."""
        self._funding_rows: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.forced: list[dict[str, Any]] = []
        """Raw execution rows of fills no order placed (execType BustTrade: a liquidation,
        AdlTrade: auto-deleveraging), listed by /v5/execution/list beside the book's trades
        and the book's funding payments (execType Funding, `funding_row`)."""
        self.empty_entry: set[str] = set()
        """Symbols whose position rows answer `avgPrice` `entry_said` ("": as Bybit at times)."""
        self.entry_said = ""
        """The `avgPrice` the `empty_entry` symbols' rows answer (a garbled one: "-50000")."""
        self.unsized: set[str] = set()
        """Symbols whose position rows come without their `size` and `positionValue` (a
        damaged answer; from the value ccxt would derive a size)."""
        self.size_left_out: set[str] = set()
        """Symbols whose position rows come without `size` alone (`positionValue` and
        `markPrice` kept: ccxt 4.5.90 estimates the size as positionValue / markPrice)."""
        self.sideless: set[str] = set()
        self.garbled_idx: dict[str, Any] = {}
        """Symbol -> the `positionIdx` its position rows carry instead of the real one."""
        self.filled_left_out: set[str] = set()
        """Client ids whose order rows come without `cumExecQty` (a damaged answer; leavesQty
        is 0 once an order ended, as Bybit answers, so ccxt 4.5.90 estimates filled = qty)."""
        """Symbols whose held position rows answer `side: ""` (as for a flat one)."""

    keys: dict[str, str] = {API_KEY: API_SECRET}
    """The API keys this venue accepts (key -> secret)."""

    def authenticate(self, method: str, path: str, query: str, body: str,
                     headers: Any) -> tuple[int, Any] | None:
        """The venue's answer to a request it refuses for its signing, else None."""
        return bybit_refusal(path, method, query, body, headers, self.keys)

    def route(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, Any]:
        handler = getattr(self, "h_" + path.strip("/").replace("/", "_").replace("-", "_"), None)
        if handler is None:
            return 404, {"retCode": 404, "retMsg": f"emulator: no route {method} {path}"}
        with self.book.lock:
            return handler(p)

    def _ok(self, result: Any) -> tuple[int, Any]:
        return ok(result, self.book.now_ms)

    def h_v5_market_time(self, p):
        sec = self.book.now_ms // 1000
        return self._ok({"timeSecond": str(sec), "timeNano": str(self.book.now_ms * 1_000_000)})

    def h_v5_market_instruments_info(self, p):
        rows = self.instruments if p.get("category") == "linear" else []
        return self._ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})

    def h_v5_asset_coin_query_info(self, p):
        return self._ok({"rows": []})

    def h_v5_user_query_api(self, p):
        return self._ok({"id": "1", "readOnly": 0, "unified": 0, "uta": 1, "isMaster": True})

    def h_v5_account_info(self, p):
        return self._ok({"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 5,
                         "updatedTime": "1697078946000"})

    def h_v5_market_tickers(self, p):
        rows = [{"symbol": sym, "lastPrice": s(px), "markPrice": s(px), "indexPrice": s(px),
                 "bid1Price": s(px), "ask1Price": s(px), "bid1Size": "1", "ask1Size": "1",
                 "prevPrice24h": s(px), "price24hPcnt": "0", "highPrice24h": s(px),
                 "lowPrice24h": s(px), "volume24h": "1000", "turnover24h": "1000000",
                 "fundingRate": "0.0001", "nextFundingTime": "0", "openInterest": "1"}
                for sym, px in self.book.prices.items()
                if not p.get("symbol") or p["symbol"] == sym]
        return self._ok({"category": "linear", "list": rows})

    def h_v5_order_create(self, p):
        cid = p.get("orderLinkId") or f"emu-{self.book.next_id()}"
        if self.book.find(cid=cid):
            return err(110072, "OrderLinkedID is duplicate")
        trigger = p.get("triggerPrice")
        crossed = _crossed(trigger, p.get("triggerDirection"), self.book.prices.get(p["symbol"]))
        if crossed is not None:  # Bybit refuses a conditional order its price already fired
            return crossed
        try:
            order = self._place(cid, trigger, p)
        except Rejected as exc:
            if exc.kind == "reduce_only":
                return err(110017, "Reduce-only rule not satisfied")
            if exc.kind == "mode":
                return err(10001, "position idx not match position mode")
            return err(110007, "ab not enough for new order")
        return self._ok({"orderId": order.oid, "orderLinkId": order.cid})

    def _place(self, cid: str, trigger: str | None, p: dict[str, Any]) -> EmuOrder:
        return self.book.place(
            cid=cid, symbol=p["symbol"], side=p["side"].lower(), type=p["orderType"].lower(),
            qty=Decimal(p["qty"]), price=Decimal(p["price"]) if p.get("price") else None,
            trigger=Decimal(trigger) if trigger else None,
            trigger_direction=int(p["triggerDirection"]) if p.get("triggerDirection") else None,
            reduce_only=bool(p.get("reduceOnly")),
            extra={"positionIdx": p.get("positionIdx", 0),
                   "closeOnTrigger": p.get("closeOnTrigger")})

    def _settles_in(self, sym: str, p: dict[str, Any]) -> bool:
        """A listing without a symbol: the `settleCoin` asked for (none asked: every coin)."""
        coin = {i["symbol"]: i["settleCoin"] for i in self.instruments}.get(sym, "USDT")
        return not p.get("settleCoin") or p["settleCoin"] == coin

    def _select(self, p, live: bool) -> list[EmuOrder]:
        rows = []
        for o in self.book.orders.values():
            if (o.status in ("open", "untriggered")) != live:
                continue
            if p.get("symbol") and o.symbol != p["symbol"]:
                continue
            if not p.get("symbol") and not self._settles_in(o.symbol, p):
                continue
            if p.get("orderId") and o.oid != p["orderId"]:
                continue
            if p.get("orderLinkId") and o.cid != p["orderLinkId"]:
                continue
            if p.get("orderFilter") == "StopOrder" and o.trigger is None:
                continue
            rows.append(o)
        return sorted(rows, key=lambda o: -o.created_ms)

    def h_v5_order_realtime(self, p):
        """Like the venue (Get Open & Closed Orders): newest first, `limit` rows (1-50, default
        20) a page, the next page by `cursor` (here: the offset) named in `nextPageCursor`."""
        limit, start = int(p.get("limit") or 20), int(p.get("cursor") or 0)
        if not 1 <= limit <= 50:
            return err(10001, "limit must be in [1, 50]", self.book.now_ms)
        rows = [self._order_row(o) for o in self._select(p, live=True)]
        more = len(rows) > start + limit
        return self._ok({"category": "linear", "list": rows[start:start + limit],
                         "nextPageCursor": str(start + limit) if more else ""})

    def _order_row(self, o: Any) -> dict[str, Any]:
        row = order_json(o, self.book.fees_of(o), self.fee_detail)
        if o.cid not in self.filled_left_out:
            return row
        ended = {"leavesQty": "0"} if o.status not in ("open", "untriggered") else {}
        return {k: v for k, v in row.items() if k != "cumExecQty"} | ended

    def h_v5_order_history(self, p):
        rows = [self._order_row(o) for o in self._select(p, live=False)]
        return self._ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def h_v5_order_cancel(self, p):
        order = self.book.find(oid=p.get("orderId"), cid=p.get("orderLinkId"))
        if order is None or not self.book.cancel(order):
            return err(110001, "order not exists or too late to cancel")
        return self._ok({"orderId": order.oid, "orderLinkId": order.cid})

    def h_v5_order_amend(self, p):
        order = self.book.find(oid=p.get("orderId"), cid=p.get("orderLinkId"))
        if order is None or order.status not in ("open", "untriggered"):
            return err(110001, "order not exists or too late to replace")
        if p.get("triggerPrice"):
            order.trigger = Decimal(p["triggerPrice"])
        if p.get("qty"):
            order.qty = Decimal(p["qty"])
        order.updated_ms = self.book.tick()
        return self._ok({"orderId": order.oid, "orderLinkId": order.cid})

    def h_v5_position_list(self, p):
        """Like the venue: a symbol's row even when flat (size "0"); without a symbol, the
        held positions of the settle coin, `limit` rows (1-200, default 20) a page, the next
        page by `cursor` (here: the offset) named in `nextPageCursor` ("" after the last)."""
        limit, start = int(p.get("limit") or 20), int(p.get("cursor") or 0)
        if not 1 <= limit <= 200:
            return err(10001, "limit must be in [1, 200]", self.book.now_ms)
        rows = self._position_rows(p)
        more = len(rows) > start + limit
        return self._ok({"category": "linear", "list": rows[start:start + limit],
                         "nextPageCursor": str(start + limit) if more else ""})

    def _position_rows(self, p) -> list[dict[str, Any]]:
        rows = []
        legs = ((1, "long"), (2, "short")) if self.book.hedge else ((0, "net"),)
        for sym in self.book.prices:
            if p.get("symbol") and p["symbol"] != sym:
                continue
            if not p.get("symbol") and not self._settles_in(sym, p):
                continue
            for idx, leg in legs:
                if not p.get("symbol") and self.book.position(sym, leg)[0] == 0:
                    continue  # an all-symbol read lists held positions only
                row = self._position_row(sym, idx, *self.book.position(sym, leg))
                row = {**row, "avgPrice": self.entry_said} if sym in self.empty_entry else row
                row = {**row, "side": ""} if sym in self.sideless else row
                if sym in self.garbled_idx:
                    row = {**row, "positionIdx": self.garbled_idx[sym]}
                if sym in self.size_left_out:
                    row = {k: v for k, v in row.items() if k != "size"}
                rows.append({k: v for k, v in row.items()
                             if not (k in ("size", "positionValue") and sym in self.unsized)})
        return rows

    def _position_row(self, sym: str, idx: int, size: Decimal, entry: Decimal) -> dict:
        mark = self.book.prices[sym]
        side = "" if size == 0 else ("Buy" if size > 0 else "Sell")
        return {
                "positionIdx": idx, "riskId": 1, "riskLimitValue": "2000000", "symbol": sym,
                "side": side, "size": s(abs(size)), "avgPrice": s(entry),
                "positionValue": s(abs(size) * entry), "tradeMode": 0, "autoAddMargin": 0,
                "positionStatus": "Normal", "leverage": s(self.leverage_of(sym)),
                "markPrice": s(mark),
                "liqPrice": "", "bustPrice": "", "positionIM": "0", "positionMM": "0",
                "positionBalance": "0", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
                "unrealisedPnl": s((mark - entry) * size), "curRealisedPnl": "0",
                "cumRealisedPnl": "0", "adlRankIndicator": 0, "isReduceOnly": False,
                "createdTime": "1676538056258", "updatedTime": str(self.book.now_ms), "seq": 1}

    def h_v5_position_set_leverage(self, p):
        """Like the venue: above the symbol's `maxLeverage` (or below 1) retCode 10001; the
        value it already has retCode 110043 "leverage not modified"."""
        sym = p.get("symbol")
        listed = {i["symbol"]: i["leverageFilter"] for i in self.instruments}
        if sym not in listed:
            return err(10001, "params error: symbol invalid", self.book.now_ms)
        buy, sell = Decimal(p.get("buyLeverage") or 0), Decimal(p.get("sellLeverage") or 0)
        top = Decimal(listed[sym]["maxLeverage"])
        if buy != sell or not (1 <= buy <= top):
            return err(10001, "leverage invalid", self.book.now_ms)
        if self.leverage_of(sym) == buy:
            return err(110043, "leverage not modified", self.book.now_ms)
        self.leverage[sym] = buy
        return self._ok({})

    def leverage_of(self, sym: str) -> Decimal:
        return self.leverage.get(sym, DEFAULT_LEVERAGE)

    def h_v5_account_wallet_balance(self, p):
        bal = s(self.book.balance)
        coin = {"coin": "USDT", "equity": bal, "usdValue": bal, "walletBalance": bal,
                "free": "", "locked": "0", "borrowAmount": "0", "availableToWithdraw": "",
                "availableToBorrow": "", "accruedInterest": "0", "totalOrderIM": "0",
                "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": "0",
                "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True,
                "collateralSwitch": True, "spotBorrow": "0"}
        acct = {"accountType": "UNIFIED", "totalEquity": bal, "totalWalletBalance": bal,
                "totalMarginBalance": bal, "totalAvailableBalance": bal,
                "totalPerpUPL": "0", "totalInitialMargin": "0", "totalMaintenanceMargin": "0",
                "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0", "coin": [coin]}
        return self._ok({"list": [acct]})

    def h_v5_execution_list(self, p):
        """Like the venue: newest first, `limit` rows (1-100, default 50) a page, the next page
        by `cursor` (here: the offset) named in `nextPageCursor` ("" after the last).
        `execPnl`: the P&L of the part that closed (`closedSize`) against the position's average
        entry, before fees (Bybit: "consistent with cashFlow in the transaction log", which
        excludes trading and funding fees); "0" for an opening fill."""
        window = trade_window(p.get("startTime"), p.get("endTime"), self.book.now_ms)
        if window is None:
            return err(10001, "The time range between startTime and endTime cannot exceed 7 "
                       "days", self.book.now_ms)
        since, until = window
        limit, start = int(p.get("limit") or 50), int(p.get("cursor") or 0)
        if not 1 <= limit <= 100:
            return err(10001, "limit must be in [1, 100]", self.book.now_ms)
        rows = [{"symbol": t.order.symbol, "orderId": t.order.oid, "orderLinkId": t.order.cid,
                 "side": t.order.side.capitalize(), "orderPrice": s(t.price), "orderQty": s(t.qty),
                 "leavesQty": "0", "orderType": t.order.type.capitalize(), "stopOrderType": "",
                 "execFee": s(t.fee), "execId": t.tid, "execPrice": s(t.price), "execQty": s(t.qty),
                 "execType": "Trade", "execValue": s(t.qty * t.price), "execTime": str(t.ts),
                 "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055", "tradeIv": "",
                 "markIv": "", "markPrice": s(t.price), "indexPrice": "", "underlyingPrice": "",
                 "blockTradeId": "", "seq": 1, "closedSize": s(t.closed),
                 "execPnl": s(t.realized)}
                for t in reversed(self.book.trades)
                if since <= t.ts <= until
                and (not p.get("symbol") or p["symbol"] == t.order.symbol)]
        timed = [(-int(r["execTime"]), r) for r in rows]
        if p.get("execType") in (None, "", "Funding"):
            timed += [(-f.ts, self._funding_row(f)) for f in self.book.fundings
                      if since <= f.ts <= until
                      and (not p.get("symbol") or p["symbol"] == f.symbol)]
        # a forced row without a readable execTime (a damaged answer) is listed in every window
        timed += [(-_exec_ms(r, until), r) for r in self.forced
                  if since <= _exec_ms(r, since) <= until
                  and (not p.get("symbol") or p["symbol"] == r["symbol"])]
        rows = [r for _, r in sorted(timed, key=lambda pair: pair[0])]
        for key in ("orderId", "orderLinkId"):  # filters the venue takes
            if p.get(key):
                rows = [r for r in rows if r[key] == p[key]]
        if p.get("execType"):  # one type, as Bybit documents (absent: every type)
            rows = [r for r in rows if r["execType"] == p["execType"]]
        more = len(rows) > start + limit
        return self._ok({"category": "linear", "list": rows[start:start + limit],
                         "nextPageCursor": str(start + limit) if more else ""})

    def _funding_row(self, f: Any) -> dict[str, Any]:
        """`funding_row(f)`, made once per payment (a read of 20,000 lists every page)."""
        key = (f.fid, f.symbol, f.ts)
        if key not in self._funding_rows:
            self._funding_rows[key] = funding_row(f)
        return self._funding_rows[key]


def _exec_ms(row: dict[str, Any], missing: int) -> int:
    """The row's execTime, `missing` where it has none that reads as a number."""
    raw = str(row.get("execTime") or "")
    return int(raw) if raw.isdigit() else missing
