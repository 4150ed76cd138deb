"""An entry's stop waited for the entry's fee read (a soak against the Binance emulator, 22
symbols: p90 entry -> stop 2.9 s, worst 11.6 s, each slow stop sent ~10 ms after the late
`userTrades` answer). Binance USDⓈ-M order answers carry no fee; the gateway read the order's
trades (userTrades, weight 5) inside create_order, so the answer the actor places the stop on
waited for that read to pass the IP weight budget. Now a create's answer (an entry, a close, a
stop, a create found by the recovery lookup) comes back as the venue gave it, its fee unknown;
the core books its fill at once and its fee when the order's lookup (the late-fee look,
trading/late_fees.py) tells it: one trade read per filled order, as before, only later.

Real ccxt `binanceusdm` against the emulator on 127.0.0.1; its recorded requests are the proof."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.order_results import events_for
from exchange.records import VenueOrder
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from trading.events import OrderFilled

S = "BTC/USDT:USDT"
D = Decimal
TRADES = "/fapi/v1/userTrades"
QTY = D("0.01")


@pytest.fixture
def binance(tmp_path):
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path)
    gw.load_markets()
    yield emu, gw
    gw.close()
    emu.stop()


def _buy(gw, cid: str) -> VenueOrder:
    return gw.create_order(S, "market", "buy", QTY, None, {"clientOrderId": cid})


def _sell_to_close(gw, cid: str) -> VenueOrder:
    return gw.create_order(S, "market", "sell", QTY, None,
                           {"clientOrderId": cid, "reduceOnly": True})


def _fill(cid: str, answer: VenueOrder) -> OrderFilled:
    (event,) = events_for(cid, answer, pending=True)
    assert isinstance(event, OrderFilled)
    return event


def test_a_market_entry_returns_before_any_trade_read_with_its_fee_unknown(binance):
    emu, gw = binance
    emu.clear()  # the markets' load
    placed = _buy(gw, "e-1")
    assert emu.hits(TRADES) == []  # nothing but the create itself went out
    assert [(r.method, r.path) for r in emu.requests] == [("POST", "/fapi/v1/order")]
    assert (placed.filled, placed.average, placed.fee) == (QTY, D("50000"), None)
    event = _fill("e-1", placed)  # booked at once: quantity and price, its fee owed
    assert event.complete and not event.fee_known and event.filled == QTY


def test_a_stop_and_a_market_close_return_before_any_trade_read(binance):
    emu, gw = binance
    _buy(gw, "e-1")
    stop = gw.place_stop(S, "sell", QTY, D("49000"), "s-1")
    gw.cancel_order(stop.id, S, {"clientOrderId": "s-1", "trigger": True})
    close = _sell_to_close(gw, "x-1")
    assert emu.hits(TRADES) == []
    assert (close.filled, close.fee) == (QTY, None)
    assert not _fill("x-1", close).fee_known


def test_a_create_found_by_the_recovery_lookup_returns_before_any_trade_read(binance):
    """The create's answer was lost after the order filled: the lookup by clientOrderId finds
    it, and that is the answer the stop waits for: no trade read either."""
    emu, gw = binance
    emu.fail_next("/fapi/v1/order", status=502, land=True)
    found = _buy(gw, "r-1")
    assert (found.client_order_id, found.filled, found.fee) == ("r-1", QTY, None)
    assert [r.method for r in emu.hits("/fapi/v1/order")] == ["POST", "GET"]
    assert emu.hits(TRADES) == []


def test_the_late_look_books_each_fee_once_and_the_ledger_equals_the_venue(binance):
    emu, gw = binance
    book = emu.venue.book
    before = gw.fetch_balance().funds("USDT").total
    entry = _buy(gw, "e-1")
    book.set_price("BTCUSDT", D("51000"))
    close = _sell_to_close(gw, "x-1")
    # what the core books from the answers: quantity and price now, no fee yet
    booked = [_fill("e-1", entry), _fill("x-1", close)]
    assert not any(e.fee_known for e in booked) and emu.hits(TRADES) == []
    # the late-fee look: each order's lookup reads its own trades, once
    late = [_fill(cid, gw.fetch_order(o.id, S, {"clientOrderId": cid}))
            for cid, o in (("e-1", entry), ("x-1", close))]
    assert all(e.fee_known for e in late)
    assert [r.params["orderId"] for r in emu.hits(TRADES)] == [entry.id, close.id]
    venue_fees = sum((t.fee for t in book.trades), D(0))
    assert sum((e.fee for e in late), D(0)) == venue_fees > 0
    assert [e.fee for e in late] == [book.fees_of(book.find(cid=c)) for c in ("e-1", "x-1")]
    realized = (booked[1].average - booked[0].average) * QTY  # from the answers' fills
    ledger = realized - sum((e.fee for e in late), D(0))
    assert ledger == gw.fetch_balance().funds("USDT").total - before
