"""The Binance emulator's hedge mode as the venue behaves, through REAL ccxt.binanceusdm (and the
gateway) against it: `reduceOnly` beside positionSide LONG / SHORT is refused (-1106: the side
alone closes), and a leg gone flat expires its resting closing limit orders (Binance's futures
FAQ: "The reduceOnly open order is expired due to current position has been closed") while the
other leg's stay. A live hedge-grid chaos run against the Binance emulator needs both: the grid's
take-profits are such orders."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    factory_for,
    make_gateway,
    start_emulator,
)

BTC = "BTC/USDT:USDT"


@pytest.fixture
def emu():
    server = start_emulator("binanceusdm")
    server.venue.book.hedge = True  # the account's position mode (dualSidePosition)
    yield server
    server.stop()


@pytest.mark.parametrize("stop", [False, True])
def test_reduce_only_beside_a_hedge_position_side_is_refused(emu, stop):
    ex = factory_for("binanceusdm", emu)()
    ex.apiKey, ex.secret = API_KEY, API_SECRET
    emu_book = emu.venue.book
    ex.load_markets()
    ex.create_order(BTC, "market", "buy", 0.01, None, {"positionSide": "LONG"})
    params = {"positionSide": "LONG", "reduceOnly": True}
    if stop:
        params["stopLossPrice"] = 49000
    with pytest.raises(ccxt.BadRequest, match="-1106"):
        ex.create_order(BTC, "limit" if not stop else "market", "sell", 0.01,
                        None if stop else 51000, params)
    with emu_book.lock:
        assert [o.cid for o in emu_book.orders.values() if o.side == "sell"] == []
    # without the flag the side alone closes the leg, and the venue takes it
    params.pop("reduceOnly")
    ex.create_order(BTC, "limit" if not stop else "market", "sell", 0.01,
                    None if stop else 51000, params)


def test_a_leg_gone_flat_expires_its_closing_limits_and_not_the_other_legs(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path, hedge_mode=True)
    try:
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1})
        gw.create_order(BTC, "market", "sell", D("0.01"), None, {"positionIdx": 2})
        gw.create_order(BTC, "limit", "sell", D("0.01"), D("52000"),
                        {"positionIdx": 1, "reduceOnly": True, "clientOrderId": "tp-long"})
        gw.create_order(BTC, "limit", "buy", D("0.01"), D("48000"),
                        {"positionIdx": 2, "reduceOnly": True, "clientOrderId": "tp-short"})
        gw.create_order(BTC, "limit", "buy", D("0.01"), D("49000"),
                        {"positionIdx": 1, "clientOrderId": "level-long"})
        # the long's stop fires (a market close is refused while its take-profit rests)
        gw.create_order(BTC, "market", "sell", D("0.01"), None,
                        {"positionIdx": 1, "stopLossPrice": D("49500"),
                         "clientOrderId": "stop-long"})
        emu.venue.book.set_price("BTCUSDT", D("49400"))
        assert emu.venue.book.position("BTCUSDT", "long")[0] == 0
        status = {cid: gw.fetch_order(None, BTC, {"clientOrderId": cid}).status.value
                  for cid in ("tp-long", "tp-short", "level-long")}
        # the long's take-profit expired with its leg; the short's and the long's level
        # (it opens, it does not close) still rest
        assert status == {"tp-long": "expired", "tp-short": "open", "level-long": "open"}
    finally:
        gw.close()


def test_resting_take_profits_count_against_a_new_close(emu):
    """Binance counts the leg's resting closing limit orders against a new close: with a
    take-profit resting for the whole leg a market close is refused (-4118), with one for half
    of it only the other half may close; a conditional stop (the algo service) counts nothing
    before it triggers. Bybit does not refuse so (its emulator leaves this off)."""
    ex = factory_for("binanceusdm", emu)()
    ex.apiKey, ex.secret = API_KEY, API_SECRET
    ex.load_markets()
    long_side = {"positionSide": "LONG"}
    ex.create_order(BTC, "market", "buy", 0.02, None, long_side)
    ex.create_order(BTC, "market", "sell", 0.02, None, {**long_side, "stopLossPrice": 40000})
    tp = ex.create_order(BTC, "limit", "sell", 0.02, 60000, long_side)
    with pytest.raises(ccxt.OperationRejected, match="-4118"):
        ex.create_order(BTC, "market", "sell", 0.02, None, long_side)
    with pytest.raises(ccxt.OperationRejected, match="-4118"):
        ex.create_order(BTC, "limit", "sell", 0.02, 61000, long_side)  # a second take-profit
    ex.cancel_order(tp["id"], BTC)
    half = ex.create_order(BTC, "limit", "sell", 0.01, 60000, long_side)
    with pytest.raises(ccxt.OperationRejected, match="-4118"):
        ex.create_order(BTC, "market", "sell", 0.02, None, long_side)
    ex.create_order(BTC, "market", "sell", 0.01, None, long_side)  # the half no order takes
    assert emu.venue.book.position("BTCUSDT", "long")[0] == D("0.01")
    ex.cancel_order(half["id"], BTC)
    ex.create_order(BTC, "market", "sell", 0.01, None, long_side)
    assert emu.venue.book.position("BTCUSDT", "long")[0] == 0


def test_a_legs_closing_orders_are_listed_as_reduce_only(emu, tmp_path):
    """Binance lists a hedge closing order `reduceOnly: false` (it refuses the flag there): the
    gateway reads it as reduce-only by its leg's closing side, as a stop is, and an opening
    level as not. Read by the flag alone, a grid's take-profit or a person's stop on a leg was
    taken for an order that could open a position: reconciliation cancelled such an orphan even
    while it was a bare leg's only stop, and an emergency close stopped at one it could not
    cancel (exchange/ccxt/order_params.py `row_only_reduces`)."""
    gw = make_gateway("binanceusdm", emu, tmp_path, hedge_mode=True)
    try:
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"positionIdx": 1})
        gw.create_order(BTC, "market", "sell", D("0.01"), None, {"positionIdx": 2})
        for cid, side, price, idx in (("tp-long", "sell", "52000", 1), ("tp-short", "buy",
                                      "48000", 2), ("level-long", "buy", "49000", 1)):
            gw.create_order(BTC, "limit", side, D("0.01"), D(price),
                            {"positionIdx": idx, "clientOrderId": cid,
                             **({"reduceOnly": True} if cid.startswith("tp") else {})})
        gw.create_order(BTC, "market", "sell", D("0.01"), None,
                        {"positionIdx": 1, "stopLossPrice": D("45000"),
                         "clientOrderId": "stop-long"})
        listed = {o.client_order_id: o.reduce_only for o in gw.fetch_open_orders(BTC)}
        assert listed == {"tp-long": True, "tp-short": True, "level-long": False,
                          "stop-long": True}
        with emu.venue.book.lock:  # the venue's own rows say otherwise
            assert not any(o.reduce_only for o in emu.venue.book.orders.values())
    finally:
        gw.close()
