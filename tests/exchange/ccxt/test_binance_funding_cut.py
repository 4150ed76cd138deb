"""Binance lists funding payments oldest first, 1,000 a page, and one read follows at most
MAX_PAGES (20) of them. A read cut there said nothing: the payments after its last page were
not read and nobody could tell (a restart after a long downtime with many positions on 1 h or
4 h funding). The cut is said, naming the range not read, and the feed's next read goes on from
the newest payment read, so every payment is handed over, each once. Real gateway, real ccxt
binanceusdm class, the Binance emulator, the real FundingFeed."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from actors.funding_feed import FundingFeed, FundingPaid
from exchange.ccxt import funding
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuFunding
from tests.exchange.ccxt.test_funding_history import Kept

BTC = "BTC/USDT:USDT"


def test_binance_a_read_cut_at_its_page_limit_is_said_and_the_next_read_goes_on(tmp_path):
    emu = start_emulator("binanceusdm")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        book = emu.venue.book
        since = book.now_ms
        count = funding.MAX_PAGES * funding.BINANCE_PAGE + 500
        book.fundings += [EmuFunding(str(i), "BTCUSDT", "net", D("0.01"), D("50000"),
                                     D("0.0001"), D("0.05"), since + 1_000 + i)
                          for i in range(count)]
        clock = FakeTime(book.now_ms / 1000 + 3_600)
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=clock)
        gw.load_markets()
        handed: list[str] = []

        def deliver(symbol: str, message: FundingPaid) -> bool:
            handed.extend(p.record_id for p in message.payments)
            return True

        feed = FundingFeed(exchange=gw, symbols=[BTC], deliver=deliver, logger=logger,
                           interval_s=0, cursor=Kept(since), clock=clock.clock)
        feed.poll_once()
        cut = [line for line in lines if "not read" in line]
        assert len(cut) == 1 and "binance funding" in cut[0]
        assert str(since + 1_000 + len(handed) - 1) in cut[0]  # where the rest starts
        assert len(handed) < count
        feed.poll_once()
        assert sorted(handed) == sorted(str(9_000_000 + i) for i in range(count))
        assert len([line for line in lines if "not read" in line]) == 1
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
