"""Bybit lists own trades newest first, 100 a page, and a read follows at most MAX_PAGES (50)
pages a window. A symbol with more than 5,000 executions in one week (a busy grid) cut there:
the window held its newest trades and its oldest were lost for good, said only as "some trades
were not read": a reconciliation reading the position's fills since it opened missed the
fills that built it. The rest of a cut window is read as a window of its own, ending at the
oldest trade read; every trade comes once. Real gateway, real ccxt bybit class, the Bybit
emulator; and the week walk against a venue with the one-week window (WeekVenue)."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange.ccxt import own_fills
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuTrade
from tests.exchange.ccxt.test_trades_week_windows import DAY_MS, WeekVenue

BTC = "BTC/USDT:USDT"


def test_bybit_more_trades_in_a_week_than_one_window_reads_are_all_read(tmp_path):
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        book = emu.venue.book
        since = book.now_ms
        order = book.place(cid="grid-1", symbol="BTCUSDT", side="buy", type="limit",
                           qty=D("1"), price=D("1"), trigger=None, trigger_direction=None,
                           reduce_only=False)
        count = own_fills.MAX_PAGES * own_fills.PAGE_ROWS["bybit"] + 150
        book.trades += [EmuTrade(book.next_id(), order, D("50000"), D("0.001"), D("0"),
                                 since + 1_000 + i * 60_000) for i in range(count)]
        book.now_ms = since + 1_000 + count * 60_000
        fake = FakeTime(book.now_ms / 1000 + 60)
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()
        fills = gw.fetch_my_trades(BTC, since)
        assert len(fills) == count and len({f.id for f in fills}) == count
        assert not [line for line in lines if "not read" in line]
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()


def test_bybit_a_cut_week_in_the_past_is_read_to_its_start():
    start = 1_700_000_000_000
    rows = own_fills.MAX_PAGES * own_fills.PAGE_ROWS["bybit"] + 700
    times = [start + DAY_MS + i * 60_000 for i in range(rows)] + [start + 20 * DAY_MS]
    venue = WeekVenue("bybit", times, start + 21 * DAY_MS)
    got = own_fills.merged([own_fills.since_windows(venue.fetch, "bybit", start,
                                                    start + 21 * DAY_MS)])
    assert sorted(int(t["id"]) for t in got) == list(range(1, len(times) + 1))
