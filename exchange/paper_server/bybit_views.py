"""The exchange port's records (`exchange/records.py`) in Bybit v5's JSON shapes, field names
as in Bybit's v5 docs (what ccxt's bybit parsers read). Every number goes out as a decimal
string, as Bybit sends them; nothing here computes money beyond a product or a difference.

A VenueOrder does not say which way its trigger fires nor whether it has fired: a trigger
order is reported as Bybit reports a stop that closes against the position (a sell fires when
the price falls to it, triggerDirection 2; a buy when it rises, 1), and an open one with
nothing filled as Untriggered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.paper.markets import split_symbol
from exchange.records import (
    Funds,
    VenueFill,
    VenueMarket,
    VenueOrder,
    VenueOrderStatus,
    VenuePosition,
    VenueTicker,
)

Json = dict[str, Any]
SETTLE = "USDT"
MAX_LEVERAGE = "100"


def num(value: Any, empty: str = "0") -> str:
    if value is None or value == "":
        return empty
    return format(Decimal(str(value)), "f")


def instrument(market_id: str, m: VenueMarket, created_ms: int) -> Json:
    base, quote, settle = split_symbol(m.symbol)
    exponent = m.price_tick.as_tuple().exponent
    return {
        "symbol": market_id, "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": base, "quoteCoin": quote, "settleCoin": m.settle or settle,
        "launchTime": str(created_ms), "deliveryTime": "0", "deliveryFeeRate": "",
        "priceScale": str(max(-exponent, 0) if isinstance(exponent, int) else 0),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": MAX_LEVERAGE,
                           "leverageStep": "0.01"},
        "priceFilter": {"minPrice": num(m.price_tick), "maxPrice": "99999999",
                        "tickSize": num(m.price_tick)},
        "lotSizeFilter": {
            "maxOrderQty": num(m.max_amount), "minOrderQty": num(m.min_amount),
            "qtyStep": num(m.amount_step), "postOnlyMaxOrderQty": num(m.max_amount),
            "maxMktOrderQty": num(m.max_amount), "minNotionalValue": num(m.min_cost)},
        "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "none",
        "upperFundingRate": "0", "lowerFundingRate": "0", "isPreListing": False,
    }


def ticker(market_id: str, t: VenueTicker) -> Json:
    last = num(t.last)
    return {"symbol": market_id, "lastPrice": last, "markPrice": last, "indexPrice": last,
            "bid1Price": num(t.bid), "ask1Price": num(t.ask), "bid1Size": "0",
            "ask1Size": "0", "prevPrice24h": last, "price24hPcnt": "0", "highPrice24h": last,
            "lowPrice24h": last, "volume24h": num(t.base_volume),
            "turnover24h": num(t.quote_volume), "fundingRate": "0", "nextFundingTime": "0",
            "openInterest": "0"}


def order_status(o: VenueOrder) -> str:
    match o.status:
        case VenueOrderStatus.OPEN:
            if o.is_stop and not o.filled:
                return "Untriggered"
            return "PartiallyFilled" if o.filled else "New"
        case VenueOrderStatus.CLOSED:
            return "Filled"
        case VenueOrderStatus.REJECTED:
            return "Rejected"
        case _:  # canceled, expired; Bybit v5: "PartiallyFilledCanceled: Only spot has this
            # order status" (ccxt 4.5.90 reads it as 'closed'), a linear order cancelled after
            # a partial fill is "Cancelled" with its cumExecQty
            return "Cancelled"


def trigger_direction(o: VenueOrder) -> int:
    """Bybit: 1 triggers when the price rises to the trigger, 2 when it falls to it (see the
    module docstring); 0 for an order without a trigger."""
    if not o.is_stop:
        return 0
    return 2 if o.side == "sell" else 1


def order(market_id: str, o: VenueOrder) -> Json:
    amount = o.amount if o.amount is not None else o.filled
    trigger = o.trigger_price
    cost = o.filled * o.average if o.average is not None else None
    idx = o.position_side.idx if o.position_side is not None else 0
    return {
        "orderId": str(o.id), "orderLinkId": o.client_order_id or "", "blockTradeId": "",
        "symbol": market_id, "price": num(o.price if o.type == "limit" else None),
        "qty": num(amount), "side": o.side.capitalize(), "isLeverage": "",
        "positionIdx": idx, "orderStatus": order_status(o),
        "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": num(o.average),
        "leavesQty": num(o.remaining), "leavesValue": "0",
        "cumExecQty": num(o.filled), "cumExecValue": num(cost), "cumExecFee": num(o.fee_cost),
        # Bybit: "Market order will use IOC directly"; a limit order here is GTC (the only
        # one the server accepts)
        "timeInForce": "IOC" if o.type == "market" else "GTC", "orderType": o.type.capitalize(),
        "stopOrderType": "Stop" if trigger is not None else "", "orderIv": "",
        "triggerPrice": num(trigger), "takeProfit": "0", "stopLoss": "0", "tpTriggerBy": "",
        "slTriggerBy": "", "triggerDirection": trigger_direction(o),
        "triggerBy": "LastPrice" if trigger is not None else "", "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only, "closeOnTrigger": False, "smpType": "None",
        "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "", "slLimitPrice": "",
        "placeType": "", "createdTime": str(o.timestamp or 0),
        "updatedTime": str(o.last_fill_at or o.timestamp or 0),
    }


def position(market_id: str, p: VenuePosition, leverage: Decimal, now_ms: int) -> Json:
    """An open position's row (`leverage`: the account's, for the margin figures)."""
    mark = p.mark_price if p.mark_price is not None else p.entry_price or Decimal(0)
    value = p.contracts * mark
    row = flat_position(market_id, now_ms, p.position_side.idx)
    row.update({
        "side": "Buy" if p.side == "long" else "Sell", "size": num(p.contracts),
        "avgPrice": num(p.entry_price), "positionValue": num(value),
        "leverage": num(leverage), "markPrice": num(mark),
        "positionIM": num(value / leverage if leverage else None),
        "unrealisedPnl": num(p.unrealized_pnl),
        "createdTime": str(p.timestamp if p.timestamp is not None else now_ms),
    })
    return row


def flat_position(market_id: str, now_ms: int, idx: int = 0) -> Json:
    """Bybit's row for a symbol (or hedge-mode side) with no position."""
    return {
        "positionIdx": idx, "riskId": 1, "riskLimitValue": "2000000", "symbol": market_id,
        "side": "", "size": "0", "avgPrice": "0", "positionValue": "0", "tradeMode": 0,
        "autoAddMargin": 0, "positionStatus": "Normal", "leverage": "1", "markPrice": "0",
        "liqPrice": "", "bustPrice": "", "positionIM": "0", "positionMM": "0",
        "positionBalance": "0", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
        "unrealisedPnl": "0", "curRealisedPnl": "0", "cumRealisedPnl": "0",
        "adlRankIndicator": 0, "isReduceOnly": False, "createdTime": str(now_ms),
        "updatedTime": str(now_ms), "seq": 1,
    }


