"""The one converter from ccxt's dicts to the port's records, and the one translation of
ccxt's exceptions into the port's errors (exchange/ccxt/convert.py, exchange/ccxt/errors.py).
Inputs are shaped as ccxt 4.5's parsers return them for Bybit and Binance."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from exchange import errors
from exchange.ccxt import convert
from exchange.ccxt.errors import translate, translated
from exchange.records import PositionSide, VenueOrderStatus

BYBIT_ORDER = {
    "id": "1001", "clientOrderId": "e-1", "timestamp": 1_700_000_001_000, "symbol": "BTC/USDT:USDT",
    "type": "market", "side": "buy", "price": 50000.0, "amount": 0.01, "filled": 0.01,
    "average": 50000.0, "status": "closed", "fee": None, "fees": [], "reduceOnly": False,
    "triggerPrice": None, "stopLossPrice": None,
    "info": {"positionIdx": 0, "cumExecFee": "0.275", "orderLinkId": "e-1"},
}


def test_bybit_order_without_cum_fee_detail_takes_cum_exec_fee() -> None:
    order = convert.order(BYBIT_ORDER, settle="USDT")
    assert order.status is VenueOrderStatus.CLOSED and order.position_side is PositionSide.NET
    assert (order.amount, order.filled, order.average) == (D("0.01"), D("0.01"), D("50000.0"))
    assert order.fee is not None and (order.fee.cost, order.fee.currency) == (D("0.275"), "USDT")
    assert order.timestamp == 1_700_000_001_000 and not order.is_stop


def test_fee_from_ccxt_wins_and_binance_orders_report_none() -> None:
    with_fee = {**BYBIT_ORDER, "fee": {"cost": 0.3, "currency": "USDT"}}
    assert convert.order(with_fee).fee_cost == D("0.3")
    binance = {**BYBIT_ORDER, "info": {"positionSide": "SHORT"}}
    order = convert.order(binance)
    assert order.fee is None and order.fee_cost == 0
    assert order.position_side is PositionSide.SHORT


def test_stop_order_and_unknown_status() -> None:
    stop = convert.order({**BYBIT_ORDER, "status": "open", "filled": 0, "average": None,
                          "triggerPrice": "49000", "reduceOnly": True, "info": {}})
    assert stop.is_stop and stop.trigger_price == D("49000") and stop.reduce_only
    assert stop.remaining == D("0.01") and stop.position_side is None
    with pytest.raises(ccxt.BadResponse, match="unknown order status 'weird'"):
        convert.order({**BYBIT_ORDER, "status": "weird"})


def test_positions_name_their_side() -> None:
    hedge_short = {"symbol": "BTC/USDT:USDT", "side": "short", "contracts": 0.02,
                   "entryPrice": 50100.5, "markPrice": 50000, "unrealizedPnl": 2.01,
                   "hedged": True, "info": {"positionIdx": 2}}
    p = convert.position(hedge_short)
    assert (p.side, p.contracts, p.position_side, p.hedged) == ("short", D("0.02"),
                                                               PositionSide.SHORT, True)
    assert (p.entry_price, p.unrealized_pnl) == (D("50100.5"), D("2.01"))
    one_way = convert.position({**hedge_short, "hedged": False, "info": {"positionSide": "BOTH"}})
    assert one_way.position_side is PositionSide.NET and not one_way.hedged


def test_fill_realized_pnl_and_balance_and_ticker() -> None:
    fill = convert.fill({"id": 7, "order": 1001, "symbol": "BTC/USDT:USDT", "side": "sell",
                         "price": 50500, "amount": 0.01, "timestamp": 5,
                         "fee": {"cost": 0.27775, "currency": "USDT"},
                         "info": {"realizedPnl": "5.0", "positionSide": "LONG"}},
                        client_order_id="c-1")
    assert (fill.id, fill.order_id, fill.client_order_id) == ("7", "1001", "c-1")
    assert (fill.realized_pnl, fill.position_side, fill.fee_cost) == (D("5.0"), "long",
                                                                     D("0.27775"))
    with pytest.raises(ccxt.BadResponse):
        convert.fill({"id": 8, "price": None, "amount": 1})
    balance = convert.balance({"info": {}, "USDT": {"free": 90.5, "used": 9.5, "total": 100},
                               "free": {"USDT": 90.5}, "timestamp": None})
    assert balance.funds("USDT").total == D(100) and balance.free("BTC") == 0
    ticker = convert.ticker({"symbol": "X", "last": None, "close": 3.5, "quoteVolume": 1e6})
    assert ticker.last == D("3.5") and ticker.quote_volume == D("1000000.0")


def test_bybit_execution_pnl_is_the_fills_realized_pnl() -> None:
    """Bybit v5's execution (the `execution` topic's sample in Bybit's docs; /v5/execution/list
    rows have the same fields) through ccxt's own parser: a close of 0.5 at 95,900.1 from an
    entry at 95,900.0 makes 0.05 before the 26.37 fee."""
    ex = ccxt.bybit()
    ex.set_markets([{"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT",
                     "settle": "USDT", "type": "swap", "swap": True, "linear": True,
                     "inverse": False, "contract": True, "spot": False, "contractSize": 1,
                     "precision": {"amount": 0.001, "price": 0.1}, "limits": {}}])
    raw = {"category": "linear", "symbol": "BTCUSDT", "closedSize": "0.5",
           "execFee": "26.3725275", "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7",
           "execPrice": "95900.1", "execQty": "0.5", "execType": "Trade",
           "execValue": "47950.05", "feeRate": "0.00055", "leavesQty": "0",
           "orderId": "9aac161b-8ed6-450d-9cab-c5cc67c21784", "orderLinkId": "c-9",
           "orderPrice": "94942.5", "orderQty": "0.5", "orderType": "Market",
           "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": "1746270400353",
           "isMaker": False, "seq": 140612148849382, "execPnl": "0.05",
           "createType": "CreateByUser", "feeCurrency": "USDT"}
    fill = convert.fill(ex.parse_trade(raw))
    assert (fill.realized_pnl, fill.fee_cost) == (D("0.05"), D("26.3725275"))
    opening = convert.fill(ex.parse_trade({**raw, "side": "Buy", "closedSize": "0",
                                           "execPnl": "0"}))
    assert opening.realized_pnl == 0


def test_market_steps_in_either_precision_mode() -> None:
    raw = {"symbol": "BTC/USDT:USDT", "precision": {"amount": 0.001, "price": 0.1},
           "limits": {"amount": {"min": 0.001, "max": 100}, "cost": {"min": 5}},
           "swap": True, "linear": True, "settle": "USDT", "contractSize": 1}
    m = convert.market(raw, tick_size_mode=True)
    assert (m.amount_step, m.price_tick, m.min_cost) == (D("0.001"), D("0.1"), D(5))
    decimals = convert.market({**raw, "precision": {"amount": 3, "price": 1}},
                              tick_size_mode=False)
    assert (decimals.amount_step, decimals.price_tick) == (D("0.001"), D("0.1"))
    with pytest.raises(ccxt.BadResponse, match="precision"):
        convert.market({**raw, "precision": {}}, tick_size_mode=True)


@pytest.mark.parametrize(("raised", "expected"), [
    (ccxt.RequestTimeout("t"), errors.RequestTimeout),
    (ccxt.RateLimitExceeded("r"), errors.RateLimited),
    (ccxt.DDoSProtection("d"), errors.RateLimited),
    (ccxt.OnMaintenance("m"), errors.ExchangeUnavailable),
    (ccxt.InvalidNonce("n"), errors.NetworkError),
    (ccxt.NullResponse("n"), errors.NetworkError),
    (ccxt.OrderNotFound("o"), errors.OrderNotFound),
    (ccxt.InsufficientFunds("f"), errors.InsufficientFunds),
    (ccxt.DuplicateOrderId("d"), errors.InvalidOrder),
    (ccxt.BadSymbol("b"), errors.BadSymbol),
    (ccxt.PermissionDenied("p"), errors.AuthenticationError),
    (ccxt.NotSupported("n"), errors.NotSupported),
    (ccxt.ArgumentsRequired("a"), errors.BadRequest),
    (ccxt.ExchangeError("e"), errors.PermanentError),
])
def test_every_ccxt_error_becomes_ours(raised: ccxt.BaseError, expected: type) -> None:
    ours = translate(raised)
    assert type(ours) is expected and str(raised) in str(ours)
    assert not isinstance(ours, ccxt.BaseError)
    temporary = isinstance(raised, (ccxt.NetworkError, ccxt.BadResponse))
    assert isinstance(ours, errors.TemporaryError) is temporary
    assert isinstance(ours, errors.PermanentError) is not temporary


def test_translated_methods_raise_ours_and_pass_ours_through() -> None:
    @translated
    def fails(exc: BaseException) -> None:
        raise exc

    with pytest.raises(errors.OrderNotFound):
        fails(ccxt.OrderNotFound("gone"))
    with pytest.raises(errors.OrderOutcomeUnknown):
        fails(errors.OrderOutcomeUnknown("maybe", "c-1"))
