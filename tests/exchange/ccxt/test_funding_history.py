"""Funding payments read through the real ccxt classes from the venue emulators: one read for
every symbol, the fee's sign the same on both venues (positive paid), Decimal amounts, pages
followed, a malformed row skipped with one warning naming it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.funding_feed import FundingFeed, FundingPaid
from exchange.records import PositionSide
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def _open(book, symbol: str, side: str, qty: str, idx: int = 0) -> None:
    book.place(cid=f"c-{book.next_id()}", symbol=symbol, side=side, type="market", qty=D(qty),
               price=None, trigger=None, trigger_direction=None, reduce_only=False,
               extra={"positionIdx": idx, "positionSide": {0: "BOTH", 1: "LONG", 2: "SHORT"}[idx]})


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_long_pays_and_a_short_receives_a_positive_rate_in_one_read(venue, tmp_path):
    emu = start_emulator(venue)
    try:
        gw = make_gateway(venue, emu, tmp_path)
        gw.load_markets()
        book = emu.venue.book
        _open(book, "BTCUSDT", "buy", "0.01")  # long 0.01 x 50000 = 500 USDT
        _open(book, "ETHUSDT", "sell", "0.5")  # short 0.5 x 3000 = 1500 USDT
        since, wallet = book.now_ms, book.balance
        book.settle_funding(D("0.0001"))
        found = gw.fetch_funding_history(None, since)
        assert [(f.symbol, f.fee) for f in found] == [(BTC, D("0.05")), (ETH, D("-0.15"))]
        assert all(isinstance(f.fee, D) and f.timestamp > since for f in found)
        assert book.balance - wallet == -sum(f.fee for f in found)  # the wallet's change
        assert len({f.id for f in found}) == 2
        book.settle_funding(D("-0.0002"))  # a negative rate: the long receives, the short pays
        later = gw.fetch_funding_history(None, since)
        assert [f.fee for f in later] == [D("0.05"), D("-0.15"), D("-0.1"), D("0.3")]
        assert later[:2] == found  # the same ids and amounts read again (booked once upstream)
        assert [f.fee for f in gw.fetch_funding_history(ETH, since)] == [D("-0.15"), D("0.3")]
        gw.close()
    finally:
        emu.stop()


def test_bybit_hedge_legs_are_told_apart_by_the_rate_and_the_fee(tmp_path):
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path, hedge_mode=True)
        gw.load_markets()
        book = emu.venue.book
        book.hedge = True
        _open(book, "BTCUSDT", "buy", "0.02", idx=1)
        _open(book, "BTCUSDT", "sell", "0.01", idx=2)
        since = book.now_ms
        book.settle_funding(D("0.0001"))
        book.settle_funding(D("-0.0001"))
        sides = [(f.position_side, f.fee) for f in gw.fetch_funding_history(BTC, since)]
        assert sorted(sides) == sorted([
            (PositionSide.LONG, D("0.1")), (PositionSide.SHORT, D("-0.05")),
            (PositionSide.LONG, D("-0.1")), (PositionSide.SHORT, D("0.05"))])
        gw.close()
    finally:
        emu.stop()


def test_bybit_pages_are_followed_and_a_malformed_row_is_skipped_with_one_warning(tmp_path):
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path)
        gw.load_markets()
        book = emu.venue.book
        _open(book, "BTCUSDT", "buy", "0.01")
        since = book.now_ms
        for _ in range(120):  # more than one page of 100
            book.settle_funding(D("0.0001"))
        bad = {"symbol": "BTCUSDT", "execType": "Funding", "execId": "bad-1",
               "execTime": str(book.now_ms), "execFee": "n/a", "feeRate": "0.0001",
               "orderId": "", "orderLinkId": ""}
        emu.venue.forced.append(bad)
        found = gw.fetch_funding_history(None, since)
        assert len(found) == 120 and all(f.fee == D("0.05") for f in found)
        warned = [line for line in lines if "funding row skipped" in line]
        assert len(warned) == 1 and "bad-1" in warned[0]
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()


class Kept:
    """Where the feed's reads start, kept in memory (the bot keeps it in its database)."""

    def __init__(self, since_ms: int) -> None:
        self.since_ms = since_ms

    def load(self) -> int | None:
        return self.since_ms

    def save(self, since_ms: int) -> None:
        self.since_ms = since_ms


def test_bybit_more_payments_than_one_read_takes_are_all_handed_over_oldest_first(tmp_path):
    """Bybit lists newest first: a read its page limit cuts must not hand over the newest
    payments (the feed's next read would start after them, the older ones never read)."""
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path)
        gw.load_markets()
        book = emu.venue.book
        _open(book, "BTCUSDT", "buy", "0.01")
        since = book.now_ms
        for _ in range(2_150):  # more than 20 pages of 100
            book.settle_funding(D("0.0001"))
        venue_ids = [f"f{f.fid}-BTCUSDT" for f in book.fundings]
        clock = FakeTime(book.now_ms / 1000 + 60)
        handed: list[str] = []

        def deliver(symbol: str, message: FundingPaid) -> bool:
            handed.extend(p.record_id for p in message.payments)
            return True

        feed = FundingFeed(exchange=gw, symbols=[BTC], deliver=deliver, logger=logger,
                           interval_s=0, cursor=Kept(since), clock=clock.clock)
        for _ in range(4):
            feed.poll_once()
        assert handed == venue_ids  # each once, oldest first, none skipped
        gw.close()
    finally:
        emu.stop()
