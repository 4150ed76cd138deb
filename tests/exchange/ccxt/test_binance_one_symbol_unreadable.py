"""Binance reads own trades one symbol at a time (userTrades needs a symbol). One symbol whose
trades could not be read (an error answer for it, rows ccxt cannot parse) failed the whole fills
poll on every attempt: every other symbol's fills stalled with it, for as long as the one stayed
unreadable. The poll goes on with the others; the bad symbol is said once (naming it and what
was wrong), asked again after a growing wait, from where its unread fills start (the poll's
start moves on with the others' fills, never past the bad symbol's), so none of its fills is
lost once it reads again. A poll where every symbol failed still fails, as before.
Real gateway, real ccxt binanceusdm class, the Binance emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture
def emu():
    server = start_emulator("binanceusdm")
    yield server
    server.stop()


def _eth_reads(emu) -> int:
    return len([h for h in emu.hits("/fapi/v1/userTrades") if h.params.get("symbol") == "ETHUSDT"])


def test_one_unreadable_symbol_does_not_stall_the_others_and_loses_none(emu, tmp_path):
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    fake = FakeTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
        gw.load_markets()
        since = emu.venue.book.now_ms
        emu.venue.trades_refused["ETHUSDT"] = (-1121, "Invalid symbol.")
        gw.create_order(ETH, "market", "buy", D("0.01"), None, {"clientOrderId": "eth-1"})
        gw.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": "btc-1"})
        assert [f.client_order_id for f in gw.poll_updates(since)] == ["btc-1"]
        said = [line for line in lines if ETH in line]
        assert len(said) == 1 and "Invalid symbol" in said[0]
        # polls go on; the bad symbol waits before it is asked again, and is not said again
        reads = _eth_reads(emu)
        gw.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": "btc-2"})
        later = emu.venue.book.now_ms  # the feed's start moved past ETH's fill
        assert [f.client_order_id for f in gw.poll_updates(later)] == ["btc-2"]
        assert _eth_reads(emu) == reads
        fake.now += 30
        assert gw.poll_updates(later) == []
        assert _eth_reads(emu) > reads
        assert len([line for line in lines if ETH in line]) == 1
        # readable again: its fill from before the poll's start is delivered, once
        del emu.venue.trades_refused["ETHUSDT"]
        fake.now += 600
        assert [f.client_order_id for f in gw.poll_updates(later)] == ["eth-1"]
        fake.now += 600
        gw.create_order(ETH, "market", "sell", D("0.01"), None, {"clientOrderId": "eth-2"})
        assert [f.client_order_id for f in gw.poll_updates(later)] == ["eth-2"]
        gw.close()
    finally:
        logger.remove(sink)


def test_a_poll_where_every_symbol_failed_fails(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms
    emu.venue.trades_refused["ETHUSDT"] = (-1121, "Invalid symbol.")
    gw.create_order(ETH, "market", "buy", D("0.01"), None, {"clientOrderId": "eth-1"})
    with pytest.raises(errors.ExchangeError, match="Invalid symbol"):
        gw.poll_updates(since)
    gw.close()


def test_a_symbol_unreadable_for_over_a_week_has_every_fill_read_when_it_reads_again(
        emu, tmp_path):
    """userTrades answers one week from its startTime: read from where the symbol's unread
    fills start, only that week came back, and its later fills were never read."""
    book = emu.venue.book
    fake = FakeTime(book.now_ms / 1000)
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
    gw.load_markets()
    since = book.now_ms
    emu.venue.trades_refused["ETHUSDT"] = (-1121, "Invalid symbol.")
    gw.create_order(ETH, "market", "buy", D("0.01"), None, {"clientOrderId": "eth-1"})
    gw.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": "btc-1"})
    assert [f.client_order_id for f in gw.poll_updates(since)] == ["btc-1"]
    book.now_ms += 10 * 86_400_000  # ten days on: ETH still refused, a fill of it meanwhile
    fake.now = book.now_ms / 1000
    gw.create_order(ETH, "market", "sell", D("0.01"), None, {"clientOrderId": "eth-2"})
    gw.create_order(BTC, "market", "sell", D("0.001"), None, {"clientOrderId": "btc-2"})
    assert [f.client_order_id for f in gw.poll_updates(book.now_ms - 60_000)] == ["btc-2"]
    del emu.venue.trades_refused["ETHUSDT"]
    fake.now += 600
    got = gw.poll_updates(book.now_ms - 60_000)
    assert sorted(f.client_order_id for f in got) == ["eth-1", "eth-2"]
    gw.close()


def test_the_streams_gap_fill_reads_a_symbol_left_behind_without_waiting(emu, tmp_path):
    """Mutation audit (helper z): with the gap fill made to wait out a left-behind symbol's
    growing wait like any poll (own_fills._per_symbol, 'not gap'), no test failed. While the
    streams are up nothing but the gap fill and its recheck reads own trades, so a symbol
    left behind (5 s, then up to 300 s) had the fills of the outage read only at the next gap
    or the periodic reconciliation (300 s while the streams are up), its position meanwhile
    out of step with the venue."""
    fake = FakeTime()
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
    gw.load_markets()
    since = emu.venue.book.now_ms
    emu.venue.trades_refused["ETHUSDT"] = (-1121, "Invalid symbol.")
    gw.create_order(ETH, "market", "buy", D("0.01"), None, {"clientOrderId": "eth-1"})
    gw.create_order(BTC, "market", "buy", D("0.001"), None, {"clientOrderId": "btc-1"})
    assert [f.client_order_id for f in gw.poll_updates(since)] == ["btc-1"]  # ETH left behind
    del emu.venue.trades_refused["ETHUSDT"]  # readable again, well inside its wait
    fake.now += 1
    assert gw.poll_updates(since) == []  # a plain poll waits it out
    assert [f.client_order_id for f in gw.poll_updates(since, forced=True)] == ["eth-1"]
    gw.close()
