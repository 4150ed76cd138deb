"""A cancel that reports a fill comes with that fill's fee, and a cancel that went through
is reported as done even when its fee read fails (recovery.py
`_cancel_fees`: "The cancel went through: a failed read returns the order without its fee
instead of raising"; README, What happens on each fault, "An order answer carries no fee": "a
cancel that reports a fill reads it with its answer"). Binance's cancel answer of a partly
filled order names no fee; its trades (`userTrades`) are read for it, and that read can fail
(here the venue answers -1001 "try again" until the gateway's attempts run out). Raised, the
error said the cancel failed: the caller kept a cancelled order live and the part that filled
unbooked until a later lookup. Mutation audit (issue 12): narrowing `_cancel_fees`' except to
OrderNotFound failed no test. Real ccxt `binanceusdm` against the emulator on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.records import Fee, VenueOrderStatus
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuTrade

BTC = "BTC/USDT:USDT"


def partly_filled(emu, gw):  # noqa: ANN001, ANN201
    """A resting buy of 0.01 of which the venue filled 0.004 (fee 0.0784 USDT)."""
    gw.load_markets()
    placed = gw.create_order(BTC, "limit", "buy", D("0.01"), D("49000"), {"clientOrderId": "k-1"})
    book = emu.venue.book
    with book.lock:
        order = book.find(cid="k-1")
        order.filled, order.avg = D("0.004"), D("49000")
        book.trades.append(EmuTrade(book.next_id(), order, D("49000"), D("0.004"), D("0.0784"),
                                    book.tick()))
    return placed, book


def test_a_cancel_of_a_partly_filled_order_comes_with_the_fee_of_its_fill(tmp_path):
    """Mutation audit: dropping the cancel's fee read (gateway.py `cancel_order`) failed no
    test; the actor then books the fill only after one more lookup of the order."""
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(), rate_limit_per_s=None)
    try:
        placed, book = partly_filled(emu, gw)
        done = gw.cancel_order(placed.id, BTC, {"clientOrderId": "k-1"})
        assert done.status is VenueOrderStatus.CANCELED and done.filled == D("0.004")
        assert done.fee == Fee(cost=D("0.0784"), currency="USDT")
        assert len(emu.hits("/fapi/v1/userTrades")) == 1
    finally:
        gw.close()
        emu.stop()


def test_a_cancel_of_a_partly_filled_order_is_done_though_its_fee_read_fails(tmp_path):
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(), rate_limit_per_s=None)
    try:
        placed, book = partly_filled(emu, gw)
        emu.venue.trades_refused["BTCUSDT"] = (-1001, "Internal error; unable to process your "
                                               "request. Please try again.")
        done = gw.cancel_order(placed.id, BTC, {"clientOrderId": "k-1"})
        assert done.status is VenueOrderStatus.CANCELED
        assert done.filled == D("0.004") and done.average == D("49000")
        assert done.fee is None  # unknown, never a partial or made-up one
        assert len(emu.hits("/fapi/v1/userTrades")) == gw.retry.max_attempts  # it was read
        assert len(emu.hits("/fapi/v1/order", "DELETE")) == 1  # cancelled once
        assert book.find(cid="k-1").status == "canceled"
    finally:
        gw.close()
        emu.stop()
