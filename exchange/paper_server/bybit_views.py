"""The paper exchange's records (ccxt-shaped dicts from the exchange port) in Bybit v5's JSON
shapes, field names as in Bybit's v5 docs. Every number goes out as a decimal string, as Bybit
sends them; nothing here computes money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

Json = dict[str, Any]


def num(value: Any, empty: str = "0") -> str:
    if value is None or value == "":
        return empty
    return format(Decimal(str(value)), "f")


def instrument(market: Json, created_ms: int) -> Json:
    precision, limits = market["precision"], market["limits"]
    return {
        "symbol": market["id"], "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": market["base"], "quoteCoin": market["quote"],
        "settleCoin": market["settle"], "launchTime": str(created_ms), "deliveryTime": "0",
        "deliveryFeeRate": "", "priceScale": str(max(-precision["price"].as_tuple().exponent, 0)),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": num(limits["leverage"]["max"]),
                           "leverageStep": "0.01"},
        "priceFilter": {"minPrice": num(limits["price"]["min"]), "maxPrice": "99999999",
                        "tickSize": num(precision["price"])},
        "lotSizeFilter": {
            "maxOrderQty": num(limits["amount"]["max"]), "minOrderQty": num(limits["amount"]["min"]),
            "qtyStep": num(precision["amount"]), "postOnlyMaxOrderQty": num(limits["amount"]["max"]),
            "maxMktOrderQty": num(limits["amount"]["max"]),
            "minNotionalValue": num(limits["cost"]["min"])},
        "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "none",
        "upperFundingRate": "0", "lowerFundingRate": "0", "isPreListing": False,
    }


def ticker(market_id: str, t: Json) -> Json:
    last = num(t["last"])
    return {"symbol": market_id, "lastPrice": last, "markPrice": last, "indexPrice": last,
            "bid1Price": num(t.get("bid")), "ask1Price": num(t.get("ask")), "bid1Size": "0",
            "ask1Size": "0", "prevPrice24h": last, "price24hPcnt": "0", "highPrice24h": last,
            "lowPrice24h": last, "volume24h": num(t.get("baseVolume")), "turnover24h": "0",
            "fundingRate": "0", "nextFundingTime": "0", "openInterest": "0"}


def order_status(o: Json) -> str:
    trigger = o.get("triggerPrice") or o.get("stopLossPrice")
    filled = Decimal(str(o.get("filled") or 0))
    match o["status"]:
        case "open":
            if trigger is not None and not (o.get("info") or {}).get("triggered"):
                return "Untriggered"
            return "PartiallyFilled" if filled else "New"
        case "closed":
            return "Filled"
        case "rejected":
            return "Rejected"
        case _:  # canceled, expired
            return "PartiallyFilledCanceled" if filled else "Cancelled"


def trigger_direction(o: Json) -> int:
    """Bybit: 1 triggers when the price rises to the trigger, 2 when it falls to it."""
    direction = (o.get("info") or {}).get("triggerDirection")
    if direction in ("above", "below"):
        return 1 if direction == "above" else 2
    if o.get("stopLossPrice") is not None:  # a stop closes against the position
        return 2 if o["side"] == "sell" else 1
    return 0


def order(market_id: str, o: Json) -> Json:
    trigger = o.get("triggerPrice") or o.get("stopLossPrice")
    filled = Decimal(str(o.get("filled") or 0))
    amount = Decimal(str(o["amount"]))
    info = o.get("info") or {}
    live = o["status"] == "open"
    return {
        "orderId": str(o["id"]), "orderLinkId": o.get("clientOrderId") or "", "blockTradeId": "",
        "symbol": market_id, "price": num(o["price"] if o["type"] == "limit" else None),
        "qty": num(amount), "side": o["side"].capitalize(), "isLeverage": "",
        "positionIdx": int(info.get("positionIdx") or 0), "orderStatus": order_status(o),
        "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": num(o.get("average")),
        "leavesQty": num(amount - filled if live else 0), "leavesValue": "0",
        "cumExecQty": num(filled), "cumExecValue": num(o.get("cost")),
        "cumExecFee": num((o.get("fee") or {}).get("cost")),
        "timeInForce": o.get("timeInForce") or "GTC", "orderType": o["type"].capitalize(),
        "stopOrderType": "Stop" if trigger is not None else "", "orderIv": "",
        "triggerPrice": num(trigger), "takeProfit": "0", "stopLoss": "0", "tpTriggerBy": "",
        "slTriggerBy": "", "triggerDirection": trigger_direction(o) if trigger is not None else 0,
        "triggerBy": "LastPrice" if trigger is not None else "", "lastPriceOnCreated": "",
        "reduceOnly": bool(o.get("reduceOnly")), "closeOnTrigger": False, "smpType": "None",
        "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "", "slLimitPrice": "",
        "placeType": "", "createdTime": str(o["timestamp"]),
        "updatedTime": str(o.get("lastUpdateTimestamp") or o["timestamp"]),
    }


def position(market_id: str, p: Json | None, idx: int, now_ms: int) -> Json:
    """A position row; `p` None gives Bybit's flat row for a symbol with no position."""
    size = Decimal(str(p["contracts"])) if p else Decimal(0)
    side = "" if not p or not size else ("Buy" if p["side"] == "long" else "Sell")
    entry = num(p["entryPrice"]) if p else "0"
    mark = num(p["markPrice"]) if p else "0"
    return {
        "positionIdx": idx, "riskId": 1, "riskLimitValue": "2000000", "symbol": market_id,
        "side": side, "size": num(size), "avgPrice": entry,
        "positionValue": num(p["notional"]) if p else "0", "tradeMode": 0, "autoAddMargin": 0,
        "positionStatus": "Normal", "leverage": num(p["leverage"]) if p else "1",
        "markPrice": mark, "liqPrice": "", "bustPrice": "",
        "positionIM": num(p.get("initialMargin")) if p else "0", "positionMM": "0",
        "positionBalance": "0", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
        "unrealisedPnl": num(p["unrealizedPnl"]) if p else "0", "curRealisedPnl": "0",
        "cumRealisedPnl": "0", "adlRankIndicator": 0, "isReduceOnly": False,
        "createdTime": str(p["timestamp"]) if p else str(now_ms), "updatedTime": str(now_ms),
        "seq": 1,
    }


