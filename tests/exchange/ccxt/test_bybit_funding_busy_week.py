"""Bybit lists funding payments newest first, 100 a page; one window of the read (at most a
week) follows at most BYBIT_MAX_PAGES (200) pages. A week with more payments (a hundred
positions on 1 h funding pay 16,800 a week) cut there: it held the newest and the oldest were
lost for good (the feed's next read starts after the newest), said only as "not read". The rest
of a cut window is read as a window of its own, ending at the oldest payment read: every
payment comes once. Real gateway, real ccxt bybit class, the Bybit emulator."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange.ccxt import funding
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuFunding


def test_bybit_a_week_with_more_payments_than_one_window_reads_is_read_whole(tmp_path):
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        book = emu.venue.book
        since = book.now_ms
        count = funding.BYBIT_MAX_PAGES * funding.BYBIT_PAGE + 150
        book.fundings += [EmuFunding(str(i), "BTCUSDT", "net", D("0.01"), D("50000"),
                                     D("0.0001"), D("0.05"), since + 1_000 + i * 10_000)
                          for i in range(count)]
        book.now_ms = since + 1_000 + count * 10_000
        fake = FakeTime(book.now_ms / 1000 + 60)
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()
        found = gw.fetch_funding_history(None, since)
        assert sorted(f.id for f in found) == sorted(f"f{i}-BTCUSDT" for i in range(count))
        assert not [line for line in lines if "not read" in line]
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
