"""Order placement: fills, fees, validation, reduce-only, stops, limits, ids, margin."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.paper import PaperExchange
from exchange.records import Fee
from tests.exchange.paper.paper_support import BTC, DOGE, ETH


def balance_total(ex: PaperExchange) -> D:
    return ex.fetch_balance().funds("USDT").total


def test_market_buy_fills_with_slippage_and_taker_fee(ex: PaperExchange) -> None:
    order = ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "b1"})
    assert order.status == "closed"
    assert order.filled == D("0.01") and order.remaining == 0
    assert order.average == D("60006.0")  # 60000 + 1 bps
    assert order.filled * order.average == D("600.060")
    assert order.fee == Fee(cost=D("0.33003300"), currency="USDT")
    [trade] = ex.fetch_my_trades(BTC)
    assert (trade.order_id, trade.client_order_id, trade.side) == (order.id, "b1", "buy")
    assert (trade.price, trade.amount, trade.taker_or_maker) == (D("60006.0"), D("0.01"), "taker")
    assert trade.realized_pnl == D(0)
    balance = ex.fetch_balance()
    assert balance.funds("USDT").used == D("120.012")  # 600.06 / leverage 5
    assert balance.funds("USDT").total == D("10000") - D("0.330033") + D("-0.06")  # unrealized at 60000
    assert balance.free("USDT") == balance.funds("USDT").total - balance.funds("USDT").used
    [position] = ex.fetch_positions()
    assert position.side == "long" and position.contracts == D("0.01")
    assert position.entry_price == D("60006.0") and position.mark_price == D("60000.0")
    assert position.unrealized_pnl == D("-0.06")


def test_round_trip_books_realized_pnl(ex: PaperExchange, market) -> None:
    ex.create_order(ETH, "market", "sell", D("1"))  # short at 2999.70
    market.move(ETH, "2900")
    close = ex.create_order(ETH, "market", "buy", D("1"), params={"reduceOnly": True})
    assert close.average == D("2900.29")
    trades = ex.fetch_my_trades(ETH)
    assert trades[-1].realized_pnl == (D("2999.70") - D("2900.29")) * 1
    assert ex.fetch_positions() == []
    fees = sum(t.fee.cost for t in trades)
    assert ex.realized_pnl_total() == D("99.41") - fees
    assert balance_total(ex) == D("10000") + D("99.41") - fees


@pytest.mark.parametrize(
    ("symbol", "amount", "price", "needle"),
    [
        (BTC, D("0.0015"), None, "BTC/USDT:USDT amount 0.0015 is not a multiple of 0.001"),
        (BTC, D("0"), None, "must be positive"),
        (BTC, D("-1"), None, "must be positive"),
        (BTC, D("101"), None, "above the maximum"),
        (BTC, D("0.01"), D("59000.05"), "price 59000.05 is not a multiple of 0.1"),
        (DOGE, D("10"), None, "DOGE/USDT:USDT order value 1.50 USDT is below the minimum 5"),
        (ETH, "abc", None, "must be a number"),
        (BTC, D("1e30"), None, "amount 1E\\+30 is above the maximum 100"),
        (BTC, D("0.01"), D("1e40"), "price 1E\\+40 is out of range"),
    ],
)
def test_validation_rejections(ex, symbol, amount, price, needle) -> None:
    kind = "limit" if price is not None else "market"
    with pytest.raises(errors.InvalidOrder, match=needle):
        ex.create_order(symbol, kind, "buy", amount, price)
    assert ex.fetch_my_trades() == [] and ex.fetch_open_orders() == []


def test_shape_rejections(ex: PaperExchange) -> None:
    with pytest.raises(errors.InvalidOrder, match="order type"):
        ex.create_order(BTC, "stop", "buy", D("0.01"))
    with pytest.raises(errors.InvalidOrder, match="side"):
        ex.create_order(BTC, "market", "long", D("0.01"))
    with pytest.raises(errors.InvalidOrder, match="needs a price"):
        ex.create_order(BTC, "limit", "buy", D("0.01"))
    for bad in ("x" * 37, "has space", "bad!char", ""):
        with pytest.raises(errors.InvalidOrder, match="clientOrderId"):
            ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": bad})
    ok = "A.b:c/d_e-f" + "0" * 25  # 36 chars from the allowed set
    assert ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": ok}).client_order_id == ok


def test_reduce_only_rules(ex: PaperExchange) -> None:
    with pytest.raises(errors.InvalidOrder, match="position is zero"):
        ex.create_order(BTC, "market", "sell", D("0.01"), params={"reduceOnly": True})
    ex.create_order(BTC, "market", "buy", D("0.003"))
    with pytest.raises(errors.InvalidOrder, match="would increase the long position"):
        ex.create_order(BTC, "market", "buy", D("0.001"), params={"reduceOnly": True})
    # reduce-only is exempt from the minimum order value (0.001 BTC is 60 USDT anyway)
    part = ex.create_order(BTC, "market", "sell", D("0.001"), params={"reduceOnly": True})
    assert part.filled == D("0.001")
    cut = ex.create_order(BTC, "market", "sell", D("0.5"), params={"reduceOnly": True})
    assert cut.status == "closed" and cut.filled == cut.amount == D("0.002")
    assert ex.fetch_positions() == []


@pytest.mark.parametrize("flag", ["false", "False", 0, "0", "no"])
def test_a_reduce_only_flag_that_is_not_true_is_not_read_as_true(ex: PaperExchange,
                                                                  flag: object) -> None:
    """bool("false") is True: an entry sent with reduceOnly "false" was refused as a
    reduce-only order (no position) or, with one, cut to a close; "false" now opens and any
    other non-boolean is refused naming reduceOnly."""
    ex.create_order(BTC, "market", "buy", D("0.003"))
    if str(flag).lower() == "false":
        more = ex.create_order(BTC, "market", "buy", D("0.002"), params={"reduceOnly": flag})
        assert more.filled == D("0.002") and not more.reduce_only
        assert [p.contracts for p in ex.fetch_positions()] == [D("0.005")]
    else:
        with pytest.raises(errors.InvalidOrder, match="reduceOnly must be true or false"):
            ex.create_order(BTC, "market", "sell", D("0.01"), params={"reduceOnly": flag})
        assert [p.contracts for p in ex.fetch_positions()] == [D("0.003")]
        assert ex.submissions()[-1]["outcome"] == "rejected"


def test_reduce_only_small_close_below_min_cost_is_allowed(ex: PaperExchange) -> None:
    ex.create_order(DOGE, "market", "buy", D("40"))  # 6 USDT
    closed = ex.create_order(DOGE, "market", "sell", D("10"), params={"reduceOnly": True})
    assert closed.filled == D("10")


def test_stop_loss_triggers_on_price_path_and_books_realized(ex: PaperExchange, market) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"))  # entry 60006.0
    wallet_before = ex.wallet_balance()
    stop = ex.create_order(BTC, "market", "sell", D("0.01"),
                           params={"stopLossPrice": D("59000"), "clientOrderId": "sl-1"})
    assert stop.status == "open" and stop.reduce_only is True
    assert stop.trigger_price == stop.trigger_price == D("59000")
    assert [o.id for o in ex.fetch_open_orders(BTC)] == [stop.id]
    market.move(BTC, "59500", "59100")
    assert ex.fetch_order(stop.id, BTC).status == "open"
    market.move(BTC, "58900")
    trigger_ms = market.clock.ms
    market.move(BTC, "61000")  # price recovers before anyone looks
    done = ex.fetch_order(None, BTC, {"clientOrderId": "sl-1"})
    assert done.status == "closed" and done.average == D("58894.1")  # 58900 - 1 bps
    trade = ex.fetch_my_trades(BTC)[-1]
    assert trade.timestamp == trigger_ms and trade.taker_or_maker == "taker"
    realized = (D("58894.1") - D("60006.0")) * D("0.01")
    assert trade.realized_pnl == realized
    assert ex.fetch_positions() == [] and ex.fetch_open_orders() == []
    assert ex.wallet_balance() - wallet_before == realized - trade.fee.cost


def test_stop_on_wrong_side_of_price_is_rejected(ex: PaperExchange) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"))
    with pytest.raises(errors.InvalidOrder, match="must be below the current price"):
        ex.create_order(BTC, "market", "sell", D("0.01"), params={"stopLossPrice": D("60500")})
    with pytest.raises(errors.InvalidOrder, match="position is zero"):
        ex.create_order(ETH, "market", "sell", D("1"), params={"stopLossPrice": D("2900")})


@pytest.mark.parametrize(("side", "direction"), [("buy", "above"), ("sell", "below")])
def test_a_trigger_at_the_current_price_is_refused(ex: PaperExchange, side: str,
                                                    direction: str) -> None:
    # a venue takes a rising trigger only above the price and a falling one only below it (found
    # by a mutation audit: a rising trigger equal to the price was accepted, no test failed)
    with pytest.raises(errors.InvalidOrder, match=f"must be {direction} the current price 3000"):
        ex.create_order(ETH, "market", side, D("1"),
                        params={"triggerPrice": D("3000"), "triggerDirection": direction})
    assert ex.fetch_open_orders(ETH) == []


def test_triggered_reduce_only_stop_without_position_is_canceled(ex: PaperExchange, market) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"))
    stop = ex.create_order(BTC, "market", "sell", D("0.01"), params={"stopLossPrice": D("59000")})
    ex.create_order(BTC, "market", "sell", D("0.01"), params={"reduceOnly": True})
    trades_before = len(ex.fetch_my_trades())
    market.move(BTC, "58000")
    assert ex.fetch_order(stop.id, BTC).status == "canceled"
    assert len(ex.fetch_my_trades()) == trades_before


@pytest.mark.parametrize("direction", ["above", "ascending"])
def test_trigger_price_entry_above(ex: PaperExchange, market, direction: str) -> None:
    entry = ex.create_order(ETH, "market", "buy", D("1"),
                            params={"triggerPrice": D("3100"), "triggerDirection": direction})
    assert entry.status == "open" and not entry.reduce_only
    market.move(ETH, "3050", "3099.99")
    assert ex.fetch_positions() == []
    market.move(ETH, "3120")
    [position] = ex.fetch_positions()
    assert position.side == "long" and position.entry_price == D("3120.31")
    with pytest.raises(errors.InvalidOrder, match="triggerDirection"):
        ex.create_order(ETH, "market", "buy", D("1"), params={"triggerPrice": D("3200")})


def test_limit_rests_then_fills_as_maker(ex: PaperExchange, market) -> None:
    order = ex.create_order(BTC, "limit", "buy", D("0.01"), D("59000"))
    assert order.status == "open" and order.price == D("59000")
    assert ex.fetch_balance().funds("USDT").used == D("118")  # 0.01 * 59000 / 5 reserved
    market.move(BTC, "59500", "59000.1")
    assert ex.fetch_order(order.id, BTC).status == "open"
    market.move(BTC, "58800")
    filled = ex.fetch_order(order.id, BTC)
    assert filled.status == "closed" and filled.average == D("59000")
    [trade] = ex.fetch_my_trades(BTC)
    assert trade.taker_or_maker == "maker" and trade.fee.cost == D("0.118")
    assert ex.fetch_positions()[0].entry_price == D("59000")


def test_marketable_limit_fills_immediately_as_taker(ex: PaperExchange) -> None:
    order = ex.create_order(BTC, "limit", "buy", D("0.01"), D("61000"))
    assert order.status == "closed" and order.average == D("60006.0")
    assert ex.fetch_my_trades()[0].taker_or_maker == "taker"


def test_duplicate_client_order_id_rejected_forever(ex: PaperExchange) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "dup"})
    with pytest.raises(errors.InvalidOrder, match="duplicate clientOrderId 'dup'"):
        ex.create_order(ETH, "market", "buy", D("1"), params={"clientOrderId": "dup"})
    # a rejected order does not consume its id
    with pytest.raises(errors.InvalidOrder, match="below the minimum"):
        ex.create_order(DOGE, "market", "buy", D("1"), params={"clientOrderId": "again"})
    assert ex.create_order(DOGE, "market", "buy", D("100"), params={"clientOrderId": "again"})
    assert [s["outcome"] for s in ex.submissions("dup")] == ["accepted", "rejected"]


def test_fetch_and_cancel_by_client_order_id(ex: PaperExchange) -> None:
    order = ex.create_order(ETH, "limit", "sell", D("1"), D("3500"), {"clientOrderId": "lim-1"})
    assert ex.fetch_order(None, ETH, {"clientOrderId": "lim-1"}).id == order.id
    canceled = ex.cancel_order(None, ETH, {"clientOrderId": "lim-1"})
    assert canceled.status == "canceled" and canceled.filled == 0
    assert ex.fetch_order(order.id, ETH).status == "canceled"
    assert ex.fetch_open_orders() == []
    assert ex.fetch_balance().funds("USDT").used == 0
    with pytest.raises(errors.OrderNotFound):
        ex.cancel_order(order.id, ETH)  # already canceled


def test_order_not_found_cases(ex: PaperExchange) -> None:
    closed = ex.create_order(BTC, "market", "buy", D("0.01"))
    with pytest.raises(errors.OrderNotFound):
        ex.cancel_order(closed.id, BTC)  # filled orders cannot be canceled
    with pytest.raises(errors.OrderNotFound):
        ex.fetch_order("999", BTC)
    with pytest.raises(errors.OrderNotFound):
        ex.fetch_order(None, BTC, {"clientOrderId": "never"})
    with pytest.raises(errors.OrderNotFound):
        ex.fetch_order(closed.id, ETH)  # wrong symbol
    with pytest.raises(errors.BadRequest):
        ex.cancel_order(None, BTC)


def test_insufficient_funds(make_exchange) -> None:
    ex = make_exchange(starting_balance=D("100"))
    with pytest.raises(errors.InsufficientFunds, match="BTC/USDT:USDT needs"):
        ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "big"})
    assert ex.fetch_positions() == [] and ex.wallet_balance() == D("100")
    ex.create_order(ETH, "limit", "buy", D("0.1"), D("2900"))  # reserves 58 USDT
    with pytest.raises(errors.InsufficientFunds):
        ex.create_order(ETH, "limit", "buy", D("0.1"), D("2900"))
    # the rejected client id was not consumed
    ex.create_order(DOGE, "market", "buy", D("100"), params={"clientOrderId": "big"})


def test_stops_triggering_at_one_point_share_the_free_margin(make_exchange, market) -> None:
    ex = make_exchange(starting_balance=D("100"))  # leverage 5: 500 USDT of notional
    for cid in ("a", "b"):  # ~72 USDT of margin each: one fits, not both
        ex.create_order(BTC, "market", "buy", D("0.006"), None,
                        {"triggerPrice": D("60100"), "triggerDirection": "above",
                         "clientOrderId": cid})
    market.move(BTC, "60200")
    assert ex.fetch_order(None, BTC, {"clientOrderId": "a"}).status == "closed"
    assert ex.fetch_order(None, BTC, {"clientOrderId": "b"}).status == "rejected"
    assert [p.contracts for p in ex.fetch_positions([BTC])] == [D("0.006")]
    assert ex.fetch_balance().funds("USDT").free >= 0


def test_a_trigger_is_afforded_at_its_own_points_price_not_the_last_seen(
    make_exchange, market
) -> None:
    """The point that fires a stop also moved the open position: the margin check sees the
    loss up to that point (as the backtest's exchange does), not the price of the last call."""
    ex = make_exchange(starting_balance=D("1000"))  # leverage 5
    ex.create_order(BTC, "market", "buy", D("0.05"))  # 600 USDT of margin: ~398 free at 60000
    ex.create_order(BTC, "market", "buy", D("0.03"), None,  # ~343 USDT of margin and fee
                    {"triggerPrice": D("57000"), "triggerDirection": "below",
                     "clientOrderId": "dip"})
    market.move(BTC, "57000")  # the long lost 150 USDT on the way: ~248 free
    assert ex.fetch_order(None, BTC, {"clientOrderId": "dip"}).status == "rejected"
    assert [p.contracts for p in ex.fetch_positions([BTC])] == [D("0.05")]
    assert ex.fetch_balance().funds("USDT").free >= 0


def test_open_orders_include_triggers_and_since_limit(ex: PaperExchange, market) -> None:
    a = ex.create_order(BTC, "limit", "buy", D("0.01"), D("50000"))
    market.move(ETH, "3000")
    b = ex.create_order(ETH, "market", "sell", D("1"),
                        params={"triggerPrice": D("2500"), "triggerDirection": "below"})
    assert [o.id for o in ex.fetch_open_orders()] == [a.id, b.id]
    assert [o.id for o in ex.fetch_open_orders(since=b.timestamp)] == [b.id]
    assert [o.id for o in ex.fetch_open_orders(limit=1)] == [b.id]
    assert [o.id for o in ex.fetch_open_orders(ETH)] == [b.id]