def execution(market_id: str, t: VenueFill, fee_rate: Decimal | None) -> Json:
    """A fill as Bybit lists it; `fee_rate` is the rate it was charged (the market's maker or
    taker rate, by `t.taker_or_maker`). The fields of its order are added by
    `execution_order` (looked up for the rows of one page only)."""
    fee_currency = t.fee.currency if t.fee is not None and t.fee.currency else SETTLE
    return {
        "symbol": market_id, "orderId": str(t.order_id or ""),
        "orderLinkId": t.client_order_id or "", "side": t.side.capitalize(),
        "orderPrice": num(t.price), "orderQty": num(t.amount), "leavesQty": "0",
        "orderType": "UNKNOWN", "stopOrderType": "", "execFee": num(t.fee_cost),
        "execId": str(t.id), "execPrice": num(t.price), "execQty": num(t.amount),
        "execType": "Trade", "execValue": num(t.price * t.amount),
        "execTime": str(t.timestamp or 0), "feeCurrency": fee_currency,
        "isMaker": t.taker_or_maker == "maker", "feeRate": num(fee_rate), "tradeIv": "",
        "markIv": "", "markPrice": num(t.price), "indexPrice": "", "underlyingPrice": "",
        "blockTradeId": "", "closedSize": "0", "seq": 1,
        "execPnl": num(t.realized_pnl, ""),  # Bybit: a close's P&L, fee not deducted
    }


def execution_order(row: Json, o: VenueOrder | None) -> None:
    """The order's fields of an execution row, as Bybit gives them: its type (a resting
    limit order's fill is a Limit order's, ccxt's trade `type`), limit price, quantity and
    stop type. An order the exchange no longer finds keeps `orderType` UNKNOWN (ccxt: None)."""
    if o is None:
        return
    row.update({
        "orderType": o.type.capitalize(), "orderQty": num(o.amount),
        "stopOrderType": "Stop" if o.trigger_price is not None else "",
    })
    if o.type == "limit" and o.price is not None:
        row["orderPrice"] = num(o.price)


def wallet(funds: Funds, wallet_balance: Decimal) -> Json:
    """The unified account's USDT: `funds` as the port reports them (total with unrealized
    P&L), `wallet_balance` without it (Bybit's walletBalance, ccxt's total)."""
    total, free, used = num(funds.total), num(funds.free), num(funds.used)
    wallet_str, upl = num(wallet_balance), num(funds.total - wallet_balance)
    coin = {"coin": SETTLE, "equity": total, "usdValue": total,
            "walletBalance": wallet_str, "free": "", "locked": "0",
            "borrowAmount": "0", "availableToWithdraw": free, "availableToBorrow": "",
            "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": used,
            "totalPositionMM": "0", "unrealisedPnl": upl,
            "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True,
            "collateralSwitch": True, "spotBorrow": "0"}
    return {"accountType": "UNIFIED", "totalEquity": total,
            "totalWalletBalance": wallet_str, "totalMarginBalance": total,
            "totalAvailableBalance": free, "totalPerpUPL": upl,
            "totalInitialMargin": used, "totalMaintenanceMargin": "0", "accountIMRate": "0",
            "accountMMRate": "0", "accountLTV": "0", "coin": [coin]}
