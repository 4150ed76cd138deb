"""Bybit v5 documents `closeOnTrigger: true` orders as closing orders: they can only reduce a
position (the venue cancels or shrinks other orders to make room). A person's conditional close
placed with closeOnTrigger and without reduceOnly is listed `reduceOnly: false,
closeOnTrigger: true`; ccxt 4.5.90's bybit parse_order keeps the row as `info` and reads
`reduceOnly` from the flag alone. The gateway read such an order as one that can open a
position: reconciliation cancelled it as an orphan, and the emergency close cancelled it
(exchange/ccxt/order_params.py `row_only_reduces`). Through REAL ccxt.bybit and the gateway
against the Bybit emulator, which echoes the closeOnTrigger it was sent."""

from __future__ import annotations

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
    server = start_emulator("bybit")
    yield server
    server.stop()

def test_a_close_on_trigger_order_by_hand_is_read_as_reduce_only(emu, tmp_path):
    ex = factory_for("bybit", emu)()  # the person's own client, on the same account
    ex.apiKey, ex.secret = API_KEY, API_SECRET
    ex.load_markets()
    ex.create_order(BTC, "market", "buy", 0.01, None)
    for cid, side, trigger, direction, close in (
            ("hand-close", "sell", 45000, "descending", True),  # the person's conditional close
            ("hand-entry", "buy", 55000, "ascending", False)):  # a buy-stop: it can open
        ex.create_order(BTC, "market", side, 0.01, None,
                        {"triggerPrice": trigger, "triggerDirection": direction,
                         "closeOnTrigger": close, "clientOrderId": cid})
    with emu.venue.book.lock:  # the venue's rows: neither flagged reduce-only
        assert not any(o.reduce_only for o in emu.venue.book.orders.values())
    gw = make_gateway("bybit", emu, tmp_path)
    try:
        gw.load_markets()
        listed = {o.client_order_id: o.reduce_only for o in gw.fetch_open_orders(BTC)}
        assert listed == {"hand-close": True, "hand-entry": False}
        assert gw.fetch_order(None, BTC, {"clientOrderId": "hand-close"}).reduce_only
    finally:
        gw.close()