def execution(market_id: str, t: Json, order_type: str) -> Json:
    return {
        "symbol": market_id, "orderId": str(t["order"]), "orderLinkId": t.get("clientOrderId") or "",
        "side": t["side"].capitalize(), "orderPrice": num(t["price"]), "orderQty": num(t["amount"]),
        "leavesQty": "0", "orderType": order_type, "stopOrderType": "",
        "execFee": num((t.get("fee") or {}).get("cost")), "execId": str(t["id"]),
        "execPrice": num(t["price"]), "execQty": num(t["amount"]), "execType": "Trade",
        "execValue": num(t.get("cost")), "execTime": str(t["timestamp"]), "feeCurrency": "USDT",
        "isMaker": t.get("takerOrMaker") == "maker", "feeRate": "0", "tradeIv": "", "markIv": "",
        "markPrice": num(t["price"]), "indexPrice": "", "underlyingPrice": "",
        "blockTradeId": "", "closedSize": "0", "seq": 1,
    }


def wallet(balance: Json) -> Json:
    usdt = balance.get("USDT") or {}
    info = balance.get("info") or {}
    total, free, used = num(usdt.get("total")), num(usdt.get("free")), num(usdt.get("used"))
    coin = {"coin": "USDT", "equity": total, "usdValue": total,
            "walletBalance": num(info.get("walletBalance")), "free": "", "locked": "0",
            "borrowAmount": "0", "availableToWithdraw": free, "availableToBorrow": "",
            "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": used,
            "totalPositionMM": "0", "unrealisedPnl": num(info.get("unrealizedPnl")),
            "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True,
            "collateralSwitch": True, "spotBorrow": "0"}
    return {"accountType": "UNIFIED", "totalEquity": total,
            "totalWalletBalance": num(info.get("walletBalance")), "totalMarginBalance": total,
            "totalAvailableBalance": free, "totalPerpUPL": num(info.get("unrealizedPnl")),
            "totalInitialMargin": used, "totalMaintenanceMargin": "0", "accountIMRate": "0",
            "accountMMRate": "0", "accountLTV": "0", "coin": [coin]}
