"""One funding row whose amount or rate is "NaN" no longer fails the account's funding read.

The funding feed reads every symbol's payments in one read (exchange/ccxt/funding.py) and a
row that cannot be read is skipped with one warning (README, Funding). A Bybit row whose
execFee or feeRate is "NaN" read as a Decimal NaN, and comparing it (which leg paid) raised
decimal.InvalidOperation out of the read, past the gateway's error translation: every read
failed while the row was in its window, and the feed's start never passed the row, so no
symbol's funding was booked again. Real ccxt bybit class against the emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.funding_feed import FundingFeed, FundingPaid
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuFunding
from tests.exchange.ccxt.emu_bybit import funding_row

BTC = "BTC/USDT:USDT"


class Kept:
    """Where the feed's reads start, kept in memory (the bot keeps it in its database)."""

    def __init__(self, since_ms: int) -> None:
        self.since_ms = since_ms

    def load(self) -> int | None:
        return self.since_ms

    def save(self, since_ms: int) -> None:
        self.since_ms = since_ms


@pytest.mark.parametrize("field", ["execFee", "feeRate"])
def test_a_funding_row_not_a_number_is_skipped_and_the_others_are_booked(field, tmp_path):
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        book = emu.venue.book
        book.place(cid="e-1", symbol="BTCUSDT", side="buy", type="market", qty=D("0.01"),
                   price=None, trigger=None, trigger_direction=None, reduce_only=False)
        since = book.now_ms
        book.settle_funding(D("0.0001"))  # BTC's long pays 0.01 x 50000 x 0.0001
        bad = funding_row(EmuFunding("77", "ETHUSDT", "net", D("0.5"), D("3000"),
                                     D("0.0001"), D("0.15"), book.tick()))
        emu.venue.forced.append({**bad, field: "NaN"})  # a position held by hand
        handed: list[tuple[str, D]] = []

        def deliver(symbol: str, message: FundingPaid) -> bool:
            handed.extend((symbol, p.fee) for p in message.payments)
            return True

        clock = FakeTime(book.now_ms / 1000 + 60)
        feed = FundingFeed(exchange=gw, symbols=[BTC], deliver=deliver, logger=logger,
                           interval_s=0, cursor=Kept(since), clock=clock.clock)
        assert feed.poll_once() == 1
        assert handed == [(BTC, D("0.05"))]
        said = [line for line in lines if "funding row skipped" in line]
        assert len(said) == 1 and "f77-ETHUSDT" in said[0], lines  # its id: to find it
    finally:
        logger.remove(sink)
        emu.stop()
