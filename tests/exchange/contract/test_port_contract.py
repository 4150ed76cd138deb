"""The exchange port's contract, written once and run against every implementation: the paper
exchange in one-way and hedge mode, and the ccxt gateway on the Bybit and Binance emulators.

Each test drives the port the way the bot does (actors/command_executor.py, exchange_snapshot,
market_feed) and checks what comes back: the project's records with Decimal money, and the
project's errors for the same faults, whichever venue is behind the port.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import ccxt
import pytest

from exchange import errors
from exchange.port import ExchangePort
from exchange.records import (
    Funds,
    PositionSide,
    VenueBalance,
    VenueFill,
    VenueMarket,
    VenueOrder,
    VenueOrderStatus,
    VenuePosition,
    VenueTicker,
)
from tests.exchange.contract.venues import NAMES, Venue, build

AMOUNT = D("0.01")


@pytest.fixture(params=NAMES)
def venue(request: pytest.FixtureRequest, tmp_path) -> Iterator[Venue]:
    built = build(request.param, tmp_path)
    yield built
    built.close()


def open_long(v: Venue, cid: str) -> VenueOrder:
    return v.port.create_order(v.symbol, "market", "buy", AMOUNT, None,
                               {"clientOrderId": cid, **v.opening("buy")})


def leg(v: Venue, side: str) -> PositionSide:
    return PositionSide(side) if v.hedge else PositionSide.NET


def money(*values: object) -> bool:
    return all(isinstance(value, D) for value in values)


def test_the_port_is_implemented(venue: Venue) -> None:
    assert isinstance(venue.port, ExchangePort)
    market = venue.port.market(venue.symbol)
    assert isinstance(market, VenueMarket) and market.swap and market.linear
    assert money(market.amount_step, market.price_tick, market.min_amount)
    assert venue.port.load_markets()[venue.symbol] == market
    assert venue.port.amount_to_precision(venue.symbol, D("0.0109")) == D("0.01")
    assert money(venue.port.price_to_precision(venue.symbol, D("50000.04")))


def test_market_entry_comes_back_as_records_with_decimal_money(venue: Venue) -> None:
    order = open_long(venue, "c-entry")
    assert isinstance(order, VenueOrder)
    assert order.status is VenueOrderStatus.CLOSED and order.client_order_id == "c-entry"
    assert order.filled == AMOUNT and money(order.filled, order.average, order.amount)
    assert order.side == "buy" and order.symbol == venue.symbol and not order.is_stop
    if venue.order_fees:
        assert order.fee is not None and money(order.fee.cost) and order.fee.cost > 0
    else:
        assert order.fee is None  # not reported on the order: fills carry it
    [position] = venue.port.fetch_positions([venue.symbol])
    assert isinstance(position, VenuePosition)
    assert (position.side, position.contracts) == ("long", AMOUNT)
    assert position.position_side is leg(venue, "long") and position.hedged is venue.hedge
    assert money(position.entry_price, position.mark_price, position.unrealized_pnl)
    [fill] = venue.port.fetch_my_trades(venue.symbol)
    assert isinstance(fill, VenueFill) and fill.client_order_id == "c-entry"
    assert (fill.side, fill.amount) == ("buy", AMOUNT) and fill.order_id == order.id
    assert money(fill.price) and money(fill.fee_cost) and fill.fee_cost > 0
    assert isinstance(fill.timestamp, int)


def test_reads_are_records(venue: Venue) -> None:
    ticker = venue.port.fetch_tickers([venue.symbol])[venue.symbol]
    assert isinstance(ticker, VenueTicker) and ticker.symbol == venue.symbol
    assert money(ticker.last) and ticker.last is not None and ticker.last > 0
    # Binance's all-symbol 24 h ticker carries no bid/ask; where a venue quotes them they
    # are Decimal and straddle the last price
    if ticker.bid is not None and ticker.ask is not None:
        assert money(ticker.bid, ticker.ask) and ticker.bid <= ticker.last <= ticker.ask
    balance = venue.port.fetch_balance()
    assert isinstance(balance, VenueBalance)
    usdt = balance.funds("USDT")
    assert isinstance(usdt, Funds) and money(usdt.free, usdt.used, usdt.total)
    assert usdt.total > 0 and balance.free("USDT") == usdt.free
    assert venue.port.fetch_positions([venue.symbol]) == []
    assert venue.port.fetch_open_orders(venue.symbol) == []


def test_closing_fill_reports_realized_pnl_where_the_venue_does(venue: Venue) -> None:
    open_long(venue, "c-open")
    venue.move_to(venue.price() * D("1.01"))
    close = venue.port.create_order(venue.symbol, "market", "sell", AMOUNT, None,
                                    {"clientOrderId": "c-close", **venue.closing("long")})
    assert close.status == "closed" and close.filled == AMOUNT
    # reduce-only on every venue (Binance in hedge mode takes no reduceOnly and lists the
    # close without it: the position side alone makes it a close, and the port reads it so)
    assert close.reduce_only is True
    assert venue.port.fetch_positions([venue.symbol]) == []
    fill = next(f for f in venue.port.fetch_my_trades(venue.symbol) if f.order_id == close.id)
    if venue.fill_pnl:
        assert fill.realized_pnl is not None and fill.realized_pnl > 0
    else:
        assert fill.realized_pnl is None
    if not venue.fill_sides:
        assert fill.position_side is None
        order = venue.port.fetch_order(fill.order_id, venue.symbol,
                                       {"clientOrderId": fill.client_order_id})
        assert order.position_side is leg(venue, "long")  # the join the port documents
    else:
        assert fill.position_side is leg(venue, "long")


def test_unknown_order_is_order_not_found(venue: Venue) -> None:
    with pytest.raises(errors.OrderNotFound):
        venue.port.fetch_order(None, venue.symbol, {"clientOrderId": "never-sent"})
    with pytest.raises(errors.OrderNotFound):
        venue.port.cancel_order(None, venue.symbol, {"clientOrderId": "never-sent"})


def test_too_small_is_invalid_order(venue: Venue) -> None:
    with pytest.raises(errors.InvalidOrder):  # below the minimum amount (and off the step)
        venue.port.create_order(venue.symbol, "market", "buy", D("0.0001"), None,
                                {"clientOrderId": "c-tiny", **venue.opening("buy")})


def test_insufficient_balance_is_insufficient_funds(venue: Venue) -> None:
    with pytest.raises(errors.InsufficientFunds) as info:
        venue.port.create_order(venue.symbol, "market", "buy", venue.too_much, None,
                                {"clientOrderId": "c-big", **venue.opening("buy")})
    assert isinstance(info.value, errors.PermanentError)
    assert not isinstance(info.value, ccxt.BaseError)
    assert venue.port.fetch_positions([venue.symbol]) == []


def test_reduce_only_on_a_flat_side_is_invalid_order(venue: Venue) -> None:
    with pytest.raises(errors.InvalidOrder):
        venue.port.create_order(venue.symbol, "market", "sell", AMOUNT, None,
                                {"clientOrderId": "c-ro", **venue.closing("long")})
    assert venue.port.fetch_positions([venue.symbol]) == []


def test_unknown_symbol_is_bad_symbol(venue: Venue) -> None:
    with pytest.raises(errors.BadSymbol):
        venue.port.create_order("NOPE/USDT:USDT", "market", "buy", AMOUNT, None,
                                {"clientOrderId": "c-nope"})


def test_unreachable_venue_is_a_temporary_error(venue: Venue) -> None:
    venue.fail_reads()
    with pytest.raises(errors.TemporaryError) as info:
        venue.port.fetch_positions([venue.symbol])
    assert not isinstance(info.value, ccxt.BaseError)


def test_timeout_after_the_order_landed_is_found_by_client_id(venue: Venue) -> None:
    venue.land_then_time_out()
    try:
        answered: VenueOrder | None = open_long(venue, "c-lost")
    except (errors.TemporaryError, errors.OrderOutcomeUnknown):
        answered = None  # the paper venue raises; the gateway looks the order up itself
    found = venue.port.fetch_order(None, venue.symbol, {"clientOrderId": "c-lost"})
    assert found.client_order_id == "c-lost" and found.filled == AMOUNT
    assert answered is None or answered.id == found.id
    [position] = venue.port.fetch_positions([venue.symbol])
    assert position.contracts == AMOUNT  # landed once, never sent twice


def test_a_stop_rests_then_triggers_and_closes_the_position(venue: Venue) -> None:
    open_long(venue, "c-in")
    price = venue.price()
    trigger = venue.port.price_to_precision(venue.symbol, price * D("0.98"))
    stop = venue.port.create_order(venue.symbol, "market", "sell", AMOUNT, None, {
        "clientOrderId": "c-stop", "stopLossPrice": trigger, **venue.closing("long")})
    assert stop.status is VenueOrderStatus.OPEN and stop.is_stop
    assert stop.reduce_only is True  # (as a close's, above)
    assert stop.trigger_price == trigger and stop.filled == 0
    [resting] = venue.port.fetch_open_orders(venue.symbol)
    assert resting.client_order_id == "c-stop" and resting.trigger_price == trigger
    venue.move_to(price * D("0.99"))  # above the stop: nothing happens
    assert venue.port.fetch_order(None, venue.symbol, {"clientOrderId": "c-stop"}).status == "open"
    venue.move_to(price * D("0.97"))  # through it
    fired = venue.port.fetch_order(None, venue.symbol, {"clientOrderId": "c-stop"})
    assert fired.status is VenueOrderStatus.CLOSED and fired.filled == AMOUNT
    assert money(fired.average) and fired.average is not None and fired.average < price
    assert venue.port.fetch_positions([venue.symbol]) == []
    assert venue.port.fetch_open_orders(venue.symbol) == []
    sells = [f for f in venue.port.fetch_my_trades(venue.symbol) if f.side == "sell"]
    assert len(sells) == 1 and sells[0].amount == AMOUNT and sells[0].fee_cost > 0


def test_cancel_returns_the_canceled_order(venue: Venue) -> None:
    open_long(venue, "c-pos")
    trigger = venue.port.price_to_precision(venue.symbol, venue.price() * D("0.95"))
    venue.port.create_order(venue.symbol, "market", "sell", AMOUNT, None, {
        "clientOrderId": "c-cx", "stopLossPrice": trigger, **venue.closing("long")})
    canceled = venue.port.cancel_order(None, venue.symbol, {"clientOrderId": "c-cx"})
    assert isinstance(canceled, VenueOrder) and canceled.status is VenueOrderStatus.CANCELED
    assert venue.port.fetch_open_orders(venue.symbol) == []
    with pytest.raises(errors.OrderNotFound):
        venue.port.cancel_order(None, venue.symbol, {"clientOrderId": "c-cx"})
