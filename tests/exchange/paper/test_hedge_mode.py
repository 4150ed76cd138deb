"""Hedge mode: a long and a short position per symbol, each order naming its side."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import errors
from exchange.paper import GeneratorPriceSource, PaperExchange
from tests.exchange.paper.paper_support import BTC, DOGE, ETH, FakeClock

LONG = {"positionIdx": 1}
SHORT = {"positionIdx": 2}


@pytest.fixture
def hx(make_exchange) -> PaperExchange:
    return make_exchange(hedge_mode=True)


def sides(ex: PaperExchange, symbol: str | None = None) -> dict[str, dict]:
    return {p.side: p for p in ex.fetch_positions([symbol] if symbol else None)}


def test_long_and_short_open_at_once_on_one_symbol(hx: PaperExchange) -> None:
    buy = hx.create_order(BTC, "market", "buy", D("0.01"), params={**LONG, "clientOrderId": "l1"})
    sell = hx.create_order(BTC, "market", "sell", D("0.02"), params={**SHORT, "clientOrderId": "s1"})
    assert buy.position_side.idx == 1 and sell.position_side.idx == 2
    assert buy.reduce_only is False and sell.reduce_only is False
    long, short = hx.fetch_positions([BTC])  # long first, then short
    assert (long.side, long.contracts, long.entry_price) == ("long", D("0.01"), D("60006.0"))
    assert (short.side, short.contracts, short.entry_price) == ("short", D("0.02"), D("59994.0"))
    assert long.unrealized_pnl == D("-0.060") and short.unrealized_pnl == D("-0.120")
    balance = hx.fetch_balance()
    # used margin counts both sides: 0.01 * 60006.0 / 5 + 0.02 * 59994.0 / 5
    assert balance.funds("USDT").used == D("120.012") + D("239.976")
    fees = D("0.33003300") + D("0.65993400")
    assert balance.funds("USDT").total == D("10000") - fees - D("0.18")
    trades = hx.fetch_my_trades(BTC)
    assert [t.position_side for t in trades] == ["long", "short"]
    assert [t.position_side.idx for t in trades] == [1, 2]
    assert [t.realized_pnl for t in trades] == [0, 0]


def test_position_record_shape_in_both_modes(hx: PaperExchange, make_exchange, tmp_path) -> None:
    hx.create_order(ETH, "market", "buy", D("1"), params=LONG)
    hx.create_order(ETH, "market", "sell", D("2"), params=SHORT)
    long, short = hx.fetch_positions()
    assert long.hedged is True and short.hedged is True
    assert (long.side, long.position_side, long.position_side.idx) == ("long", "long", 1)
    assert (short.side, short.position_side, short.position_side.idx) == ("short", "short", 2)
    for p in (long, short):
        assert p.symbol == ETH and p.mark_price == D("3000.00")
        assert p.unrealized_pnl == (p.mark_price - p.entry_price) * p.contracts * (
            1 if p.side == "long" else -1)
    hx.create_order(ETH, "market", "sell", D("1"), params=LONG)  # closes the long
    assert [p.side for p in hx.fetch_positions()] == ["short"]  # a 0 side is not listed

    one_way = make_exchange(store_path=tmp_path / "one-way.db")
    one_way.create_order(ETH, "market", "sell", D("1"))
    [net] = one_way.fetch_positions()
    assert net.side == "short" and net.hedged is False
    assert net.position_side == "net" and net.position_side.idx == 0


def test_averaging_on_the_long_side_with_a_resting_grid_limit(hx: PaperExchange, market) -> None:
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)  # 60006.0
    hx.create_order(BTC, "market", "sell", D("0.01"), params=SHORT)  # 59994.0
    grid = hx.create_order(BTC, "limit", "buy", D("0.01"), D("59000"),
                           {**LONG, "clientOrderId": "grid-1"})
    assert grid.status == "open" and grid.reduce_only is False
    assert grid.position_side.idx == 1
    market.move(BTC, "59500", "58990")
    assert hx.fetch_order(None, BTC, {"clientOrderId": "grid-1"}).status == "closed"
    long, short = hx.fetch_positions([BTC])
    assert long.contracts == D("0.02")
    assert long.entry_price == (D("0.01") * D("60006.0") + D("0.01") * D("59000")) / D("0.02")
    assert long.entry_price == D("59503.0")
    assert (short.contracts, short.entry_price) == (D("0.01"), D("59994.0"))
    fill = hx.fetch_my_trades(BTC)[-1]
    assert fill.taker_or_maker == "maker" and fill.position_side.idx == 1
    assert fill.realized_pnl == 0  # adding to the long does not touch the short


def test_long_stop_fires_and_only_reduces_the_long(hx: PaperExchange, market) -> None:
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)  # 60006.0
    hx.create_order(BTC, "market", "sell", D("0.01"), params=SHORT)  # 59994.0
    long_stop = hx.create_order(BTC, "market", "sell", D("0.01"),
                                params={**LONG, "stopLossPrice": D("59000"), "clientOrderId": "ls"})
    short_stop = hx.create_order(BTC, "market", "buy", D("0.01"),
                                 params={"positionSide": "SHORT", "stopLossPrice": D("61000")})
    assert long_stop.reduce_only is True and long_stop.position_side.idx == 1
    assert short_stop.position_side.idx == 2
    wallet = hx.wallet_balance()
    market.move(BTC, "59500", "58900", "59800")
    done = hx.fetch_order(long_stop.id, BTC)
    assert done.status == "closed" and done.average == D("58894.1")
    [short] = hx.fetch_positions([BTC])
    assert (short.side, short.contracts, short.entry_price) == ("short", D("0.01"), D("59994.0"))
    assert [o.id for o in hx.fetch_open_orders(BTC)] == [short_stop.id]
    trade = hx.fetch_my_trades(BTC)[-1]
    realized = (D("58894.1") - D("60006.0")) * D("0.01")
    assert (trade.realized_pnl, trade.position_side) == (realized, "long")
    assert hx.wallet_balance() - wallet == realized - trade.fee.cost
    assert hx.realized_pnl_total(BTC, "long") == realized - trade.fee.cost - D("0.33003300")


def test_conditional_trigger_price_orders_work_per_side(hx: PaperExchange, market) -> None:
    # a breakout entry on the short side, then a triggerPrice close of the long
    hx.create_order(ETH, "market", "buy", D("1"), params=LONG)  # 3000.30
    entry = hx.create_order(ETH, "market", "sell", D("1"), params={
        **SHORT, "triggerPrice": D("2950"), "triggerDirection": "below"})
    assert entry.reduce_only is False
    close = hx.create_order(ETH, "market", "sell", D("1"), params={
        **LONG, "triggerPrice": D("2900"), "triggerDirection": "descending"})
    assert close.reduce_only is True  # a sell on the long side only ever reduces it
    market.move(ETH, "2940")
    assert {s: p.contracts for s, p in sides(hx).items()} == {"long": D("1"), "short": D("1")}
    market.move(ETH, "2890")
    [short] = hx.fetch_positions()
    assert short.side == "short" and short.entry_price == D("2939.71")


def test_short_take_profit_limit_fills_when_crossed_and_only_reduces_the_short(
    hx: PaperExchange, market
) -> None:
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)  # 60006.0
    hx.create_order(BTC, "market", "sell", D("0.01"), params=SHORT)  # 59994.0
    used = hx.fetch_balance().funds("USDT").used
    tp = hx.create_order(BTC, "limit", "buy", D("0.01"), D("59000"),
                         {**SHORT, "reduceOnly": True, "clientOrderId": "tp-s"})
    assert tp.status == "open" and tp.reduce_only is True
    assert tp.position_side.idx == 2 and tp.position_side == "short"
    assert hx.fetch_balance().funds("USDT").used == used  # a closing order reserves no margin
    assert [o.client_order_id for o in hx.fetch_open_orders(BTC)] == ["tp-s"]
    market.move(BTC, "59200", "59000.1")
    assert hx.fetch_order(tp.id, BTC).status == "open"
    market.move(BTC, "58950")
    filled = hx.fetch_order(tp.id, BTC)
    assert filled.status == "closed" and filled.average == D("59000")
    [long] = hx.fetch_positions([BTC])
    assert (long.side, long.contracts, long.entry_price) == ("long", D("0.01"), D("60006.0"))
    trade = hx.fetch_my_trades(BTC)[-1]
    assert trade.taker_or_maker == "maker" and trade.fee.cost == D("0.118")
    assert trade.realized_pnl == (D("59994.0") - D("59000")) * D("0.01")
    assert trade.position_side.idx == 2


def test_close_larger_than_its_side_is_capped_and_leaves_the_other_side(hx: PaperExchange) -> None:
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    hx.create_order(BTC, "market", "sell", D("0.03"), params=SHORT)
    cut = hx.create_order(BTC, "market", "sell", D("0.05"), params=LONG)  # no reduceOnly needed
    assert cut.status == "closed" and cut.filled == cut.amount == D("0.01")
    assert cut.reduce_only is True
    [short] = hx.fetch_positions()
    assert (short.side, short.contracts) == ("short", D("0.03"))
    part = hx.create_order(BTC, "market", "buy", D("0.001"), params=SHORT)
    assert part.filled == D("0.001") and sides(hx)["short"].contracts == D("0.029")


def test_closing_order_left_without_its_side_is_canceled_when_it_would_fill(
    hx: PaperExchange, market
) -> None:
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    hx.create_order(BTC, "market", "sell", D("0.01"), params=SHORT)
    stop = hx.create_order(BTC, "market", "sell", D("0.01"),
                           params={**LONG, "stopLossPrice": D("59000")})
    tp = hx.create_order(BTC, "limit", "sell", D("0.01"), D("61000"), LONG)
    hx.create_order(BTC, "market", "sell", D("0.01"), params=LONG)  # the long is closed by hand
    assert {o.id for o in hx.fetch_open_orders(BTC)} == {stop.id, tp.id}  # still resting
    trades = len(hx.fetch_my_trades())
    market.move(BTC, "58000")
    assert hx.fetch_order(stop.id, BTC).status == "canceled"
    market.move(BTC, "61500")
    assert hx.fetch_order(tp.id, BTC).status == "canceled"
    assert len(hx.fetch_my_trades()) == trades
    [short] = hx.fetch_positions()
    assert (short.side, short.contracts) == ("short", D("0.01"))


def test_hedge_mode_rejects_orders_without_a_position_side(hx: PaperExchange) -> None:
    for params in ({}, {"positionIdx": 0}, {"positionSide": "BOTH"}, {"positionSide": "both"}):
        with pytest.raises(errors.InvalidOrder, match="positionIdx .*positionSide"):
            hx.create_order(BTC, "market", "buy", D("0.01"), params={**params, "clientOrderId": "x"})
    for params, needle in (
        ({"positionIdx": 3}, "positionIdx must be 0"),
        ({"positionIdx": True}, "positionIdx must be 0"),
        ({"positionSide": "UP"}, "positionSide must be"),
        ({"positionIdx": 1, "positionSide": "SHORT"}, "disagree"),
    ):
        with pytest.raises(errors.InvalidOrder, match=needle):
            hx.create_order(BTC, "market", "buy", D("0.01"), params=params)
    # rejected ids are not consumed, every attempt is logged
    assert hx.create_order(BTC, "market", "buy", D("0.01"), params={**LONG, "clientOrderId": "x"})
    assert [s["outcome"] for s in hx.submissions("x")] == ["rejected"] * 4 + ["accepted"]
    assert hx.submissions("x")[-1]["info"] == {"positionIdx": "1", "positionSide": "LONG"}
    assert hx.submissions("x")[0]["info"] == {"positionIdx": None, "positionSide": None}


def test_hedge_mode_closing_and_reduce_only_rules(hx: PaperExchange) -> None:
    with pytest.raises(errors.InvalidOrder, match="the long position is zero"):
        hx.create_order(BTC, "market", "sell", D("0.01"), params=LONG)
    with pytest.raises(errors.InvalidOrder, match="the short position is zero"):
        hx.create_order(BTC, "limit", "buy", D("0.01"), D("59000"), SHORT)
    hx.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    hx.create_order(BTC, "market", "sell", D("0.01"), params=SHORT)
    with pytest.raises(errors.InvalidOrder, match="reduce-only buy would increase the long position"):
        hx.create_order(BTC, "market", "buy", D("0.01"), params={**LONG, "reduceOnly": True})
    with pytest.raises(errors.InvalidOrder, match="reduce-only sell would increase the short"):
        hx.create_order(BTC, "market", "sell", D("0.01"),
                        params={**SHORT, "stopLossPrice": D("59000")})  # a stop on the wrong side


def test_one_way_mode_rejects_hedge_position_sides(ex: PaperExchange) -> None:
    for params in ({"positionIdx": 1}, {"positionIdx": "2"}, {"positionSide": "LONG"},
                   {"positionSide": "short"}, {"hedged": True}):
        with pytest.raises(errors.InvalidOrder, match="position idx not match position mode"):
            ex.create_order(BTC, "market", "buy", D("0.01"), params=params)
    assert ex.fetch_positions() == [] and ex.wallet_balance() == D("10000")
    a = ex.create_order(BTC, "market", "buy", D("0.01"), params={"positionIdx": 0})
    b = ex.create_order(BTC, "market", "buy", D("0.01"), params={"positionSide": "BOTH"})
    assert a.position_side.idx == b.position_side.idx == 0
    assert a.position_side == "net"
    assert ex.fetch_my_trades()[0].position_side == "net"  # one-way trades: the net side
    assert ex.submissions()[-1]["info"] == {"positionIdx": "0", "positionSide": "BOTH"}


@pytest.mark.parametrize(
    ("params", "side", "expected"),
    [
        ({"positionIdx": 1}, "buy", "1"),
        ({"positionIdx": "1"}, "buy", "1"),
        ({"positionSide": "LONG"}, "buy", "1"),
        ({"positionSide": "long"}, "buy", "1"),
        ({"positionSide": "Long", "positionIdx": 1}, "buy", "1"),
        ({"positionIdx": 2}, "sell", "2"),
        ({"positionSide": "SHORT"}, "sell", "2"),
        ({"positionSide": "short", "positionIdx": "2"}, "sell", "2"),
        ({"hedged": True}, "buy", "1"),  # ccxt's unified flag: a buy opens the long
        ({"hedged": True}, "sell", "2"),
    ],
)
def test_position_side_spellings(hx: PaperExchange, params, side, expected) -> None:
    order = hx.create_order(ETH, "market", side, D("1"), params={**params, "clientOrderId": "o"})
    assert order.position_side.idx == int(expected)
    assert hx.fetch_order(order.id, ETH).position_side.idx == int(expected)
    assert hx.fetch_my_trades(ETH)[0].position_side.idx == int(expected)
    assert hx.submissions("o")[0]["info"]["positionIdx"] == expected
    [position] = hx.fetch_positions()
    assert position.position_side.idx == int(expected)


def test_hedged_flag_with_reduce_only_closes_the_opposite_side(hx: PaperExchange) -> None:
    hx.create_order(ETH, "market", "buy", D("2"), params=LONG)
    close = hx.create_order(ETH, "market", "sell", D("1"), params={"hedged": True, "reduceOnly": True})
    assert close.position_side.idx == 1
    assert sides(hx).keys() == {"long"} and sides(hx)["long"].contracts == D("1")


SYMBOLS = [BTC, ETH, DOGE]
STEPS = {BTC: D("0.001"), ETH: D("0.01"), DOGE: D("1")}

action = st.tuples(
    st.sampled_from(["market", "limit", "stop", "trigger", "cancel"]),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([1, 2]),  # positionIdx
    st.integers(min_value=1, max_value=400),  # amount in steps
    st.integers(min_value=-300, max_value=300),  # price offset in bps for limit/stop/trigger
    st.floats(min_value=0, max_value=900),  # seconds until the next action
)


def _act(ex: PaperExchange, kind, symbol, side, idx, steps, bps) -> None:
    amount = STEPS[symbol] * steps
    last = ex.fetch_tickers([symbol])[symbol].last
    price = ex.price_to_precision(symbol, last * (1 + D(bps) / 10000))
    params = {"positionIdx": idx}
    if kind == "market":
        ex.create_order(symbol, "market", side, amount, params=params)
    elif kind == "limit":
        ex.create_order(symbol, "limit", side, amount, price, params)
    elif kind == "stop":
        ex.create_order(symbol, "market", side, amount, params={**params, "stopLossPrice": price})
    elif kind == "trigger":
        direction = "above" if price > last else "below"
        ex.create_order(symbol, "market", side, amount,
                        params={**params, "triggerPrice": price, "triggerDirection": direction})
    else:
        for order in ex.fetch_open_orders(symbol)[:1]:
            ex.cancel_order(order.id, symbol)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), actions=st.lists(action, min_size=1, max_size=25))
def test_per_side_realized_pnl_sums_to_the_wallet_change_minus_fees(seed: int, actions) -> None:
    clock = FakeClock()
    source = GeneratorPriceSource(seed=seed, epoch_ms=clock.ms, speed=600)
    with tempfile.TemporaryDirectory() as tmp:
        ex = PaperExchange(store_path=Path(tmp) / "h.db", symbols=SYMBOLS, price_source=source,
                           clock=clock, starting_balance=D("2000"), hedge_mode=True)
        try:
            for kind, symbol, side, idx, steps, bps, dt in actions:
                try:
                    _act(ex, kind, symbol, side, idx, steps, bps)
                except (errors.InvalidOrder, errors.InsufficientFunds):
                    pass
                clock.advance(dt)
            _check_hedge_ledger(ex)
        finally:
            ex.close()


def _check_hedge_ledger(ex: PaperExchange) -> None:
    trades = ex.fetch_my_trades()
    per_side: dict[str, D] = defaultdict(D)
    held: dict[tuple[str, str], D] = defaultdict(D)
    for t in trades:
        side = t.position_side.value
        per_side[side] += t.realized_pnl - t.fee.cost
        held[(t.symbol, side)] += t.amount if t.side == "buy" else -t.amount
        if side == "long":  # a side never crosses zero
            assert held[(t.symbol, side)] >= 0
        else:
            assert held[(t.symbol, side)] <= 0
    wallet_change = ex.wallet_balance() - D("2000")
    assert wallet_change == per_side["long"] + per_side["short"] == ex.realized_pnl_total()
    assert ex.realized_pnl_total(position_side="long") == per_side["long"]
    assert ex.realized_pnl_total(position_side="short") == per_side["short"]
    positions = ex.fetch_positions(SYMBOLS)  # per symbol: long, then short
    for p in positions:
        assert p.hedged is True and p.contracts > 0
        signed = p.contracts if p.side == "long" else -p.contracts
        assert signed == held[(p.symbol, p.side)]
    listed = {(p.symbol, p.side) for p in positions}
    assert all(qty == 0 for key, qty in held.items() if key not in listed)
    balance = ex.fetch_balance()
    # summed the way the account does (per symbol, long then short): averaged entries are
    # 28-digit quotients, so a different summation order could round differently
    unrealized = sum((sum((p.unrealized_pnl for p in positions if p.symbol == s), D(0))
                      for s in SYMBOLS), D(0))
    assert balance.funds("USDT").total == ex.wallet_balance() + unrealized
    margin = sum((p.contracts * p.entry_price / 5 for p in positions), D(0))
    reserved = sum((o.price * o.remaining / 5 for o in ex.fetch_open_orders()
                    if o.type == "limit" and not o.reduce_only), D(0))
    assert abs(balance.funds("USDT").used - (margin + reserved)) < D("1e-18")  # both sides count
